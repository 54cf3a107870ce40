/**
 * acdc_originator: rings agents by originate_req (Kazoo's acdc_agent_fsm originating to
 * the agent's endpoints), a gen_listener on an anonymous queue; and `originateDevice`,
 * the AgentDevice (device.ts) that uses it.
 *
 * Contract
 * - `ring(offer)` (from an agent process): originate_req on `callmgr`
 *   (`originate.resource.req`) with the agent's Endpoints, Application-Name bridge,
 *   Existing-Call-ID = the caller, Outbound-Call-ID = a new agent leg id, Timeout = the
 *   ring timeout rounded up to seconds, Originate-Immediate, Server-ID = this queue.
 *   originate_resp for that leg (ecallmgr bridged the answered leg to the caller):
 *   `{answered: true, ended}`, `ended` resolving at the leg's CHANNEL_DESTROY. The
 *   originator's queue is bound once, at start, to every call's CHANNEL_DESTROY
 *   (`call.CHANNEL_DESTROY.*`; its responder passes on only `acdc-` legs), not per leg:
 *   a bind and an unbind per ring, each a broker round trip made inside this one process,
 *   queued every agent's ring behind them (100 agents: rings timed out in its mailbox).
 *   So an end published before the answer is handled, as when the caller hangs up the
 *   moment it is bridged, is not missed. An error
 *   reply (no answer, not registered, rejected): `{answered: false}`. No reply before the
 *   agent's ring timeout: the agent process has given up (it ignores a later result).
 * - `stop(callId)` (missed, paused, logged out, the caller left, yielded to a peer): the
 *   ring answers `{answered: false}` at once (`ring` sends its call before any await, so a
 *   stop cast after it always finds it) and the agent's leg is hung up (dialplan hangup to the
 *   control queue of its originate_uuid, at once or as soon as that uuid arrives); a leg
 *   answered after that is hung up too.
 * - ecallmgr answers within the leg's Timeout plus its own slack; a leg still without an
 *   answer `noAnswerSlackMs` (default 10 s) past its Timeout is forgotten (warn line): the
 *   ring answers `{answered: false}` if nobody stopped it, the leg is hung up if its uuid
 *   came. A SUCCESS originate_resp for a leg this originator does not
 *   hold (forgotten) is hung up too: nobody follows that call.
 * - An agent with no endpoints is never answered (logged).
 * - `watch` (`originateDevice(...).watchLeg`): an agent process follows a leg another
 *   node's originator placed (a peer process of the agent rang it, and that node may be
 *   dead): `{type: 'leg_ended', leg}` goes to the watcher at the leg's CHANNEL_DESTROY, or
 *   at once when ecallmgr says the leg is gone (asked after the watch is in place, so an
 *   end is never missed between the two).
 * - The answer `{answered: true}` names the leg (`leg`).
 */
import { randomBytes } from 'node:crypto';
import {
  GenServer,
  noreply,
  ok,
  reply,
  type ChildSpec,
  type From,
  type ProcessContext,
  type Pid,
  type Ref,
  type Runtime,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { callEventKey, type Envelope } from '../../src/api/index.ts';
import { acdcSend, type AcdcEnv } from './send.ts';
import { callerStatus } from './caller-status.ts';
import type { AgentDevice, RingOffer, RingResult } from './device.ts';

export const ORIGINATOR = 'acdc_originator';

export interface OriginatorArgs {
  readonly env: AcdcEnv;
  /** How long past a leg's Timeout an originate answer may still come (default 10 s). */
  readonly noAnswerSlackMs?: number;
}

const NO_ANSWER_SLACK_MS = 10_000;
/** When a ring of `ringTimeoutMs` with no originate answer is forgotten. */
const forgetAfterMs = (a: OriginatorArgs, ringTimeoutMs: number): number =>
  Math.ceil(ringTimeoutMs / 1000) * 1000 + (a.noAnswerSlackMs ?? NO_ANSWER_SLACK_MS);

interface Pending {
  /** The ring's caller. */
  readonly from: From;
  readonly offer: RingOffer;
  /** The leg's control queue (originate_uuid), to hang it up. */
  control?: string;
  stopped?: boolean;
  /** Forgets the leg when no originate answer came in time. */
  timer?: Ref;
}

interface State {
  readonly a: OriginatorArgs;
  queue?: string;
  readonly pending: Map<string, Pending>;
  readonly ended: Map<string, () => void>;
  /** Legs whose CHANNEL_DESTROY came before their originate answer was handled. */
  readonly gone: Set<string>;
  /** Processes following a leg (watch), told at its end. */
  readonly watchers: Map<string, Pid[]>;
}

type Call = { op: 'ring'; offer: RingOffer; endpoints: readonly Record<string, unknown>[]; leg: string };
type Cast =
  | { op: 'resp'; m: Envelope }
  | { op: 'uuid'; m: Envelope }
  | { op: 'destroyed'; leg: string }
  | { op: 'watch'; leg: string; pid: Pid }
  | { op: 'stop'; callId: string; agentId: string };

function answer(p: Pending, r: RingResult): void {
  GenServer.reply(p.from, r);
}

/** Agent legs this module originates are named `acdc-<agent>-<hex>` (originateDevice). */
const LEG_PREFIX = 'acdc-';

function hangup(s: State, ctx: ProcessContext, leg: string, control: string, callId?: string): void {
  acdcSend(s.a.env, 'dialplan.hangup', { 'Call-ID': leg }, control).then(
    () => ctx.log.info({ call_id: callId, leg }, 'acdc originator: agent leg hung up'),
    (err: unknown) =>
      ctx.log.error({ err, call_id: callId, leg }, 'acdc originator: agent leg hangup not sent'),
  );
}

const Originator: GenListenerBehaviour<State, OriginatorArgs, Call, Cast> = {
  name: ORIGINATOR,
  init: (a) => ok({ a, pending: new Map(), ended: new Map(), gone: new Set(), watchers: new Map() }),
  listen: () => ({
    queue: '',
    bindings: [{ exchange: 'callevt', routingKey: callEventKey('CHANNEL_DESTROY', '*') }],
    responders: [
      {
        category: 'resource',
        name: 'originate_resp',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'resp', m } satisfies Cast),
      },
      {
        category: 'resource',
        name: 'originate_uuid',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'uuid', m } satisfies Cast),
      },
      {
        category: 'error',
        name: 'originate_resp',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'resp', m } satisfies Cast),
      },
      {
        category: 'call_event',
        name: 'CHANNEL_DESTROY',
        handler: (m, h) => {
          const leg = String(m['Call-ID']);
          if (leg.startsWith(LEG_PREFIX))
            GenServer.cast(h.runtime, h.server, { op: 'destroyed', leg } satisfies Cast);
        },
      },
    ],
  }),
  async handleCall(c, from, s, ctx) {
    const leg = c.leg;
    if (c.endpoints.length === 0) {
      ctx.log.warn(
        { call_id: c.offer.callId, agent_id: c.offer.agentId },
        'acdc originator: agent has no endpoints',
      );
      return reply({ answered: false } satisfies RingResult, s);
    }
    s.pending.set(leg, { from, offer: c.offer });
    try {
      await acdcSend(s.a.env, 'originate_req', {
        'Server-ID': s.queue,
        'Application-Name': 'bridge',
        'Existing-Call-ID': c.offer.callId,
        'Outbound-Call-ID': leg,
        'Originate-Immediate': true,
        Timeout: Math.ceil(c.offer.ringTimeoutMs / 1000),
        Endpoints: c.endpoints,
      });
      ctx.log.info(
        { call_id: c.offer.callId, agent_id: c.offer.agentId, leg },
        'acdc originator: ringing agent',
      );
      const p = s.pending.get(leg);
      if (p !== undefined)
        p.timer = ctx.sendAfter(forgetAfterMs(s.a, c.offer.ringTimeoutMs), { type: 'no_answer', leg });
    } catch (err) {
      s.pending.delete(leg);
      ctx.log.error(
        { err, call_id: c.offer.callId, agent_id: c.offer.agentId },
        'acdc originator: originate_req not sent',
      );
      return reply({ answered: false } satisfies RingResult, s);
    }
    return noreply(s);
  },
  handleCast(c, s, ctx) {
    if (c.op === 'uuid') {
      const leg = String(c.m['Outbound-Call-ID']);
      const p = s.pending.get(leg);
      const control = c.m['Outbound-Call-Control-Queue'];
      if (p === undefined || typeof control !== 'string') return noreply(s);
      p.control = control;
      // Stopped before the leg's uuid was known (kazoo #6559): hang it up now.
      if (p.stopped === true) hangup(s, ctx, leg, control, p.offer.callId);
      return noreply(s);
    }
    if (c.op === 'stop') {
      for (const [leg, p] of s.pending) {
        if (p.offer.callId !== c.callId || p.offer.agentId !== c.agentId || p.stopped === true) continue;
        p.stopped = true;
        answer(p, { answered: false });
        if (p.control !== undefined) hangup(s, ctx, leg, p.control, c.callId);
      }
      return noreply(s);
    }
    if (c.op === 'watch') {
      s.watchers.set(c.leg, [...(s.watchers.get(c.leg) ?? []), c.pid]);
      const self = ctx.self;
      void callerStatus(s.a.env, c.leg, ctx.log).then((st) =>
        ctx.send(self, { type: 'leg_status', leg: c.leg, state: st.state }),
      );
      return noreply(s);
    }
    if (c.op === 'destroyed') {
      legEnded(s, ctx, c.leg, 'CHANNEL_DESTROY');
      const end = s.ended.get(c.leg);
      s.ended.delete(c.leg);
      if (end !== undefined) end();
      // Ended before its answer was handled (the caller hung up at the bridge).
      else if (s.pending.has(c.leg)) s.gone.add(c.leg);
      return noreply(s);
    }
    const leg = String(c.m['Call-ID']);
    const p = s.pending.get(leg);
    if (p === undefined) {
      const control = c.m['Control-Queue'];
      if (c.m['Event-Category'] !== 'error' && typeof control === 'string') {
        // A leg forgotten (no answer in time) that was answered after all: nobody follows it.
        ctx.log.warn({ leg }, 'acdc originator: originate answer for no pending offer; hanging the leg up');
        hangup(s, ctx, leg, control);
      } else ctx.log.info({ leg }, 'acdc originator: originate answer for no pending offer; ignored');
      return noreply(s);
    }
    s.pending.delete(leg);
    if (p.timer !== undefined) ctx.cancelTimer(p.timer);
    const gone = s.gone.delete(leg);
    const log = { call_id: p.offer.callId, agent_id: p.offer.agentId, leg };
    if (p.stopped === true) {
      // Answered after the agent gave up: ecallmgr bridged it all the same; end it now.
      if (c.m['Event-Category'] !== 'error' && typeof c.m['Control-Queue'] === 'string') {
        ctx.log.warn(log, 'acdc originator: agent leg answered after the offer was stopped; hanging up');
        hangup(s, ctx, leg, c.m['Control-Queue'], p.offer.callId);
      }
      return noreply(s);
    }
    if (c.m['Event-Category'] === 'error' || c.m['Application-Response'] !== 'SUCCESS') {
      ctx.log.info({ ...log, error: c.m['Error-Message'] }, 'acdc originator: agent not reached');
      answer(p, { answered: false });
      return noreply(s);
    }
    const ended = gone ? Promise.resolve() : new Promise<void>((resolve) => s.ended.set(leg, resolve));
    ctx.log.info(log, 'acdc originator: agent answered, bridged to the caller');
    answer(p, { answered: true, ended, leg });
    return noreply(s);
  },
  handleInfo(msg, s, ctx) {
    const i = msg as { type?: string; event?: string; queue?: string; leg?: string; state?: string };
    if (i.type === 'gen_listener' && i.event === 'created_queue') s.queue = i.queue;
    if (i.type === 'leg_status' && i.leg !== undefined && i.state === 'gone')
      legEnded(s, ctx, i.leg, 'the switch no longer has it');
    if (i.type === 'no_answer' && i.leg !== undefined) forget(s, ctx, i.leg);
    return noreply(s);
  },
  describe: (s) => ({
    pending: s.pending.size,
    ended: s.ended.size,
    gone: s.gone.size,
    watched: s.watchers.size,
  }),
};

/** A watched leg is over: its watchers are told. */
function legEnded(s: State, ctx: ProcessContext, leg: string, why: string): void {
  const pids = s.watchers.get(leg);
  if (pids === undefined) return;
  s.watchers.delete(leg);
  ctx.log.info({ leg, why }, 'acdc originator: a watched agent leg ended');
  for (const pid of pids) ctx.send(pid, { type: 'leg_ended', leg });
}

/** No originate answer for the leg in time (ecallmgr gone?): the offer is dropped. */
function forget(s: State, ctx: ProcessContext, leg: string): void {
  const p = s.pending.get(leg);
  if (p === undefined) return;
  s.pending.delete(leg);
  s.gone.delete(leg);
  ctx.log.warn(
    { call_id: p.offer.callId, agent_id: p.offer.agentId, leg, stopped: p.stopped === true },
    'acdc originator: no originate answer in time; the offer is forgotten',
  );
  if (p.stopped !== true) answer(p, { answered: false });
  if (p.control !== undefined) hangup(s, ctx, leg, p.control, p.offer.callId);
}

export const originatorChildSpec = (a: OriginatorArgs): ChildSpec =>
  GenListener.childSpec(ORIGINATOR, Originator, a, {
    transport: a.env.bus,
    name: ORIGINATOR,
    shutdown: 5000,
    appName: 'acdc',
  });

/** The device of agent `agentId` whose endpoints are `endpoints` (originate_req Endpoints). */
export function originateDevice(agentId: string, endpoints: readonly Record<string, unknown>[]): AgentDevice {
  return {
    ring: async (offer, rt: Runtime) => {
      const leg = `${LEG_PREFIX}${agentId}-${randomBytes(6).toString('hex')}`;
      // Sent at once, before any await: a stop the agent process casts after this ring
      // reaches the originator after it, never before (then unheard).
      return GenServer.call(
        rt,
        ORIGINATOR,
        { op: 'ring', offer, endpoints, leg } satisfies Call,
        // The originator always answers by then (forgetAfterMs, default slack).
        Math.ceil(offer.ringTimeoutMs / 1000) * 1000 + NO_ANSWER_SLACK_MS + 5000,
      );
    },
    stop: (callId, rt) => void GenServer.cast(rt, ORIGINATOR, { op: 'stop', callId, agentId } satisfies Cast),
    watchLeg: (leg, pid, rt) => void GenServer.cast(rt, ORIGINATOR, { op: 'watch', leg, pid } satisfies Cast),
  };
}
