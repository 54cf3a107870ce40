/**
 * originate listener: one per node (Kazoo's ecallmgr resource listener for
 * `originate.resource.req`). Consumes originate_req from the shared queue
 * `ecallmgr_originate_req` (bound to `callmgr` / `originate.resource.req`: with several
 * ecallmgr nodes each request is taken by one of them) and starts one originate process
 * per request under ecallmgr_originate_sup (originate.ts).
 *
 * Contract
 * - Every delivery is decoded and validated against the catalogue first: an invalid
 *   originate_req is logged (`listener: invalid message dropped`, with the reason) and
 *   answered to its Server-ID with Kazoo's error (Event-Name originate_resp, Error-Message
 *   naming the headers); nothing is started for it.
 * - A valid one starts an originate process; if the supervisor refuses, the requester gets
 *   an error and the refusal is logged. The listener keeps no state of the originates.
 * - Its consumer is cancelled however the process ends.
 */
import { Supervisor, ok, type GenServerBehaviour, type Logger } from '../../src/kernel/index.ts';
import { ORIGINATE_REQ_KEY, build, errorReplyFields } from '../../src/api/index.ts';
import { busDecoder, busValidator } from '../../src/api/bus-adapters.ts';
import { ListenerCore, type Envelope, type ListenerOptions } from '../../src/bus/index.ts';
import { buildContext, names, publish, type EcallmgrEnv } from './context.ts';
import type { OriginateArgs } from './originate.ts';

export const ORIGINATE_QUEUE = 'ecallmgr_originate_req';

export interface OriginateListenerArgs {
  readonly env: EcallmgrEnv;
}

interface State {
  readonly core: ListenerCore;
  readonly log: Logger;
}

/** Kazoo's originate error: error / originate_resp. */
const originateError = (env: EcallmgrEnv, request: unknown, message: string): Record<string, unknown> => ({
  ...errorReplyFields(request, message),
  'Event-Name': 'originate_resp',
});

export const OriginateListener: GenServerBehaviour<State, OriginateListenerArgs> = {
  name: 'ecallmgr_originate_listener',

  async init({ env }, ctx) {
    const log = ctx.log;
    const rt = ctx.runtime;
    const core = new ListenerCore({
      transport: env.bus,
      logger: log,
      name: 'originate_listener',
      queue: ORIGINATE_QUEUE,
      bindings: [{ exchange: 'callmgr', routingKey: ORIGINATE_REQ_KEY }],
      selfBinding: false,
      exclusiveConsumer: false,
      decode: busDecoder({ maxBytes: 1 << 20 }) as ListenerOptions['decode'],
      validate: busValidator as ListenerOptions['validate'],
      errorReply: (request, reason) =>
        build('error', originateError(env, request, reason), buildContext(env)) as unknown as Envelope,
      responders: [
        {
          category: 'resource',
          name: 'originate_req',
          handler: async (req) => {
            const r = await Supervisor.startChild(rt, names.originates, [
              { req, env } satisfies OriginateArgs,
            ]);
            if (r.type === 'ok') return;
            const reason = String((r as { reason?: unknown }).reason);
            log.error({ reason, msg_id: req['Msg-ID'] }, 'originate process failed to start');
            const to = req['Server-ID'];
            if (typeof to === 'string' && to !== '')
              await publish(
                env,
                'error',
                originateError(env, req, `originate could not start: ${reason}`),
                to,
              );
          },
        },
      ],
    });
    void rt.awaitExit(ctx.self).then(() => core.stop().catch(() => undefined));
    await core.start();
    return ok({ core, log });
  },

  describe: (s) => ({ queue: s.core.queue }),
};
