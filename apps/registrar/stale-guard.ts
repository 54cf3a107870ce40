/**
 * Guards the responders of a gen_listener whose process may be crashed by fault injection.
 * gen_listener cancels a dead process's consumer, but asynchronously: a message already
 * delivered to it in that gap must not be handled with a dead incarnation's state. `liveOnly(holder, handler)` captures the holder's generation when the
 * listener starts (its `listen`); when a message reaches a consumer of an older
 * generation, that consumer stops itself and the message is either handed back (acked
 * queues: nack, requeue) or, on a no-ack queue where it cannot be given back, handled with
 * the current core when there is one. Nothing is dropped unlogged.
 */
import type { Envelope, HandlerContext } from '../../src/bus/index.ts';

export interface Generation {
  generation: number;
}

export function liveOnly<H extends Generation>(holder: H, acked: boolean, usable: () => boolean, h: (m: Envelope, ctx: HandlerContext) => Promise<void>) {
  const gen = holder.generation;
  return (m: Envelope, ctx: HandlerContext): Promise<void> | void => {
    if (holder.generation === gen && usable()) return h(m, ctx);
    void ctx.listener.stop();
    if (acked) {
      ctx.delivery.nack(true);
      ctx.log.warn({ queue: ctx.queue }, 'consumer of a previous incarnation handed a message back and stops');
      return;
    }
    ctx.log.warn({ queue: ctx.queue }, 'consumer of a previous incarnation stops (message handled with the current state)');
    if (usable()) return h(m, ctx);
    ctx.log.error({ queue: ctx.queue, what: `${String(m['Event-Category'])}/${String(m['Event-Name'])}` }, 'message lost: no current registrar state to handle it');
  };
}
