/**
 * reg_authn: the registrar's gen_listener for the questions: authn_req (both Kamailio
 * namings) and reg_query, answered from reg_server's core (cache, registration table).
 *
 * Contract
 * - Queue: the named, shared `settings.queue` (Kazoo's `registrar_listener`), not
 *   auto-deleted: requests published while the registrar restarts wait for it. Consumed
 *   without acks as Kazoo does (answers are idempotent; a request in flight in a registrar
 *   that dies is lost and the proxy asks again after its timeout); with settings
 *   `authn_ack: true` each is acked once answered and redelivered after such a death.
 *   Bindings: callmgr `authn.req.*`, registrar `authn.endpoint.req.*`,
 *   `registration.query.*.*`.
 * - Responders: authn_req (authn-handler.ts), reg_query (reg-query-handler.ts).
 * - It starts after reg_server (rest_for_one): when reg_server restarts with a new core,
 *   reg_authn restarts too. A consumer left by its own crash stops at its next message
 *   (stale-guard.ts).
 */
import { ok, noreply } from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { authnEndpointReqKey, authnReqKey, regQueryKey, type BuildContext } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import { handleAuthnReq, transportPublisher, type ReplyPublisher } from './authn-handler.ts';
import { handleRegQuery } from './reg-query-handler.ts';
import { requireCore, type RegServerArgs } from './reg-server.ts';
import type { RegistrarCore } from './core.ts';
import { liveOnly } from './stale-guard.ts';

export const REG_AUTHN = 'reg_authn';

/** reg_authn's arguments: reg_server's (for its core) and a generation of its own. */
export class RegAuthnArgs {
  generation = 0;
  readonly publish: ReplyPublisher;
  constructor(
    readonly shared: RegServerArgs,
    transport: BusTransport,
  ) {
    this.publish = transportPublisher(transport);
  }
}

export const RegAuthn: GenListenerBehaviour<null, RegAuthnArgs> = {
  name: REG_AUTHN,
  init(args, ctx) {
    ctx.trapExit(true);
    args.generation++;
    requireCore(args.shared);
    return ok(null);
  },
  listen(args) {
    const shared = args.shared;
    let cached: { core: RegistrarCore; ctx: BuildContext } | undefined;
    const buildCtx = (core: RegistrarCore): BuildContext => {
      if (cached?.core !== core) cached = { core, ctx: { appName: 'registrar', appVersion: shared.appVersion, node: core.nodeName } };
      return cached.ctx;
    };
    const usable = () => shared.core !== undefined;
    return {
      queue: shared.settings.queue,
      queueOptions: { autoDelete: false },
      selfBinding: false,
      ackMode: shared.settings.authnAck ? 'after-handlers' : 'auto',
      prefetch: shared.settings.prefetch,
      concurrency: shared.settings.concurrency,
      bindings: [
        { exchange: 'callmgr', routingKey: authnReqKey('*') },
        { exchange: 'registrar', routingKey: authnEndpointReqKey('*') },
        { exchange: 'registrar', routingKey: regQueryKey('*', '*') },
      ],
      responders: [
        {
          category: 'directory', name: 'authn_req',
          handler: liveOnly(args, shared.settings.authnAck, usable, (m, ctx) => {
            const core = requireCore(shared);
            return handleAuthnReq(core.credentialDeps, buildCtx(core), args.publish, m, ctx);
          }),
        },
        {
          category: 'directory', name: 'reg_query',
          handler: liveOnly(args, shared.settings.authnAck, usable, (m, ctx) => {
            const core = requireCore(shared);
            return handleRegQuery(core.table, () => core.age, buildCtx(core), m, ctx);
          }),
        },
      ],
    };
  },
  handleInfo: (_m, s) => noreply(s),
};

export function regAuthnChildSpec(args: RegAuthnArgs, transport: BusTransport) {
  return GenListener.childSpec(REG_AUTHN, RegAuthn, args, { transport, name: REG_AUTHN, appName: 'registrar', appVersion: args.shared.appVersion, shutdown: 10_000 });
}
