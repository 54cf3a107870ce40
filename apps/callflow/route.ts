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
 * - The look-up runs beside the mailbox (a responder; the cache's fast table answers it
 *   without a message when it can); the remembered calls are this process's state,
 *   changed only by its casts and timers. One timer serves them all (they wait in
 *   arrival order, so the oldest expires first), not one per call.
 */
import {
  GenServer,
  Supervisor,
  noreply,
  ok,
  type ChildSpec,
  type ProcessContext,
  type Ref,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build, type BuildContext } from '../../src/api/index.ts';
import { jsonProperties, type BusTransport, type Envelope } from '../../src/bus/index.ts';
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
  /** Date.now() past which no route_win is waited for. */
  readonly deadline: number;
}

interface State {
  readonly a: RouteArgs;
  /** In arrival order, hence in deadline order (one timeout for all). */
  readonly pending: Map<string, Pending>;
  /** The sweep timer, armed while something waits. */
  sweep?: Ref;
}

/** Drops the calls whose deadline passed; re-arms the timer for the oldest left. */
function sweep(s: State, ctx: ProcessContext): void {
  const now = Date.now();
  s.sweep = undefined;
  for (const [callId, p] of s.pending) {
    if (p.deadline > now) {
      s.sweep = ctx.sendAfter(p.deadline - now, { type: 'route_win_sweep' });
      return;
    }
    s.pending.delete(callId);
    ctx.log.info({ call_id: callId }, 'callflow: no route_win in time');
  }
}

type Cast =
  | { op: 'pending'; callId: string; info: Omit<CallInfo, 'controlQueue'>; found: Found }
  | { op: 'win'; msg: Envelope };

const userOf = (v: unknown): string => (typeof v === 'string' ? (v.split('@')[0] ?? '') : '');
const realmOf = (v: unknown): string => (typeof v === 'string' ? (v.split('@')[1] ?? '') : '');
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The park route_resp for this queue: built (and checked against the catalogue) once per
 * queue, then only the Msg-ID changes (as the registrar's authn_resp).
 */
const parkTemplates = new WeakMap<BuildContext, Map<string, { head: string; tail: string }>>();
const MSG_ID_MARK = 'fife-route-msg-id-mark';
function parkBody(queue: string, ctx: BuildContext, msgId: unknown): string {
  let perQueue = parkTemplates.get(ctx);
  if (perQueue === undefined) parkTemplates.set(ctx, (perQueue = new Map()));
  let tpl = perQueue.get(queue);
  if (tpl === undefined) {
    const built = build(
      'route_resp',
      { 'Msg-ID': MSG_ID_MARK, 'Server-ID': queue, Method: 'park', Routes: [] },
      ctx,
    );
    const [head, tail] = JSON.stringify(built).split(JSON.stringify(MSG_ID_MARK)) as [string, string];
    perQueue.clear(); // a new queue (after a restart): the old one answers no more
    perQueue.set(queue, (tpl = { head, tail }));
  }
  return tpl.head + JSON.stringify(String(msgId)) + tpl.tail;
}

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
          // call_id on each line rather than a child logger per request (pino's child costs
          // more than the look-up itself, and these lines are info: off in production).
          const log = hctx.log;
          const ccv = (m['Custom-Channel-Vars'] ?? {}) as Record<string, unknown>;
          const account = await cfAccount(hctx.runtime, {
            accountId: str(ccv['Account-ID']) ?? str(m['Account-ID']),
            realm: realmOf(m.From),
          });
          const number = userOf(m.Request) || userOf(m.To);
          if (account === undefined) {
            log.info({ call_id: callId, from: m.From }, 'callflow: no account for the call; not routing it');
            return;
          }
          const found = await cfLookup(hctx.runtime, account.accountDb, number);
          if (found === undefined) {
            log.info(
              { call_id: callId, number, account: account.accountId },
              'callflow: no callflow for the number',
            );
            return;
          }
          log.info(
            {
              call_id: callId,
              number,
              callflow: found.docId,
              matched_by: found.matchedBy,
              valid: !('problem' in found.flow),
            },
            'callflow: found',
          );
          const info = {
            callId,
            accountId: account.accountId,
            accountDb: account.accountDb,
            number,
            callerIdNumber: str(m['Caller-ID-Number']),
            callerIdName: str(m['Caller-ID-Name']),
            customChannelVars: ccv,
          };
          // Remembered before the answer, so the route_win always finds it.
          GenServer.cast(hctx.runtime, hctx.server, { op: 'pending', callId, info, found } satisfies Cast);
          const to = m['Server-ID'];
          if (typeof to !== 'string' || to === '') {
            log.warn({ call_id: callId }, 'callflow: route_req without Server-ID: nobody to answer');
            return;
          }
          await a.bus.publish('targeted', to, parkBody(hctx.queue, a.ctx, m['Msg-ID']), jsonProperties());
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
      // A repeated route_req for a call moves it to the young end with a new deadline.
      s.pending.delete(c.callId);
      s.pending.set(c.callId, { info: c.info, found: c.found, deadline: Date.now() + s.a.routeWinTimeoutMs });
      s.sweep ??= ctx.sendAfter(s.a.routeWinTimeoutMs, { type: 'route_win_sweep' });
      return noreply(s);
    }
    const callId = String(c.msg['Call-ID']);
    const p = s.pending.get(callId);
    if (p === undefined) {
      ctx.log.warn({ call_id: callId }, 'callflow: route_win for a call not waiting for one');
      return noreply(s);
    }
    s.pending.delete(callId);
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
    if ((msg as { type?: string }).type === 'route_win_sweep') sweep(s, ctx);
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
