/**
 * A shared queue declared before `x-max-priority` was added (or with another max_priority)
 * on RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL): the broker refuses the redeclare
 * (PRECONDITION_FAILED). The acdc tree still starts: one error line names the queue and the
 * fix, the queue's manager runs, no worker is started (none crash-loops), and the callers
 * already in the queue stay there. Skipped with one loud line when the broker is absent.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { Runtime, Supervisor } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport } from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import { acdcSharedQueue } from '../../../src/api/index.ts';
import { acdcTree, ACDC_SUP } from '../../../supervisors/acdc.sup.ts';
import { fsmName } from '../../../apps/acdc/worker.ts';
import { managerName } from '../../../apps/acdc/manager.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('acdc shared queue declared with other arguments (RabbitMQ)', () => {
  it('logs the queue and the fix, runs the manager, starts no workers, keeps the waiting callers', async () => {
    const { logger, lines } = memoryLogger('acdc-shared-queue@localhost', 'info');
    const bus = createTransport({
      url: RABBITMQ_URL,
      logger,
      namePrefix: `fife-acdc-${randomBytes(3).toString('hex')}`,
    });
    await bus.start();
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
    const accountId = randomBytes(16).toString('hex');
    const queue = acdcSharedQueue(accountId, 'sales');
    // As an older Fife declared it: durable, no x-max-priority; one caller waiting in it.
    await bus.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false });
    await bus.publish('', queue, Buffer.from(JSON.stringify({ 'Event-Name': 'member_call' })));
    const rt = new Runtime({ node: 'acdc-shared-queue@localhost', logger });
    try {
      const r = await Supervisor.start(
        rt,
        acdcTree({
          bus,
          node: rt.node,
          settings: {
            account_id: accountId,
            queues: [{ id: 'sales', workers: 2, max_priority: 10 }],
            agents: [{ id: 'a', queues: ['sales'] }],
          },
        }),
        { name: ACDC_SUP },
      );
      expect(r.type).toBe('ok');
      const refused = lines.filter((l) => l.level === 50 && String(l.msg).includes(`shared queue ${queue}`));
      expect(refused).toHaveLength(1);
      expect(String(refused[0]!.msg)).toMatch(/max_priority.*delete_queue/);
      expect(rt.whereis(managerName('sales'))).toBeDefined();
      expect(rt.whereis(fsmName('sales', 0))).toBeUndefined();
      expect((await bus.checkQueue(queue)).messageCount).toBe(1);
      if (r.type === 'ok') {
        const exited = rt.awaitExit(r.pid);
        rt.exit(r.pid, 'shutdown');
        await exited;
      }
    } finally {
      await rt.shutdown();
      await bus.deleteQueue(queue).catch(() => undefined);
      await bus.close();
    }
  });
});
