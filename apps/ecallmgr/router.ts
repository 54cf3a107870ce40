/**
 * router: one per switch (Kazoo's ecallmgr_fs_route + fs_router_call). A new parked call
 * becomes a route_req; the winner gets route_win and the call its processes.
 *
 * Contract
 * - `{type:'park', ev}` (from the node connection, once per new call): publishes route_req
 *   on `callmgr` (routing key by account or realm/user, catalogue's routeReqKey) through
 *   its own reply queue, and collects route_resp replies for fetchTimeoutMs or until a
 *   decisive winner (route-winner.ts: first actionable non-deferred reply; else the first
 *   deferred one when the time is up). Routing runs beside the mailbox, so one slow call
 *   never holds up the next; it changes nothing of the router's state: its outcome comes
 *   back to the router as a `{type:'routed', callId, outcome}` message, and the router
 *   counts it there (a routing that outlives its router incarnation reports to a dead
 *   pid, and nothing is counted).
 * - Winner with Method error: the call is hung up with its Route-Error-Code as the cause
 *   (default CALL_REJECTED). No winner: hung up with NO_ROUTE_DESTINATION (FreeSWITCH's
 *   fall-through), logged at warn. Any other Method: a per-call supervisor is started
 *   under ecallmgr_calls_sup (call_events, then call_control, which sends route_win to
 *   the winner's Server-ID with CCVs Application-Name / Application-Node of the winner;
 *   Method bridge: its Routes, which call_control dials as the call's first command).
 *   A winner without Server-ID is logged and the call hung up.
 *   The call's route_req goes to its call_control too (`routeReq`), for a re-route.
 * - `{type:'reroute', callId, req, round, control}` (from a call's call_control, whose
 *   route_win came back unroutable: the winner's queue is gone): the same route_req (a new
 *   Msg-ID; every other field, Custom-Channel-Vars Fetch-ID included, as before) is
 *   published again beside the mailbox and its replies picked as above. Error, no winner or
 *   no Server-ID: the call is hung up as above. A winner: `{type:'rerouted', round,
 *   controller, ccvs, routes}` goes to `control`, which sends it route_win. Its outcome
 *   comes back as `routed` too (`rerouted`: the call is not counted twice).
 * - Failures (bus down, supervisor refusing) are logged with the call-id; the router
 *   carries on. Every log line about a call carries its call_id.
 */
import { randomUUID } from 'node:crypto';
import {
  Supervisor,
  noreply,
  ok,
  unexpected,
  type GenServerBehaviour,
  type Logger,
  type NoReplyResult,
  type Pid,
  type ProcessContext,
  type Runtime,
} from '../../src/kernel/index.ts';
import { build, destination, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import { CollectTimeoutError, Requester, type Envelope } from '../../src/bus/index.ts';
import type { EslEvent } from '../../src/switch/index.ts';
import { buildContext, names, type EcallmgrEnv, type SwitchLink } from './context.ts';
import { switchOp } from './node-ops.ts';
import { isActionable, pickWinner } from './route-winner.ts';
import { routeReqFields } from './route-req.ts';

export interface RouterArgs {
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
}

/** A call_control whose route_win came back asks for another round (call-control.ts). */
export interface RerouteMsg {
  readonly type: 'reroute';
  readonly callId: string;
  readonly req: Envelope;
  readonly round: number;
  readonly control: Pid;
}

/** The answer to a RerouteMsg with a winner (no winner: the call is hung up). */
export interface ReroutedMsg {
  readonly type: 'rerouted';
  readonly round: number;
  readonly controller: string;
  readonly ccvs: Record<string, unknown>;
  readonly routes: readonly unknown[] | undefined;
}

type Msg =
  | { type: 'park'; ev: EslEvent }
  | RerouteMsg
  | { type: 'routed'; callId: string | undefined; outcome: Outcome | undefined };

interface State {
  readonly a: RouterArgs;
  readonly rt: Runtime;
  readonly requester: Requester;
  inFlight: number;
  routed: number;
}

async function collect(s: State, req: Envelope, log: Logger): Promise<Envelope | undefined> {
  const d = destination('route_req', req as ApiEnvelope);
  try {
    const replies = await s.requester.callCollect(
      req,
      { exchange: d.exchange, routingKey: d.routingKey },
      {
        timeoutMs: s.a.env.settings.fetchTimeoutMs,
        validate: isActionable,
        until: (rs) => pickWinner(rs)?.decisive === true,
      },
    );
    return pickWinner(replies)?.winner;
  } catch (err) {
    if (err instanceof CollectTimeoutError) return pickWinner(err.replies as Envelope[])?.winner;
    log.error({ err: String(err) }, 'route_req could not be published');
    return undefined;
  }
}

/** 'rerouted': a call routed again (counted once, when first routed). */
type Outcome = 'routed' | 'rerouted' | 'hungup';

async function hangup(s: State, callId: string, cause: string, log: Logger): Promise<Outcome> {
  try {
    await switchOp(s.rt, s.a.link, { kind: 'hangup', callId, cause });
  } catch (err) {
    log.warn({ err: String(err), cause }, 'could not hang up the unrouted call');
  }
  return 'hungup';
}

/** What one route_req round decided: hang the call up, or who controls it. */
type Decision =
  | { kind: 'hangup'; cause: string }
  | {
      kind: 'win';
      controller: string;
      ccvs: Record<string, unknown>;
      routes: readonly unknown[] | undefined;
      app: unknown;
      method: unknown;
    };

/** One route_req round: publishes `req`, picks the winner (logged when there is none). */
async function routeRound(s: State, req: Envelope, log: Logger): Promise<Decision> {
  const { env } = s.a;
  const winner = await collect(s, req, log);
  if (winner === undefined) {
    log.warn(
      { timeout_ms: env.settings.fetchTimeoutMs },
      'no app routed the call: hanging up NO_ROUTE_DESTINATION',
    );
    return { kind: 'hangup', cause: 'NO_ROUTE_DESTINATION' };
  }
  if (winner.Method === 'error') {
    const cause =
      typeof winner['Route-Error-Code'] === 'string' && /^[A-Z_]+$/.test(winner['Route-Error-Code'])
        ? winner['Route-Error-Code']
        : 'CALL_REJECTED';
    log.info({ app: winner['App-Name'], cause }, 'route_resp error: hanging up');
    return { kind: 'hangup', cause };
  }
  const controller = winner['Server-ID'];
  if (typeof controller !== 'string' || controller === '') {
    log.error(
      { app: winner['App-Name'] },
      'winning route_resp has no Server-ID: nobody to send route_win to; hanging up',
    );
    return { kind: 'hangup', cause: 'NO_ROUTE_DESTINATION' };
  }
  const ccvs = {
    ...(req['Custom-Channel-Vars'] as object),
    ...((winner['Custom-Channel-Vars'] as object | undefined) ?? {}),
    'Application-Name': winner['App-Name'],
    'Application-Node': winner.Node,
  };
  return {
    kind: 'win',
    controller,
    ccvs,
    routes: winner.Method === 'bridge' && Array.isArray(winner.Routes) ? winner.Routes : undefined,
    app: winner['App-Name'],
    method: winner.Method,
  };
}

/** Routes one parked call; reads the router's state, never changes it. */
export async function routeCall(s: State, ev: EslEvent, ctx: ProcessContext): Promise<Outcome | undefined> {
  const { env, link } = s.a;
  const fetchId = randomUUID();
  const fields = routeReqFields(ev, {
    fetchId,
    switchName: link.identity.name,
    switchHost: link.config.host,
    defaultRealm: env.settings.defaultRealm,
  });
  if (fields === undefined) {
    ctx.log.warn({ event: ev.name }, 'park event without Unique-ID ignored');
    return undefined;
  }
  const callId = fields['Call-ID'] as string;
  const log = ctx.log.child({ call_id: callId });
  let req: Envelope;
  try {
    req = build('route_req', fields, buildContext(env));
  } catch (err) {
    log.error({ err: String(err) }, 'route_req could not be built from the channel; hanging up');
    return hangup(s, callId, 'NO_ROUTE_DESTINATION', log);
  }
  const d = await routeRound(s, req, log);
  if (d.kind === 'hangup') return hangup(s, callId, d.cause, log);
  const r = await Supervisor.startChild(ctx.runtime, names.calls, [
    { callId, link, env, controllerQueue: d.controller, ccvs: d.ccvs, routes: d.routes, routeReq: req },
  ]);
  if (r.type === 'error') {
    log.error({ reason: String(r.reason) }, 'call processes failed to start; hanging up');
    return hangup(s, callId, 'NORMAL_TEMPORARY_FAILURE', log);
  }
  log.debug({ app: d.app, method: d.method }, 'call routed');
  return 'routed';
}

/** Routes a call again for its call_control (its route_win came back); never changes state. */
/** Runs one call's routing beside the mailbox; its outcome comes back as `routed`. */
function beside(
  s: State,
  ctx: ProcessContext,
  callId: string | undefined,
  work: Promise<Outcome | undefined>,
  failed: string,
): NoReplyResult<State> {
  s.inFlight++;
  const self = ctx.self;
  void work
    .catch((err: unknown) => {
      ctx.log.child({ call_id: callId }).error({ err: String(err) }, failed);
      return undefined;
    })
    .then((outcome) => ctx.send(self, { type: 'routed', callId, outcome } satisfies Msg));
  return noreply(s);
}

async function rerouteCall(s: State, m: RerouteMsg, ctx: ProcessContext): Promise<Outcome> {
  const log = ctx.log.child({ call_id: m.callId });
  const d = await routeRound(s, { ...m.req, 'Msg-ID': randomUUID() }, log);
  if (d.kind === 'hangup') return hangup(s, m.callId, d.cause, log);
  log.info({ app: d.app, method: d.method, controller: d.controller, round: m.round }, 'call routed again');
  ctx.send(m.control, {
    type: 'rerouted',
    round: m.round,
    controller: d.controller,
    ccvs: d.ccvs,
    routes: d.routes,
  } satisfies ReroutedMsg);
  return 'rerouted';
}

export const Router: GenServerBehaviour<State, RouterArgs> = {
  name: 'ecallmgr_router',

  async init(a, ctx) {
    ctx.trapExit(true);
    const requester = new Requester({
      transport: a.env.bus,
      logger: ctx.log,
      timeoutMs: a.env.settings.fetchTimeoutMs,
    });
    await requester.start();
    // terminate does not run when the process is killed: the requester's queue and
    // consumer go however it ends (else each kill leaves one consuming for ever).
    void ctx.runtime.awaitExit(ctx.self).then(() => requester.stop());
    return ok({ a, rt: ctx.runtime, requester, inFlight: 0, routed: 0 });
  },

  handleInfo(raw, s, ctx) {
    const m = raw as Msg;
    if (m?.type === 'routed') {
      s.inFlight--;
      if (m.outcome === 'routed') s.routed++;
      return noreply(s);
    }
    if (m?.type === 'reroute')
      return beside(s, ctx, m.callId, rerouteCall(s, m, ctx), 'routing again failed');
    if (m?.type !== 'park' || m.ev === undefined) return unexpected(raw, s);
    return beside(s, ctx, m.ev.uuid, routeCall(s, m.ev, ctx), 'routing failed');
  },

  async terminate(_reason, s) {
    await s.requester.stop();
  },

  describe: (s) => ({ switch: s.a.link.identity.name, in_flight: s.inFlight, routed: s.routed }),
};
