/**
 * cf_route: the callflow app's router (Kazoo's cf_route_req + cf_route_win), a
 * gen_listener registered as `callflow_route` on an anonymous queue bound to `callmgr` /
 * `route.req.audio.#`.
 *
 * Contract
 * - route_req: the account comes from Custom-Channel-Vars Account-ID, else from the
 *   realm of From (accounts/listing_by_realm); the number is the user part of Request
 *   (else To). The callflow is looked up through callflow_cache (number, then patterns,
 *   then no_match). Found (even one that fails its check: the caller then hears the
 *   error prompt): the call is remembered in this process for the route_win (at most
 *   `routeWinTimeoutMs`, default 3000) and answered with route_resp `Method: park`,
 *   `Routes: []`, Server-ID = this queue. Not found, or no account: no answer (another
 *   app may route the call), one log line.
 * - route_win (to this queue): the remembered call gets its executor (exe.ts) under
 *   `callflow_exe_sup`, with the Control-Queue of the route_win. A route_win for a call
 *   not remembered (expired, or another node's) is logged and dropped.
 * - The look-up runs beside the mailbox (a responder); the remembered calls are this
 *   process's state, changed only by its casts and timers.
 */
import { GenServer, Supervisor, noreply, ok, type ChildSpec, type Ref } from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build, type BuildContext } from '../../src/api/index.ts';
import type { BusTransport, Envelope } from '../../src/bus/index.ts';
import { cfAccount, cfLookup } from './cache.ts';
import type { CallInfo } from './call.ts';
import type { ExeArgs } from './exe.ts';
import type { Found } from './lookup.ts';

export const CF_ROUTE = 'callflow_route';
export const CF_EXE_SUP = 'callflow_exe_sup';

export interface RouteArgs {
  readonly bus: BusTransport;
  readonly ctx: BuildContext;
  readonly routeWinTimeoutMs: number;
}

interface Pending {
  readonly info: Omit<CallInfo, 'controlQueue'>;
  readonly found: Found;
  readonly timer: Ref;
}

interface State {
  readonly a: RouteArgs;
  readonly pending: Map<string, Pending>;
}

type Cast =
  | { op: 'pending'; callId: string; info: Omit<CallInfo, 'controlQueue'>; found: Found }
  | { op: 'win'; msg: Envelope };

const userOf = (v: unknown): string => (typeof v === 'string' ? (v.split('@')[0] ?? '') : '');
const realmOf = (v: unknown): string => (typeof v === 'string' ? (v.split('@')[1] ?? '') : '');
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const Route: GenListenerBehaviour<State, RouteArgs, never, Cast> = {
  name: CF_ROUTE,
  init: (a) => ok({ a, pending: new Map() }),
  listen: (a) => ({
    queue: '',
    bindings: [{ exchange: 'callmgr', routingKey: 'route.req.audio.#' }],
    responders: [
      {
        category: 'dialplan',
        name: 'route_req',
        handler: async (m, hctx) => {
          const callId = String(m['Call-ID']);
          const log = hctx.log.child({ call_id: callId });
          const ccv = (m['Custom-Channel-Vars'] ?? {}) as Record<string, unknown>;
          const account = await cfAccount(hctx.runtime, {
            accountId: str(ccv['Account-ID']) ?? str(m['Account-ID']),
            realm: realmOf(m.From),
          });
          const number = userOf(m.Request) || userOf(m.To);
          if (account === undefined) {
            log.info({ from: m.From }, 'callflow: no account for the call; not routing it');
            return;
          }
          const found = await cfLookup(hctx.runtime, account.accountDb, number);
          if (found === undefined) {
            log.info({ number, account: account.accountId }, 'callflow: no callflow for the number');
            return;
          }
          log.info(
            { number, callflow: found.docId, matched_by: found.matchedBy, valid: !('problem' in found.flow) },
            'callflow: found',
          );
          const info = {
            callId,
            accountId: account.accountId,
            accountDb: account.accountDb,
            number,
            callerIdNumber: str(m['Caller-ID-Number']),
            callerIdName: str(m['Caller-ID-Name']),
          };
          // Remembered before the answer, so the route_win always finds it.
          GenServer.cast(hctx.runtime, hctx.server, { op: 'pending', callId, info, found } satisfies Cast);
          await hctx.reply(
            build(
              'route_resp',
              { 'Msg-ID': m['Msg-ID'], 'Server-ID': hctx.queue, Method: 'park', Routes: [] },
              a.ctx,
            ) as unknown as Envelope,
          );
        },
      },
      {
        category: 'dialplan',
        name: 'route_win',
        handler: (m, hctx) => {
          GenServer.cast(hctx.runtime, hctx.server, { op: 'win', msg: m as Envelope } satisfies Cast);
        },
      },
    ],
  }),
  handleCast(c, s, ctx) {
    if (c.op === 'pending') {
      const timer = ctx.sendAfter(s.a.routeWinTimeoutMs, { type: 'route_win_timeout', callId: c.callId });
      s.pending.set(c.callId, { info: c.info, found: c.found, timer });
      return noreply(s);
    }
    const callId = String(c.msg['Call-ID']);
    const p = s.pending.get(callId);
    if (p === undefined) {
      ctx.log.warn({ call_id: callId }, 'callflow: route_win for a call not waiting for one');
      return noreply(s);
    }
    s.pending.delete(callId);
    ctx.cancelTimer(p.timer);
    const args: ExeArgs = {
      info: { ...p.info, controlQueue: String(c.msg['Control-Queue']) },
      flow: p.found.flow,
      bus: s.a.bus,
      ctx: s.a.ctx,
    };
    Supervisor.startChild(ctx.runtime, CF_EXE_SUP, [args]).then(
      (r) => {
        if ((r as { type?: string }).type !== 'ok')
          ctx.log.error({ call_id: callId, result: r }, 'callflow: executor did not start');
      },
      (err: unknown) => ctx.log.error({ call_id: callId, err }, 'callflow: executor did not start'),
    );
    return noreply(s);
  },
  handleInfo(msg, s, ctx) {
    const m = msg as { type?: string; callId?: string };
    if (m.type === 'route_win_timeout' && m.callId !== undefined) {
      if (s.pending.delete(m.callId)) ctx.log.info({ call_id: m.callId }, 'callflow: no route_win in time');
      return noreply(s);
    }
    return noreply(s);
  },
};

export const routeChildSpec = (a: RouteArgs): ChildSpec =>
  GenListener.childSpec('callflow_route', Route, a, {
    transport: a.bus,
    name: CF_ROUTE,
    shutdown: 5000,
    appName: 'callflow',
  });
