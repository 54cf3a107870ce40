import { defineConfig } from 'vitest/config';

/**
 * Two groups, run one after the other:
 * - `unit`: everything that uses only in-process parts or services it starts for itself
 *   on ephemeral ports; files run in parallel.
 * - `rabbitmq`: files that share the machine's RabbitMQ (*.rabbitmq.test.ts). They run one
 *   file at a time, after the unit group, because the bus fault tests stop and start the
 *   broker app and would pull it from under any other file.
 */
const shared = { testTimeout: 30_000, hookTimeout: 60_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.rabbitmq.test.ts', '**/node_modules/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'rabbitmq',
          include: ['test/**/*.rabbitmq.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
