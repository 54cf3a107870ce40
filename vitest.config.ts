import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Service-bound suites (RabbitMQ, CouchDB stand-in, Kamailio) share machine-wide
    // resources; files run in parallel but each file's tests run in order.
    fileParallelism: true,
    pool: 'forks',
  },
});
