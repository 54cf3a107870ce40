/**
 * acdc_agent:<agent-id>: one agent's state machine (Kazoo's acdc_agent_fsm with its
 * acdc_agent_listener), a gen_listener on an anonymous queue.
 *
 * Contract
 * - States: logged_out (at start), ready, ringing, answered, wrapup, paused. Every
 *   change is published as queue_agent_change to each of the agent's queues (Change —
 *   ready: available, ringing, answered/wrapup: busy, paused/logged_out: unavailable —
 *   and Status, the state itself), for the queue managers, and once as agent_shared_state
 *   on the agent's own key (`acdc.agent.fsm_shared.<account>.<agent>`), for its processes on
 *   other nodes, and logged. An agent process binds no queue-wide change key: it hears no
 *   other agent's changes.
 * - member_connect_req (bound for each of its queues): answered with member_connect_resp
 *   (Idle-Time, Process-ID = this queue) only when ready.
 * - member_connect_win naming this agent: when ready, ringing: the device rings
 *   (device.ts) and a ring timer runs (Ring-Timeout); answered in time: member_connect_accepted
 *   to the worker (Process-ID of the win), answered; the call's end: wrapup for
 *   Wrapup-Timeout, then ready. Not ready: member_connect_retry at once (an agent is
 *   never given two callers). No answer in time: a miss, member_connect_retry; after
 *   `maxMisses` misses in a row the agent is paused (or logged out, `missAction`) with a
 *   warn line, and a login (or resume) makes it ready again (kazoo #6608).
 * - Results of the device for any call but the current ringing one are logged and
 *   ignored (kazoo #2689): a late answer or call end never changes the state.
 * - agent_timeout from the worker (the caller left): the ringing stops, ready, no miss.
 * - Actions (acdc.agent.action.<account>.<agent>): login, logout, pause (Time-Limit
 *   seconds, absent or 0: until resume), resume, end_wrapup. Logout or pause while
 *   ringing stops the ringing and sends member_connect_retry, so the caller is offered
 *   again (kazoo #6578).
 * - agent_stats_req: agent_stats_resp with Current-Statuses {<agent-id>: {status, queues,
 *   misses, calls}}. Locally, `GenServer.call(rt, agentName(id), {op: 'status'})`.
 * - One agent, several nodes (Kazoo's agent sync): the agent may run on every node; its
 *   processes keep one state over the bus. A process starts "pristine" (logged_out, never
 *   changed) and, once consuming, sends agent_sync_req (Process-ID = its queue); every
 *   other process of the agent that is not pristine answers agent_sync_resp (Status,
 *   Call-ID, Time-Left of a timed pause), and the first answer is adopted while the
 *   process is still pristine. A pristine process answers no sync_req, and a stats_req
 *   only when it names this agent (a manager's account-wide one it leaves to peers). Afterwards each process follows its peers'
 *   agent_shared_state (another Process-ID): it takes their state
 *   without publishing it again, unless it has a call of its own (ringing or answered
 *   here). A process that follows a peer's ringing or call answers no member_connect_req
 *   and gives back a win (member_connect_retry): the agent is offered one caller at a time.
 *   Two processes may take a win each before hearing the other's `ringing` (two workers
 *   picked the agent at once): so a process rings the device only once its own `ringing`
 *   came back over the bus (its claim) and what was delivered with it is handled (a peer's
 *   claim among it decides first), and a process ringing for its own caller that hears
 *   a peer ringing (lower Process-ID wins) or talking (answered, wrapup: the peer wins)
 *   yields: it stops its ring, hands its caller back (member_connect_retry, no miss) and
 *   follows the peer. Both apply the same rule, so one keeps the agent.
 *   A peer's ringing carries its Ring-Timeout: still ringing that long (plus
 *   PEER_RING_GRACE_MS) after it, the peer is taken as gone (its node died before it could
 *   publish the end) and the agent's actual call decides (Kazoo's fsm follows the agent's
 *   channel): the caller (callerStatus) bridged to one of this agent's legs
 *   (`acdc-<agent>-`): the process takes that call over (warn line), answered, published,
 *   until the leg ends (device.watchLeg), then wrapup (the peer's Wrapup-Timeout) and
 *   ready; else ready again, published (the managers count it again). A peer's answered
 *   names its leg (Agent-Call-ID, Fife's): the leg is watched, and its end with no word
 *   from the peer PEER_RING_GRACE_MS later takes the peer as gone: wrapup, ready. A peer's
 *   wrapup still followed PEER_RING_GRACE_MS past its Wrapup-Timeout: ready.
 * - login_queue / logout_queue (Queue-ID, one of its queues): see onQueueAction; a change
 *   about one queue alone carries Queue-Only, which peers do not follow (each applies the
 *   action itself). connect_req and wins of a queue it is not logged in to are not taken.
 */
import {
  GenServer,
  noreply,
  ok,
  reply,
  type ChildSpec,
  type ProcessContext,
  type Ref,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import {
  AGENT_STATUSES,
  agentActionKey,
  agentStatsReqKey,
  agentSyncReqKey,
  memberConnectReqKey,
  agentSharedKey,
  type Envelope,
} from '../../src/api/index.ts';
import { acdcSend, type AcdcEnv } from './send.ts';
import type { AgentDevice, RingResult } from './device.ts';
import { callerStatus, type CallerStatus } from './caller-status.ts';

export type AgentStatus = 'logged_out' | 'ready' | 'ringing' | 'answered' | 'wrapup' | 'paused';

export const agentName = (agentId: string): string => `acdc_agent:${agentId}`;

export interface AgentArgs {
  readonly env: AcdcEnv;
  readonly agentId: string;
  readonly queues: readonly string[];
  readonly device: AgentDevice;
  readonly maxMisses: number;
  readonly missAction: 'pause' | 'logout';
}

interface Current {
  readonly callId: string;
  readonly queueId: string;
  readonly worker: string;
  readonly ringTimeoutMs: number;
  ringTimer?: Ref;
  /** Its own `ringing` came back over the bus (the claim). */
  claimed?: boolean;
  /** The device was asked to ring (on the mailbox's next turn after the claim). */
  rung?: boolean;
  /** The agent's leg bridged to the caller (answered), when the device names it. */
  leg?: string;
}

/** What a peer's last ringing / answered / wrapup said (its call, to follow it). */
interface Followed {
  readonly callId?: string;
  readonly queueId?: string;
  /** The peer's agent leg (answered, Agent-Call-ID). */
  readonly leg?: string;
  readonly wrapupMs: number;
}

/** How long past a peer's Ring-Timeout its ringing may still end (a bus round trip and more). */
const PEER_RING_GRACE_MS = 1000;

interface State {
  readonly a: AgentArgs;
  queue?: string;
  status: AgentStatus;
  since: number;
  call?: Current;
  misses: number;
  calls: number;
  timer?: Ref;
  wrapupMs: number;
  /** The peer call this process follows (no call of its own). */
  followed?: Followed;
  /** Never changed since start: adopts the first agent_sync_resp of a peer. */
  pristine: boolean;
  /** When a pause with a Time-Limit ends (ms since the epoch). */
  pauseUntil?: number;
  /** The queues the agent is logged in to (all of a.queues at login; login_queue adds one). */
  readonly active: Set<string>;
}

export interface AgentView {
  agentId: string;
  status: AgentStatus;
  misses: number;
  calls: number;
  callId?: string;
  /** The queues it is logged in to. */
  loggedInQueues: string[];
}

type Cast = { op: 'msg'; m: Envelope };
type Call = { op: 'status' };
type Info =
  | { type: 'ring_claimed'; callId: string }
  | { type: 'ring_result'; callId: string; result: RingResult }
  | { type: 'ring_timeout'; callId: string }
  | { type: 'call_ended'; callId: string }
  | { type: 'wrapup_done' }
  | { type: 'pause_done' }
  | { type: 'peer_ring_over' }
  | { type: 'peer_ring_checked'; callId: string; status: CallerStatus }
  | { type: 'leg_ended'; leg: string }
  | { type: 'peer_call_over'; leg: string }
  | { type: 'peer_wrapup_over' }
  | { type: 'gen_listener'; event: string; queue: string };

const CHANGE: Record<AgentStatus, string> = {
  ready: 'available',
  ringing: 'ringing',
  answered: 'busy',
  wrapup: 'busy',
  paused: 'unavailable',
  logged_out: 'unavailable',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
};

function view(s: State): AgentView {
  return {
    agentId: s.a.agentId,
    status: s.status,
    misses: s.misses,
    calls: s.calls,
    ...(s.call ? { callId: s.call.callId } : {}),
    loggedInQueues: [...s.active],
  };
}

function logSend(s: State, ctx: ProcessContext, p: Promise<unknown>, what: string, callId?: string): void {
  p.catch((err: unknown) =>
    ctx.log.error({ err, call_id: callId, agent_id: s.a.agentId }, `acdc agent: could not send ${what}`),
  );
}

function setStatus(s: State, ctx: ProcessContext, status: AgentStatus, why: string): void {
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = undefined;
  s.pristine = false;
  const from = s.status;
  s.status = status;
  s.since = Date.now();
  ctx.log.info(
    { agent_id: s.a.agentId, from, to: status, why, call_id: s.call?.callId },
    'acdc agent: state',
  );
  publishChange(s, ctx, [...s.active], status);
  if (status === 'logged_out') s.active.clear();
}

/** queue_agent_change for each of `queues`; `queueOnly`: about that queue alone (peers do not follow it). */
function publishChange(
  s: State,
  ctx: ProcessContext,
  queues: readonly string[],
  status: AgentStatus,
  queueOnly = false,
): void {
  // What both messages say of the change (Agent-Call-ID and Wrapup-Timeout: Fife's).
  const change = {
    'Account-ID': s.a.env.accountId,
    'Agent-ID': s.a.agentId,
    Change: CHANGE[status],
    Status: status,
    ...(s.call ? { 'Call-ID': s.call.callId } : {}),
    ...(s.call && status === 'ringing' ? { 'Ring-Timeout': s.call.ringTimeoutMs / 1000 } : {}),
    ...(s.call?.leg !== undefined && status === 'answered' ? { 'Agent-Call-ID': s.call.leg } : {}),
    ...(status === 'ringing' || status === 'answered' || status === 'wrapup'
      ? { 'Wrapup-Timeout': s.wrapupMs / 1000 }
      : {}),
    'Process-ID': s.queue,
  };
  for (const q of queues)
    logSend(
      s,
      ctx,
      acdcSend(s.a.env, 'queue_agent_change', {
        ...change,
        'Queue-ID': q,
        ...(queueOnly ? { 'Queue-Only': true } : {}),
      }),
      'queue_agent_change',
    );
  // The agent's processes on other nodes (and this one: its claim) hear it on its own key.
  if (queueOnly || queues.length === 0 || s.queue === undefined) return;
  logSend(s, ctx, acdcSend(s.a.env, 'agent_shared_state', change), 'agent_shared_state');
}

/**
 * login_queue / logout_queue (Kazoo's kapi_acdc_agent login_queue, logout_queue): the
 * agent joins or leaves one of its queues. Joining while logged out logs it in to that
 * queue alone; leaving its last queue logs it out; leaving the queue it rings for hands
 * the caller back.
 */
function onQueueAction(s: State, name: string, queueId: string | undefined, ctx: ProcessContext): void {
  if (queueId === undefined || !s.a.queues.includes(queueId)) {
    ctx.log.warn(
      { agent_id: s.a.agentId, action: name, queue_id: queueId, queues: s.a.queues },
      'acdc agent: queue action for a queue the agent is not in; ignored',
    );
    return;
  }
  if (name === 'login_queue') {
    if (s.active.has(queueId)) return;
    s.active.add(queueId);
    if (s.status === 'logged_out') {
      s.misses = 0;
      setStatus(s, ctx, 'ready', 'login_queue');
    } else publishChange(s, ctx, [queueId], s.status);
    ctx.log.info({ agent_id: s.a.agentId, queue_id: queueId }, 'acdc agent: logged in to a queue');
    return;
  }
  if (!s.active.has(queueId)) return;
  if (s.active.size === 1) {
    if (s.status === 'ringing') giveBack(s, ctx, 'logout_queue');
    setStatus(s, ctx, 'logged_out', 'logout_queue');
    return;
  }
  if (s.status === 'ringing' && s.call?.queueId === queueId) {
    giveBack(s, ctx, 'logout_queue');
    setStatus(s, ctx, 'ready', 'logout_queue');
  }
  s.active.delete(queueId);
  publishChange(s, ctx, [queueId], 'logged_out', true);
  ctx.log.info({ agent_id: s.a.agentId, queue_id: queueId }, 'acdc agent: logged out of a queue');
}

/** Stops ringing the current caller and hands it back to its worker (retry). */
function giveBack(s: State, ctx: ProcessContext, why: string): void {
  const c = s.call;
  if (c === undefined) return;
  if (c.ringTimer !== undefined) ctx.cancelTimer(c.ringTimer);
  s.a.device.stop(c.callId, ctx.runtime);
  ctx.log.info({ call_id: c.callId, agent_id: s.a.agentId, why }, 'acdc agent: caller handed back');
  logSend(
    s,
    ctx,
    acdcSend(
      s.a.env,
      'member_connect_retry',
      { 'Call-ID': c.callId, 'Agent-ID': s.a.agentId, 'Process-ID': s.queue },
      c.worker,
    ),
    'member_connect_retry',
    c.callId,
  );
  s.call = undefined;
}

function miss(s: State, ctx: ProcessContext, why: string): void {
  s.misses += 1;
  giveBack(s, ctx, why);
  if (s.misses >= s.a.maxMisses) {
    const to = s.a.missAction === 'pause' ? 'paused' : 'logged_out';
    ctx.log.warn(
      { agent_id: s.a.agentId, misses: s.misses, to },
      'acdc agent: too many missed calls; out of rotation until login or resume',
    );
    setStatus(s, ctx, to, 'missed calls');
  } else setStatus(s, ctx, 'ready', why);
}

function onWin(s: State, m: Envelope, ctx: ProcessContext): void {
  const call = (m.Call ?? {}) as Record<string, unknown>;
  const callId = str(call['Call-ID']) ?? str(m['Call-ID']);
  const worker = str(m['Process-ID']);
  if (callId === undefined || worker === undefined) {
    ctx.log.warn(
      { agent_id: s.a.agentId },
      'acdc agent: connect_win without Call.Call-ID or Process-ID; dropped',
    );
    return;
  }
  if (s.status !== 'ready' || !s.active.has(String(m['Queue-ID']))) {
    ctx.log.info(
      { call_id: callId, agent_id: s.a.agentId, status: s.status, queue_id: m['Queue-ID'] },
      'acdc agent: win while not ready (or not logged in to the queue)',
    );
    logSend(
      s,
      ctx,
      acdcSend(s.a.env, 'member_connect_retry', { 'Call-ID': callId, 'Agent-ID': s.a.agentId }, worker),
      'member_connect_retry',
      callId,
    );
    return;
  }
  const ringTimeoutMs = (num(m['Ring-Timeout']) ?? 15) * 1000;
  s.wrapupMs = (num(m['Wrapup-Timeout']) ?? 0) * 1000;
  const queueId = String(m['Queue-ID']);
  s.call = { callId, queueId, worker, ringTimeoutMs };
  s.call.ringTimer = ctx.sendAfter(ringTimeoutMs, { type: 'ring_timeout', callId } satisfies Info);
  // The claim: the device rings once this `ringing` comes back over the bus (onClaimed).
  setStatus(s, ctx, 'ringing', 'connect_win');
}

/**
 * This process's own `ringing` came back over the bus: the claim. The device rings on the
 * mailbox's next turn (ring_claimed, sent to itself), so that a peer's `ringing` already
 * delivered with it (both claims in one read from the broker) is heard first: the process
 * that yields then never rings, instead of ringing and stopping at once.
 */
function onClaimed(s: State, m: Envelope, ctx: ProcessContext): void {
  const c = s.call;
  if (c === undefined || c.claimed === true || s.status !== 'ringing' || m.Status !== 'ringing') return;
  if (str(m['Call-ID']) !== c.callId) return;
  c.claimed = true;
  ctx.send(ctx.self, { type: 'ring_claimed', callId: c.callId } satisfies Info);
}

/** The claim still stands after what was in the mailbox with it: the agent's device rings. */
function ringClaimed(s: State, callId: string, ctx: ProcessContext): void {
  const c = s.call;
  if (c === undefined || c.callId !== callId || c.claimed !== true || c.rung === true) return;
  if (s.status !== 'ringing') return;
  c.rung = true;
  const { queueId, ringTimeoutMs } = c;
  const self = ctx.self;
  s.a.device.ring({ agentId: s.a.agentId, queueId, callId, ringTimeoutMs }, ctx.runtime).then(
    (result) => ctx.send(self, { type: 'ring_result', callId, result } satisfies Info),
    (err: unknown) => {
      ctx.log.warn({ err, call_id: callId, agent_id: s.a.agentId }, 'acdc agent: ringing failed');
      ctx.send(self, { type: 'ring_result', callId, result: { answered: false } } satisfies Info);
    },
  );
}

/**
 * A peer process of this agent rings or talks while this one rings for its own caller:
 * both took a win before hearing the other's `ringing`. The one that yields is the same
 * whichever hears first: a peer talking (answered, wrapup) wins; of two ringing, the lower
 * Process-ID. The yielding one hands its caller back (no miss) and follows the peer.
 */
function yieldsTo(s: State, status: AgentStatus, peer: string): boolean {
  if (s.call === undefined || s.status !== 'ringing' || s.queue === undefined) return false;
  return status === 'answered' || status === 'wrapup' || (status === 'ringing' && peer < s.queue);
}

const isStatus = (v: unknown): v is AgentStatus =>
  typeof v === 'string' && (AGENT_STATUSES as readonly string[]).includes(v) && v in CHANGE;

/**
 * Takes the state a peer process of this agent (another node) published or answered,
 * without publishing it again. A call of this process's own keeps its state. Coming in
 * from logged_out, it is logged in to `queues` (the peer's, at sync) or all its queues.
 */
function follow(
  s: State,
  ctx: ProcessContext,
  status: AgentStatus,
  why: string,
  timeLeftS = 0,
  queues?: readonly string[],
  peer?: Envelope,
  force = false,
): void {
  if (s.call !== undefined || (status === s.status && !force)) return;
  s.followed =
    peer !== undefined && (status === 'ringing' || status === 'answered' || status === 'wrapup')
      ? {
          callId: str(peer['Call-ID']),
          queueId: str(peer['Queue-ID']),
          leg: str(peer['Agent-Call-ID']),
          wrapupMs: (num(peer['Wrapup-Timeout']) ?? 0) * 1000,
        }
      : undefined;
  const ringTimeoutS = peer !== undefined ? num(peer['Ring-Timeout']) : undefined;
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = undefined;
  const from = s.status;
  s.status = status;
  s.since = Date.now();
  s.pristine = false;
  s.pauseUntil = undefined;
  if (status === 'logged_out') s.active.clear();
  else if (s.active.size === 0)
    for (const q of queues ?? s.a.queues) if (s.a.queues.includes(q)) s.active.add(q);
  if (status === 'paused' && timeLeftS > 0) {
    s.pauseUntil = Date.now() + timeLeftS * 1000;
    s.timer = ctx.sendAfter(timeLeftS * 1000, { type: 'pause_done' } satisfies Info);
  }
  // A peer's ringing ends within its Ring-Timeout (answered or missed), unless its node died.
  if (status === 'ringing' && ringTimeoutS !== undefined)
    s.timer = ctx.sendAfter(ringTimeoutS * 1000 + PEER_RING_GRACE_MS, {
      type: 'peer_ring_over',
    } satisfies Info);
  // Its wrapup ends within Wrapup-Timeout, unless its node died.
  if (status === 'wrapup' && s.followed !== undefined && peer?.['Wrapup-Timeout'] !== undefined)
    s.timer = ctx.sendAfter(s.followed.wrapupMs + PEER_RING_GRACE_MS, {
      type: 'peer_wrapup_over',
    } satisfies Info);
  // Its call is followed on the switch: should the peer's node die, its end is still heard.
  const leg = s.followed?.leg;
  if (status === 'answered' && leg !== undefined) s.a.device.watchLeg?.(leg, ctx.self, ctx.runtime);
  ctx.log.info({ agent_id: s.a.agentId, from, to: status, why }, 'acdc agent: state from a peer');
}

function onSync(s: State, name: string, m: Envelope, ctx: ProcessContext): void {
  const peer = str(m['Process-ID']);
  if (peer === undefined || peer === s.queue || str(m['Agent-ID']) !== s.a.agentId) return;
  if (name === 'sync_req') {
    if (s.pristine) return;
    logSend(
      s,
      ctx,
      acdcSend(
        s.a.env,
        'agent_sync_resp',
        {
          'Account-ID': s.a.env.accountId,
          'Agent-ID': s.a.agentId,
          Status: s.status,
          'Process-ID': s.queue,
          ...(s.call ? { 'Call-ID': s.call.callId } : {}),
          'Queue-IDs': [...s.active],
          ...(s.status === 'paused' && s.pauseUntil !== undefined
            ? { 'Time-Left': Math.max(1, Math.ceil((s.pauseUntil - Date.now()) / 1000)) }
            : {}),
        },
        peer,
      ),
      'agent_sync_resp',
    );
    return;
  }
  if (!s.pristine || !isStatus(m.Status)) return;
  const queues = Array.isArray(m['Queue-IDs']) ? m['Queue-IDs'].map(String) : undefined;
  follow(s, ctx, m.Status, 'synced at start', num(m['Time-Left']) ?? 0, queues);
}

function onAction(s: State, name: string, m: Envelope, ctx: ProcessContext): void {
  switch (name) {
    case 'login':
    case 'resume':
      if (name === 'login' || s.status === 'logged_out') for (const q of s.a.queues) s.active.add(q);
      if (s.status === 'logged_out' || s.status === 'paused') {
        s.misses = 0;
        setStatus(s, ctx, 'ready', name);
      } else if (name === 'login') publishChange(s, ctx, s.a.queues, s.status);
      return;
    case 'login_queue':
    case 'logout_queue':
      onQueueAction(s, name, str(m['Queue-ID']), ctx);
      return;
    case 'logout':
      if (s.status === 'ringing') giveBack(s, ctx, 'logout');
      setStatus(s, ctx, 'logged_out', 'logout');
      return;
    case 'pause': {
      if (s.status === 'logged_out') return;
      if (s.status === 'ringing') giveBack(s, ctx, 'pause');
      setStatus(s, ctx, 'paused', 'pause');
      const limit = num(m['Time-Limit']) ?? 0;
      s.pauseUntil = limit > 0 ? Date.now() + limit * 1000 : undefined;
      if (limit > 0) s.timer = ctx.sendAfter(limit * 1000, { type: 'pause_done' } satisfies Info);
      return;
    }
    case 'end_wrapup':
      if (s.status === 'wrapup') setStatus(s, ctx, 'ready', 'end_wrapup');
      return;
    default:
      ctx.log.info({ agent_id: s.a.agentId, action: name }, 'acdc agent: action not supported; ignored');
  }
}

/** A call is over (its own, or one taken over from a peer): wrapup, or ready. */
function afterCall(s: State, ctx: ProcessContext, why: string): void {
  if (s.wrapupMs > 0) {
    setStatus(s, ctx, 'wrapup', why);
    s.timer = ctx.sendAfter(s.wrapupMs, { type: 'wrapup_done' } satisfies Info);
  } else setStatus(s, ctx, 'ready', why);
}

/** A followed peer's ringing ended with no word from it, and no call of the agent's followed it. */
function peerRingOver(s: State, ctx: ProcessContext): void {
  ctx.log.warn({ agent_id: s.a.agentId }, "acdc agent: a peer's ringing never ended; ready again");
  s.followed = undefined;
  setStatus(s, ctx, 'ready', 'peer ring never ended');
}

/**
 * A dead peer's ring was answered: the caller is bridged to this agent's leg. This
 * process takes the call over (busy, published) until that leg ends (watchLeg).
 */
function adopt(s: State, ctx: ProcessContext, callId: string, leg: string): void {
  const f = s.followed;
  ctx.log.warn(
    { agent_id: s.a.agentId, call_id: callId, leg },
    "acdc agent: a peer's ring was answered and the peer never said so; its call is followed here",
  );
  s.followed = undefined;
  s.wrapupMs = f?.wrapupMs ?? 0;
  s.call = { callId, queueId: f?.queueId ?? '', worker: '', ringTimeoutMs: 0, claimed: true, leg };
  setStatus(s, ctx, 'answered', "peer's ring answered");
  s.a.device.watchLeg?.(leg, ctx.self, ctx.runtime);
}

const Agent: GenListenerBehaviour<State, AgentArgs, Call, Cast> = {
  name: 'acdc_agent',
  init: (a) =>
    ok({
      a,
      status: 'logged_out',
      since: Date.now(),
      misses: 0,
      calls: 0,
      wrapupMs: 0,
      pristine: true,
      active: new Set<string>(),
    }),
  listen: (a) => ({
    queue: '',
    bindings: [
      ...a.queues.map((q) => ({ exchange: 'kapps', routingKey: memberConnectReqKey(a.env.accountId, q) })),
      { exchange: 'kapps', routingKey: agentActionKey(a.env.accountId, a.agentId) },
      { exchange: 'kapps', routingKey: agentStatsReqKey(a.env.accountId) },
      { exchange: 'kapps', routingKey: agentStatsReqKey(a.env.accountId, a.agentId) },
      { exchange: 'kapps', routingKey: agentSyncReqKey(a.env.accountId, a.agentId) },
      { exchange: 'kapps', routingKey: agentSharedKey(a.env.accountId, a.agentId) },
    ],
    responders: [
      {
        category: 'member',
        name: '*',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
      {
        category: 'agent',
        name: '*',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
    ],
  }),
  handleCall: (_c, _from, s) => reply(view(s), s),
  handleCast({ m }, s, ctx) {
    const name = String(m['Event-Name']);
    const callId = str(m['Call-ID']);
    if (m['Event-Category'] === 'member') {
      if (name === 'connect_req') {
        const to = str(m['Server-ID']);
        if (s.status !== 'ready' || to === undefined || !s.active.has(String(m['Queue-ID'])))
          return noreply(s);
        logSend(
          s,
          ctx,
          acdcSend(
            s.a.env,
            'member_connect_resp',
            {
              'Msg-ID': m['Msg-ID'],
              'Agent-ID': s.a.agentId,
              'Idle-Time': Math.floor((Date.now() - s.since) / 1000),
              'Process-ID': s.queue,
            },
            to,
          ),
          'member_connect_resp',
          callId,
        );
      } else if (name === 'connect_win') {
        const named = str(m['Agent-ID']);
        if (named !== undefined && named !== s.a.agentId) {
          ctx.log.warn(
            { call_id: callId, agent_id: s.a.agentId, named },
            'acdc agent: win for another agent; dropped',
          );
        } else onWin(s, m, ctx);
      }
      return noreply(s);
    }
    if (name === 'shared_state') {
      const peer = str(m['Process-ID']);
      if (str(m['Agent-ID']) !== s.a.agentId || peer === undefined) return noreply(s);
      if (!isStatus(m.Status)) return noreply(s);
      // Its own change, back over the bus: the claim of a ringing.
      if (peer === s.queue) {
        onClaimed(s, m, ctx);
        return noreply(s);
      }
      // A peer process of this agent (another node) changed state.
      let force = false;
      if (yieldsTo(s, m.Status, peer)) {
        ctx.log.info(
          {
            call_id: s.call?.callId,
            agent_id: s.a.agentId,
            peer_call_id: m['Call-ID'],
            peer_status: m.Status,
          },
          'acdc agent: a peer process took the agent at the same time; yielding',
        );
        giveBack(s, ctx, 'peer took the agent');
        force = true;
      }
      follow(s, ctx, m.Status, `peer ${m.Change as string}`, 0, undefined, m, force);
      return noreply(s);
    }
    if (name === 'sync_req' || name === 'sync_resp') {
      onSync(s, name, m, ctx);
      return noreply(s);
    }
    if (name === 'connect_timeout') {
      const c = s.call;
      if (s.status === 'ringing' && c !== undefined && c.callId === callId) {
        if (c.ringTimer !== undefined) ctx.cancelTimer(c.ringTimer);
        s.a.device.stop(c.callId, ctx.runtime);
        setStatus(s, ctx, 'ready', 'worker gave up the caller');
        s.call = undefined;
      } else
        ctx.log.info(
          { call_id: callId, agent_id: s.a.agentId },
          'acdc agent: timeout of a call not ringing; ignored',
        );
      return noreply(s);
    }
    if (name === 'stats_req') {
      const to = str(m['Server-ID']);
      const wanted = str(m['Agent-ID']);
      // A pristine process answers only a question about this agent alone (crossbar's).
      if (
        to === undefined ||
        (wanted === undefined && s.pristine) ||
        (wanted !== undefined && wanted !== s.a.agentId)
      )
        return noreply(s);
      logSend(
        s,
        ctx,
        acdcSend(
          s.a.env,
          'agent_stats_resp',
          {
            'Msg-ID': m['Msg-ID'],
            'Account-ID': s.a.env.accountId,
            'Agent-ID': s.a.agentId,
            'Current-Statuses': { [s.a.agentId]: { ...view(s), queues: s.a.queues } },
          },
          to,
        ),
        'agent_stats_resp',
      );
      return noreply(s);
    }
    if (str(m['Agent-ID']) === s.a.agentId) onAction(s, name, m, ctx);
    return noreply(s);
  },
  handleInfo(msg, s, ctx) {
    const i = msg as Info;
    switch (i.type) {
      case 'gen_listener':
        if (i.event === 'created_queue') s.queue = i.queue;
        if (i.event === 'consuming' && s.pristine)
          logSend(
            s,
            ctx,
            acdcSend(s.a.env, 'agent_sync_req', {
              'Account-ID': s.a.env.accountId,
              'Agent-ID': s.a.agentId,
              'Process-ID': s.queue,
            }),
            'agent_sync_req',
          );
        return noreply(s);
      case 'ring_claimed':
        ringClaimed(s, i.callId, ctx);
        return noreply(s);
      case 'ring_result': {
        const c = s.call;
        if (s.status !== 'ringing' || c?.callId !== i.callId) {
          ctx.log.warn(
            { call_id: i.callId, agent_id: s.a.agentId, status: s.status, answered: i.result.answered },
            'acdc agent: late ringing result of another call; ignored',
          );
          if (i.result.answered) s.a.device.stop(i.callId, ctx.runtime);
          return noreply(s);
        }
        if (!i.result.answered) {
          miss(s, ctx, 'not answered');
          return noreply(s);
        }
        if (c.ringTimer !== undefined) ctx.cancelTimer(c.ringTimer);
        s.misses = 0;
        s.calls += 1;
        c.leg = i.result.leg;
        setStatus(s, ctx, 'answered', 'answered');
        logSend(
          s,
          ctx,
          acdcSend(
            s.a.env,
            'member_connect_accepted',
            { 'Call-ID': c.callId, 'Agent-ID': s.a.agentId, 'Process-ID': s.queue },
            c.worker,
          ),
          'member_connect_accepted',
          c.callId,
        );
        const self = ctx.self;
        const callId = c.callId;
        i.result.ended.then(
          () => ctx.send(self, { type: 'call_ended', callId } satisfies Info),
          () => ctx.send(self, { type: 'call_ended', callId } satisfies Info),
        );
        return noreply(s);
      }
      case 'ring_timeout':
        if (s.status === 'ringing' && s.call?.callId === i.callId) miss(s, ctx, 'ring timeout');
        return noreply(s);
      case 'call_ended':
        if (s.status !== 'answered' || s.call?.callId !== i.callId) {
          ctx.log.info(
            { call_id: i.callId, agent_id: s.a.agentId, status: s.status },
            'acdc agent: late call end; ignored',
          );
          return noreply(s);
        }
        s.call = undefined;
        afterCall(s, ctx, 'call ended');
        return noreply(s);
      case 'wrapup_done':
        if (s.status === 'wrapup') setStatus(s, ctx, 'ready', 'wrapup over');
        return noreply(s);
      case 'pause_done':
        if (s.status === 'paused') setStatus(s, ctx, 'ready', 'pause time limit');
        return noreply(s);
      case 'peer_ring_over': {
        // Followed a peer's ringing that never ended: that peer (its node) is gone. Its
        // ring may have been answered all the same: the caller's status tells.
        const callId = s.followed?.callId;
        if (s.status !== 'ringing' || s.call !== undefined) return noreply(s);
        if (callId === undefined) {
          peerRingOver(s, ctx);
          return noreply(s);
        }
        const self = ctx.self;
        void callerStatus(s.a.env, callId, ctx.log).then((status) =>
          ctx.send(self, { type: 'peer_ring_checked', callId, status } satisfies Info),
        );
        return noreply(s);
      }
      case 'peer_ring_checked':
        if (s.status !== 'ringing' || s.call !== undefined || s.followed?.callId !== i.callId)
          return noreply(s);
        if (i.status.state === 'bridged' && i.status.otherLeg.startsWith(`acdc-${s.a.agentId}-`))
          adopt(s, ctx, i.callId, i.status.otherLeg);
        else peerRingOver(s, ctx);
        return noreply(s);
      case 'leg_ended':
        if (s.call?.leg === i.leg && s.status === 'answered')
          ctx.send(ctx.self, { type: 'call_ended', callId: s.call.callId } satisfies Info);
        else if (s.call === undefined && s.status === 'answered' && s.followed?.leg === i.leg) {
          // The peer publishes the end in a moment, unless its node is gone.
          if (s.timer !== undefined) ctx.cancelTimer(s.timer);
          s.timer = ctx.sendAfter(PEER_RING_GRACE_MS, { type: 'peer_call_over', leg: i.leg } satisfies Info);
        }
        return noreply(s);
      case 'peer_call_over': {
        const f = s.followed;
        if (s.call !== undefined || s.status !== 'answered' || f?.leg !== i.leg) return noreply(s);
        ctx.log.warn(
          { agent_id: s.a.agentId, call_id: f.callId, leg: i.leg },
          "acdc agent: a peer's call ended and the peer never said so; the peer is taken as gone",
        );
        s.wrapupMs = f.wrapupMs;
        afterCall(s, ctx, "peer's call ended");
        return noreply(s);
      }
      case 'peer_wrapup_over':
        if (s.status === 'wrapup' && s.call === undefined) {
          ctx.log.warn({ agent_id: s.a.agentId }, "acdc agent: a peer's wrapup never ended; ready again");
          setStatus(s, ctx, 'ready', 'peer wrapup never ended');
        }
        return noreply(s);
      default:
        return noreply(s);
    }
  },
};

export const agentChildSpec = (a: AgentArgs): ChildSpec =>
  GenListener.childSpec(agentName(a.agentId), Agent, a, {
    transport: a.env.bus,
    name: agentName(a.agentId),
    shutdown: 5000,
    appName: 'acdc',
  });
