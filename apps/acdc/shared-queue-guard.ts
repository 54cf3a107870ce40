/**
 * The workers' supervisor of a queue starts only when its shared queue can be declared as
 * configured. RabbitMQ refuses to redeclare a queue with other arguments
 * (PRECONDITION_FAILED), e.g. a shared queue declared before `x-max-priority` was added, or
 * with another `max_priority`: each worker would then fail its start, and the queue's
 * supervisors restart until the app gives up (a crash loop).
 *
 * Contract
 * - `sharedQueueGuard(env, queueId, maxPriority, spec)`: a supervisor init callback that
 *   declares `acdc.queue.<account>.<queue>` (durable, x-max-priority when > 0, as the
 *   workers do) and returns `spec`. Refused with PRECONDITION_FAILED: one error line naming
 *   the queue and the fix, and `ignore` (no workers on this node for that queue; the
 *   manager and agents run on; the queue's callers stay in the shared queue until it is
 *   fixed and the queue restarted). Any other failure is thrown (the start fails as
 *   before: the bus down is worth a restart).
 */
import type { SupervisorInit, SupervisorSpec } from '../../src/kernel/index.ts';
import { BusChannelError } from '../../src/bus/index.ts';
import { acdcSharedQueue } from '../../src/api/index.ts';
import type { AcdcEnv } from './send.ts';

export function sharedQueueGuard(
  env: AcdcEnv,
  queueId: string,
  maxPriority: number,
  spec: SupervisorSpec,
): SupervisorInit {
  return async (ctx) => {
    const queue = acdcSharedQueue(env.accountId, queueId);
    try {
      await env.bus.assertQueue(queue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
        ...(maxPriority > 0 ? { maxPriority } : {}),
      });
      return spec;
    } catch (err) {
      if (!(err instanceof BusChannelError) || err.reason !== 'PRECONDITION_FAILED') throw err;
      ctx.log.error(
        { err, queue_id: queueId, queue, max_priority: maxPriority },
        `acdc queue: the shared queue ${queue} exists with other arguments (x-max-priority); ` +
          `no workers on this node. Fix: set the queue's max_priority to the existing value, or delete ` +
          `the queue (rabbitmqctl delete_queue ${queue}; its waiting callers with it) and restart the acdc app`,
      );
      return { type: 'ignore' };
    }
  };
}
