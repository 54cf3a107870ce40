/**
 * acdc_queue_manager:<queue-id>: one ACDC queue's view of its agents and its strategy
 * state (Kazoo's acdc_queue_manager), a gen_listener on an anonymous queue.
 *
 * Contract
 * - Learns agents only from what they say: queue_agent_change for this queue, and, at
 *   every start (so also after a restart), the agent_stats_resp answers to one
 *   agent_stats_req for the account. A manager that has not heard from an agent does not
 *   count it: a restarted manager never takes every agent as available (kazoo #6688).
 * - `{op: 'up_next', callId, holdMs}` (Kazoo's up_next): whether this worker's caller may be
 *   offered now, answered with the number of free agents (the member_connect_resp it waits
 *   for before its collect timeout), or 0: not now (it waits). Free: said available, and
 *   not picked for another caller since (until that agent's next queue_agent_change, or
 *   the pick's holdMs). At most as many offers run at once as there are free agents: an
 *   offer holds its slot until its pick, its `{op: 'release', callId}` cast (it waits or
 *   its caller is done) or holdMs. So one agent becoming available starts one offer, not
 *   one per waiting worker (each a member_connect_req to every agent of the queue, whose
 *   wins then collide on that one agent and come back as member_connect_retry).
 * - Logged in: an agent whose last word was not Status logged_out (paused counts as
 *   logged in). `{op: 'empty'}` is true once the queue had logged-in agents and the last
 *   of them logged out (Kazoo's "all agents have left the queue", kazoo #1334); at that
 *   moment each waiting worker gets `{type: 'queue_empty'}` instead of agent_available.
 *   A queue that never had an agent is not empty: its callers wait for a first login.
 * - `{op: 'pick', callId, candidates, avoid, holdMs}`: the winner by the queue's strategy
 *   (strategy.ts); it ends the caller's offer slot and the winner is not free for holdMs.
 * - `{op: 'view'}`: {agents: {<id>: change}, ring} for tests and stats.
 * - Cast `{op: 'wait', pid}`: `pid` gets `{type: 'agent_available'}` the next time an agent
 *   becomes available (a worker whose caller found nobody ready).
 * - agents_available_req for this queue: answered (to Server-ID) with Agent-Count, the
 *   agents logged in (Kazoo's answer to cf_acdc_member's enter_when_empty check).
 * - Counts since it started (queue_stats_req answered with Stats {waiting, answered,
 *   abandoned, average_wait_ms (answered callers), longest_wait_ms (of those waiting),
 *   agents_logged_in, agents_available}): a caller counts from its member_call (a copy
 *   of each reaches the manager) to its member_call_success (answered) or
 *   member_call_fail / member_call_cancel (abandoned). Talk times: an answered caller
 *   talks from its member_call_success (naming the Agent-ID) until that agent's next
 *   queue_agent_change to wrapup, ready, paused or logged_out (its call ended): Stats
 *   `talking` (now), `average_talk_ms` and `longest_talk_ms` (of the talks that ended).
 * - position_req for a caller it counts as waiting: answered (to Server-ID) with Position
 *   (1: next; higher Member-Priority first, then arrival, as workers take them) and
 *   Average-Wait-Time (s, of the answered callers); a caller it does not know: no answer.
 * - Cancelled callers (member_call_cancel on acdc.member.call_result.<account>.<queue>.*)
 *   are remembered (`{op: 'cancelled', callId}` answers whether one was), so a worker that
 *   takes a caller who left while waiting in the shared queue drops it.
 */
import {
  GenServer,
  noreply,
  ok,
  reply,
  type ChildSpec,
  type Pid,
  type ProcessContext,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import {
  agentsAvailableReqKey,
  memberCallKey,
  memberCallPriority,
  memberCallResultKey,
  queuePositionReqKey,
  queueStatsReqKey,
  queueAgentChangeKey,
  type Envelope,
} from '../../src/api/index.ts';
import { acdcSend, type AcdcEnv } from './send.ts';
import { newStrategyState, noteAgent, pickAgent, type Strategy, type StrategyState } from './strategy.ts';

export const managerName = (queueId: string): string => `acdc_queue_manager:${queueId}`;

export interface ManagerArgs {
  readonly env: AcdcEnv;
  readonly queueId: string;
  readonly strategy: Strategy;
}

interface State {
  readonly a: ManagerArgs;
  readonly agents: Map<string, string>;
  readonly ss: StrategyState;
  readonly waiters: Set<Pid>;
  readonly cancelled: Set<string>;
  /** Whether each agent is logged in (its last Status was not logged_out). */
  readonly loggedIn: Map<string, boolean>;
  /** Some agent was logged in since the manager started. */
  hadAgents: boolean;
  readonly stats: QueueStats;
  /** Orders the moments agents became available (most_idle), without clock ties. */
  readonly seq: { n: number };
  /** The caller each agent rings or talks to, from its agent_change (Call-ID). */
  readonly agentCall: Map<string, { callId: string; change: string }>;
  /** Callers being offered (up_next said yes): call-id -> until when the slot is held. */
  readonly offering: Map<string, number>;
  /** Agents picked for a caller, not free until their next agent_change: agent -> until when. */
  readonly picked: Map<string, number>;
}

export type ManagerCall =
  | { op: 'up_next'; callId: string; holdMs: number }
  | { op: 'pick'; callId: string; candidates: string[]; avoid: string[]; holdMs: number }
  | { op: 'view' }
  | { op: 'empty' }
  | { op: 'cancelled'; callId: string }
  /** Which agent rings (`ringing`) or talks to (`busy`) this caller, if any. */
  | { op: 'caller_with_agent'; callId: string };
type Cast =
  { op: 'wait'; pid: Pid; callId?: string } | { op: 'release'; callId: string } | { op: 'msg'; m: Envelope };

const MAX_CANCELLED = 10_000;

interface QueueStats {
  /** Callers waiting, in arrival order: call-id -> when this manager saw them enter, their priority. */
  readonly waiting: Map<string, { since: number; priority: number }>;
  answered: number;
  abandoned: number;
  /** The sum of the answered callers' waits. */
  answeredWaitMs: number;
  /** Callers talking to an agent: agent id -> the caller and when it was answered. */
  readonly talking: Map<string, { callId: string; since: number }>;
  /** Talks that ended: how many, their sum and the longest. */
  talks: number;
  talkMs: number;
  longestTalkMs: number;
}

/** Agent states that end a talk (the agent's call is over, or it left). */
const AFTER_TALK = new Set(['wrapup', 'ready', 'paused', 'logged_out']);

/** member_call_success of a caller this manager counted: the agent's talk starts. */
function startTalk(s: State, callId: string, agentId: unknown): void {
  if (typeof agentId === 'string') s.stats.talking.set(agentId, { callId, since: Date.now() });
}

/** An agent's new state: leaving the call ends its talk. */
function endTalk(s: State, agentId: string, status: unknown): void {
  const t = s.stats.talking.get(agentId);
  if (t === undefined || !AFTER_TALK.has(String(status))) return;
  s.stats.talking.delete(agentId);
  const ms = Date.now() - t.since;
  s.stats.talks += 1;
  s.stats.talkMs += ms;
  s.stats.longestTalkMs = Math.max(s.stats.longestTalkMs, ms);
}

/** A caller's wait ended: answered (member_call_success) or abandoned (fail, cancel). */
function countOutcome(s: State, callId: string, answered: boolean): boolean {
  const since = s.stats.waiting.get(callId)?.since;
  if (since === undefined) return false; // not seen entering, or already counted
  s.stats.waiting.delete(callId);
  if (answered) {
    s.stats.answered += 1;
    s.stats.answeredWaitMs += Date.now() - since;
  } else s.stats.abandoned += 1;
  return true;
}

function statsView(s: State): Record<string, number> {
  const now = Date.now();
  const waits = [...s.stats.waiting.values()].map((w) => now - w.since);
  return {
    waiting: waits.length,
    answered: s.stats.answered,
    abandoned: s.stats.abandoned,
    average_wait_ms: s.stats.answered === 0 ? 0 : Math.round(s.stats.answeredWaitMs / s.stats.answered),
    longest_wait_ms: waits.length === 0 ? 0 : Math.max(...waits),
    agents_logged_in: [...s.loggedIn.values()].filter(Boolean).length,
    agents_available: [...s.agents.values()].filter((v) => v === 'available').length,
    talking: s.stats.talking.size,
    average_talk_ms: s.stats.talks === 0 ? 0 : Math.round(s.stats.talkMs / s.stats.talks),
    longest_talk_ms: s.stats.longestTalkMs,
  };
}

/**
 * A waiting caller's place (1: next), in the order workers take callers from the shared
 * queue: higher Member-Priority first, then arrival. Undefined for a caller not waiting.
 */
export function queuePosition(
  waiting: ReadonlyMap<string, { priority: number }>,
  callId: string,
): number | undefined {
  const me = waiting.get(callId);
  if (me === undefined) return undefined;
  let ahead = 0;
  for (const [id, w] of waiting) {
    if (id === callId) break;
    if (w.priority >= me.priority) ahead += 1;
  }
  let after = false;
  for (const [id, w] of waiting) {
    if (id === callId) after = true;
    else if (after && w.priority > me.priority) ahead += 1;
  }
  return ahead + 1;
}

/** Agents available and not picked for a caller (expired holds are dropped). */
function freeAgents(s: State, now: number): number {
  for (const [id, until] of s.picked) if (until <= now) s.picked.delete(id);
  let n = 0;
  for (const [id, change] of s.agents) if (change === 'available' && !s.picked.has(id)) n += 1;
  return n;
}

/** up_next: a slot for this caller's offer while fewer offers run than agents are free. */
function upNext(s: State, callId: string, holdMs: number): number {
  const now = Date.now();
  for (const [id, until] of s.offering) if (until <= now) s.offering.delete(id);
  s.offering.delete(callId);
  const free = freeAgents(s, now);
  if (free - s.offering.size <= 0) return 0;
  s.offering.set(callId, now + holdMs);
  return free;
}

const isEmpty = (s: State): boolean => s.hadAgents && ![...s.loggedIn.values()].some(Boolean);

/** Records whether `agentId` is logged in; the last one logging out ends the waiting callers. */
function noteLogin(s: State, ctx: ProcessContext, agentId: string, loggedIn: boolean): void {
  const wasEmpty = isEmpty(s);
  s.loggedIn.set(agentId, loggedIn);
  if (loggedIn) s.hadAgents = true;
  if (wasEmpty || !isEmpty(s)) return;
  ctx.log.info(
    { queue_id: s.a.queueId, waiting: s.waiters.size },
    'acdc queue manager: the last agent logged out; waiting callers leave',
  );
  for (const w of s.waiters) ctx.send(w, { type: 'queue_empty' });
  s.waiters.clear();
}

/** position_req: the caller's place and the average wait of answered callers, to Server-ID. */
function answerPosition(s: State, m: Envelope, ctx: ProcessContext): void {
  const to = typeof m['Server-ID'] === 'string' ? m['Server-ID'] : undefined;
  const position = queuePosition(s.stats.waiting, String(m['Call-ID']));
  if (to === undefined || position === undefined) return; // a manager that never saw the caller keeps still
  const averageS = s.stats.answered === 0 ? 0 : Math.round(s.stats.answeredWaitMs / s.stats.answered / 1000);
  acdcSend(
    s.a.env,
    'queue_position_resp',
    {
      'Msg-ID': m['Msg-ID'],
      'Account-ID': s.a.env.accountId,
      'Queue-ID': s.a.queueId,
      'Call-ID': m['Call-ID'],
      Position: position,
      'Average-Wait-Time': averageS,
    },
    to,
  ).catch((err: unknown) =>
    ctx.log.error({ err, queue_id: s.a.queueId }, 'acdc queue manager: position_resp not sent'),
  );
}

const Manager: GenListenerBehaviour<State, ManagerArgs, ManagerCall, Cast> = {
  name: 'acdc_queue_manager',
  init: (a) =>
    ok({
      a,
      agents: new Map(),
      ss: newStrategyState(),
      waiters: new Set(),
      cancelled: new Set(),
      loggedIn: new Map(),
      hadAgents: false,
      stats: {
        waiting: new Map(),
        answered: 0,
        abandoned: 0,
        answeredWaitMs: 0,
        talking: new Map(),
        talks: 0,
        talkMs: 0,
        longestTalkMs: 0,
      },
      seq: { n: 0 },
      agentCall: new Map(),
      offering: new Map(),
      picked: new Map(),
    }),
  listen: (a) => ({
    queue: '',
    bindings: [
      { exchange: 'kapps', routingKey: queueAgentChangeKey(a.env.accountId, a.queueId) },
      { exchange: 'callmgr', routingKey: memberCallResultKey(a.env.accountId, a.queueId, '*') },
      { exchange: 'kapps', routingKey: agentsAvailableReqKey(a.env.accountId, a.queueId) },
      { exchange: 'kapps', routingKey: queueStatsReqKey(a.env.accountId, a.queueId) },
      { exchange: 'kapps', routingKey: queuePositionReqKey(a.env.accountId, a.queueId) },
      // A copy of each caller entering (the shared queue gets the one workers take).
      { exchange: 'callmgr', routingKey: memberCallKey(a.env.accountId, a.queueId) },
    ],
    responders: [
      {
        category: 'queue',
        name: 'agent_change',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'agent',
        name: 'stats_resp',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'queue',
        name: 'agents_available_req',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'member',
        name: '*',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'queue',
        name: 'position_req',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'queue',
        name: 'stats_req',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
    ],
  }),
  handleCall(c, _from, s) {
    switch (c.op) {
      case 'up_next':
        return reply(upNext(s, c.callId, c.holdMs), s);
      case 'pick': {
        s.offering.delete(c.callId);
        const winner = pickAgent(s.a.strategy, s.ss, c.candidates, new Set(c.avoid));
        if (winner !== undefined) s.picked.set(winner, Date.now() + c.holdMs);
        return reply(winner, s);
      }
      case 'cancelled':
        return reply(s.cancelled.has(c.callId), s);
      case 'caller_with_agent': {
        const hit = [...s.agentCall].find(([, v]) => v.callId === c.callId);
        return reply(hit === undefined ? undefined : { agentId: hit[0], change: hit[1].change }, s);
      }
      case 'empty':
        return reply(isEmpty(s), s);
      default:
        return reply({ agents: Object.fromEntries(s.agents), ring: [...s.ss.ring] }, s);
    }
  },
  handleCast(c, s, ctx) {
    if (c.op === 'wait') {
      if (c.callId !== undefined) s.offering.delete(c.callId);
      s.waiters.add(c.pid);
      return noreply(s);
    }
    if (c.op === 'release') {
      s.offering.delete(c.callId);
      return noreply(s);
    }
    const m = c.m;
    const name = m['Event-Name'];
    if (name === 'agent_change') {
      const agentId = String(m['Agent-ID']);
      const to = String(m.Change);
      const from = s.agents.get(agentId);
      s.agents.set(agentId, to);
      s.picked.delete(agentId);
      const callId = typeof m['Call-ID'] === 'string' ? m['Call-ID'] : undefined;
      if (callId !== undefined && (to === 'ringing' || to === 'busy'))
        s.agentCall.set(agentId, { callId, change: to });
      else s.agentCall.delete(agentId);
      noteLogin(s, ctx, agentId, m.Status !== undefined ? m.Status !== 'logged_out' : to !== 'unavailable');
      noteAgent(s.ss, agentId);
      endTalk(s, agentId, m.Status);
      ctx.log.info({ queue_id: s.a.queueId, agent_id: agentId, from, to }, 'acdc queue manager: agent');
      if (to === 'available' && from !== 'available') {
        s.ss.availableSince.set(agentId, ++s.seq.n);
        for (const w of s.waiters) ctx.send(w, { type: 'agent_available' });
        s.waiters.clear();
      }
    } else if (name === 'stats_resp') {
      const statuses = (m['Current-Statuses'] ?? {}) as Record<
        string,
        { status?: string; queues?: unknown; loggedInQueues?: unknown }
      >;
      for (const [agentId, given] of Object.entries(statuses)) {
        if (!Array.isArray(given.queues) || !given.queues.includes(s.a.queueId) || s.agents.has(agentId))
          continue;
        // An agent logged in to other queues only (login_queue) is logged out of this one.
        const inHere = !Array.isArray(given.loggedInQueues) || given.loggedInQueues.includes(s.a.queueId);
        const v = inHere ? given : { ...given, status: 'logged_out' };
        const to =
          v.status === 'ready'
            ? 'available'
            : v.status === 'ringing'
              ? 'ringing'
              : ['answered', 'wrapup'].includes(String(v.status))
                ? 'busy'
                : 'unavailable';
        s.agents.set(agentId, to);
        noteAgent(s.ss, agentId);
        noteLogin(s, ctx, agentId, v.status !== 'logged_out');
        if (to === 'available') s.ss.availableSince.set(agentId, ++s.seq.n);
        ctx.log.info({ queue_id: s.a.queueId, agent_id: agentId, to }, 'acdc queue manager: agent synced');
        if (to === 'available') {
          for (const w of s.waiters) ctx.send(w, { type: 'agent_available' });
          s.waiters.clear();
        }
      }
    } else if (name === 'agents_available_req') {
      const to = typeof m['Server-ID'] === 'string' ? m['Server-ID'] : undefined;
      if (to === undefined) return noreply(s);
      acdcSend(
        s.a.env,
        'queue_agents_available_resp',
        {
          'Msg-ID': m['Msg-ID'],
          'Account-ID': s.a.env.accountId,
          'Queue-ID': s.a.queueId,
          'Agent-Count': [...s.loggedIn.values()].filter(Boolean).length,
        },
        to,
      ).catch((err: unknown) =>
        ctx.log.error({ err, queue_id: s.a.queueId }, 'acdc queue manager: agents_available_resp not sent'),
      );
    } else if (name === 'call') {
      const callId = String(((m.Call ?? {}) as Record<string, unknown>)['Call-ID']);
      if (!s.stats.waiting.has(callId))
        s.stats.waiting.set(callId, { since: Date.now(), priority: memberCallPriority(m) ?? 0 });
    } else if (name === 'position_req') {
      answerPosition(s, m, ctx);
    } else if (name === 'call_success') {
      if (countOutcome(s, String(m['Call-ID']), true)) startTalk(s, String(m['Call-ID']), m['Agent-ID']);
    } else if (name === 'call_fail') {
      countOutcome(s, String(m['Call-ID']), false);
    } else if (name === 'stats_req') {
      const to = typeof m['Server-ID'] === 'string' ? m['Server-ID'] : undefined;
      if (to !== undefined)
        acdcSend(
          s.a.env,
          'queue_stats_resp',
          {
            'Msg-ID': m['Msg-ID'],
            'Account-ID': s.a.env.accountId,
            'Queue-ID': s.a.queueId,
            Stats: statsView(s),
          },
          to,
        ).catch((err: unknown) =>
          ctx.log.error({ err, queue_id: s.a.queueId }, 'acdc queue manager: stats_resp not sent'),
        );
    } else if (name === 'call_cancel') {
      countOutcome(s, String(m['Call-ID']), false);
      if (s.cancelled.size >= MAX_CANCELLED) s.cancelled.delete(s.cancelled.values().next().value as string);
      s.cancelled.add(String(m['Call-ID']));
    }
    return noreply(s);
  },
  handleInfo(msg, s, ctx) {
    const i = msg as { type?: string; event?: string; queue?: string };
    if (i.type === 'gen_listener' && i.event === 'consuming' && i.queue !== undefined) {
      acdcSend(s.a.env, 'agent_stats_req', { 'Account-ID': s.a.env.accountId, 'Server-ID': i.queue }).catch(
        (err: unknown) =>
          ctx.log.error({ err, queue_id: s.a.queueId }, 'acdc queue manager: stats_req not sent'),
      );
    }
    return noreply(s);
  },
};

export const managerChildSpec = (a: ManagerArgs): ChildSpec =>
  GenListener.childSpec(managerName(a.queueId), Manager, a, {
    transport: a.env.bus,
    name: managerName(a.queueId),
    shutdown: 5000,
    appName: 'acdc',
  });
