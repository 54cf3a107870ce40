/**
 * One competing worker of an ACDC queue (Kazoo's acdc_queue_worker_sup with its
 * acdc_queue_listener, acdc_queue_shared and acdc_queue_fsm): two gen_listeners under a
 * one_for_all supervisor (acdc_queue_sup.ts).
 *
 * Contract
 * - acdc_queue_shared:<queue-id>:<n> consumes the durable shared queue of waiting callers
 *   (`acdc.queue.<account>.<queue>`, bound to member_call's key) with prefetch 1 and manual
 *   ack, and hands each member_call (with its delivery) to the fsm. The queue is declared
 *   with x-max-priority `maxPriority`: callers come out by Member-Priority (the message's
 *   AMQP priority), higher first, then in order of arrival.
 * - acdc_queue_fsm:<queue-id>:<n> (anonymous queue) hears only its own caller's results
 *   (member_call_cancel): the shared listener binds
 *   `acdc.member.call_result.<account>.<queue>.<call-id>` to it before handing the caller
 *   over, and the fsm unbinds it when done. It offers its one caller when the manager
 *   says it is up next (at most one offer per free agent at once): member_connect_req to
 *   every agent of the queue (Server-ID = its queue), collects member_connect_resp until
 *   as many as the manager counts free agents answered (and one of them has not missed
 *   this caller yet) or `collectMs` passed, asks the
 *   manager to pick (agents who already missed this caller last), sends member_connect_win
 *   to that one agent, and waits for member_connect_accepted (then acks the caller and
 *   publishes member_call_success) or member_connect_retry / the ring timeout (then
 *   agent_timeout to the agent and a new offer to the others). Nobody free: it waits for
 *   the manager's `agent_available` (or `retryMs`) and asks again.
 * - The caller's wait ends (acked, member_call_fail `timeout`) at `connectionTimeoutMs`,
 *   and (member_call_fail `no_agents`) when no agent is ready and the manager says the
 *   last agent of the queue logged out (kazoo #1334: callers do not wait in vain); a
 *   member_call_cancel for it (or one the manager remembered before it was taken) ends it
 *   too, and a ringing agent gets agent_timeout.
 * - Not acked before the fsm or shared listener dies: the consumer is cancelled and the
 *   broker gives the caller to another worker (here or on another node), marked redelivered.
 *   The same caller delivered again to the fsm holding it (its first delivery came through
 *   a consumer that went away during a restart) replaces the held delivery: one caller,
 *   one offer, the live delivery acked.
 * - A redelivered caller (its worker or node died holding it), or one whose offered agent
 *   said nothing within the ring timeout (its process or node died), is looked up on its switch
 *   before each offer (caller-status.ts, Kazoo's is_call_alive): bridged already (to an
 *   agent the dead worker's offer rang) it is done, outcome `already_bridged`; hung up
 *   (every ecallmgr says terminated: it hung up while its callflow's node was dead) it is
 *   done, outcome `caller_gone`; an agent the manager knows busy with it (agent_change Call-ID):
 *   `already_answered`; an agent still ringing for it: it waits (no second agent rung at
 *   once); else offered as usual.
 * - Every outcome is one log line with the caller's call_id.
 */
import {
  CallError,
  GenServer,
  noreply,
  ok,
  type ChildSpec,
  type ProcessContext,
  type Ref,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import type { Delivery } from '../../src/bus/index.ts';
import { acdcSharedQueue, memberCallKey, memberCallResultKey, type Envelope } from '../../src/api/index.ts';
import { acdcSend, type AcdcEnv } from './send.ts';
import { managerName, type ManagerCall } from './manager.ts';
import { callerStatus } from './caller-status.ts';

export interface QueueTiming {
  readonly ringTimeoutMs: number;
  readonly wrapupMs: number;
  readonly connectionTimeoutMs: number;
  readonly collectMs: number;
  readonly retryMs: number;
}

export interface WorkerArgs {
  readonly env: AcdcEnv;
  readonly queueId: string;
  readonly n: number;
  readonly timing: QueueTiming;
  /** The shared queue's x-max-priority (0: none). */
  readonly maxPriority: number;
}

export const fsmName = (queueId: string, n: number): string => `acdc_queue_fsm:${queueId}:${n}`;
export const sharedName = (queueId: string, n: number): string => `acdc_queue_shared:${queueId}:${n}`;

interface Caller {
  readonly callId: string;
  readonly call: Record<string, unknown>;
  delivery: Delivery;
  readonly tried: Set<string>;
  readonly deadline: Ref;
  phase: 'collecting' | 'ringing' | 'waiting';
  offer: number;
  reqMsgId?: string;
  expected: number;
  resps: Map<string, string>;
  timer?: Ref;
  agent?: { id: string; queue: string };
  /** Delivered again (its first worker or node died), or its agent fell silent: its switch is asked before each offer. */
  redelivered: boolean;
}

interface State {
  readonly a: WorkerArgs;
  queue?: string;
  cur?: Caller;
}

type Cast = { op: 'member_call'; m: Envelope; delivery: Delivery } | { op: 'msg'; m: Envelope };
type Info =
  | { type: 'collect_done'; offer: number }
  | { type: 'ring_timeout'; offer: number }
  | { type: 'retry_offer'; offer: number }
  | { type: 'agent_available' }
  | { type: 'queue_empty' }
  | { type: 'connection_timeout'; callId: string }
  | { type: 'gen_listener'; event: string; queue: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function sent(ctx: ProcessContext, p: Promise<unknown>, what: string, callId: string): void {
  p.catch((err: unknown) => ctx.log.error({ err, call_id: callId }, `acdc queue: could not send ${what}`));
}

async function managerCall<R>(s: State, ctx: ProcessContext, c: ManagerCall, dflt: R): Promise<R> {
  try {
    return (await GenServer.call(ctx.runtime, managerName(s.a.queueId), c, 2000)) as R;
  } catch (err) {
    ctx.log.warn(
      { err, queue_id: s.a.queueId, op: c.op },
      'acdc queue: manager did not answer; going on without it',
    );
    return dflt;
  }
}

async function offer(s: State, ctx: ProcessContext): Promise<void> {
  const c = s.cur;
  if (c === undefined) return;
  if (c.timer !== undefined) ctx.cancelTimer(c.timer);
  if (c.redelivered && !(await stillWaiting(s, ctx, c))) return;
  c.offer += 1;
  c.phase = 'collecting';
  c.resps = new Map();
  c.agent = undefined;
  c.expected = await managerCall(
    s,
    ctx,
    { op: 'up_next', callId: c.callId, holdMs: s.a.timing.collectMs + 1000 },
    Infinity,
  );
  if (s.cur !== c) return;
  if (c.expected === 0) return wait(s, ctx, c);
  c.timer = ctx.sendAfter(s.a.timing.collectMs, { type: 'collect_done', offer: c.offer } satisfies Info);
  try {
    const req = await acdcSend(s.a.env, 'member_connect_req', {
      'Account-ID': s.a.env.accountId,
      'Queue-ID': s.a.queueId,
      'Call-ID': c.callId,
      'Process-ID': s.queue,
      'Server-ID': s.queue,
    });
    c.reqMsgId = req['Msg-ID'];
  } catch (err) {
    ctx.log.error({ err, call_id: c.callId }, 'acdc queue: member_connect_req not sent; will ask again');
  }
}

/**
 * A redelivered caller may have been bridged to an agent rung by the worker that died:
 * asked of its switch and of the manager, a caller bridged or with an agent is not offered.
 */
async function stillWaiting(s: State, ctx: ProcessContext, c: Caller): Promise<boolean> {
  const st = await callerStatus(s.a.env, c.callId, ctx.log);
  if (s.cur !== c) return false;
  if (st.state === 'bridged') {
    finish(s, ctx, c, 'already_bridged', { other_leg: st.otherLeg });
    return false;
  }
  if (st.state === 'gone') {
    finish(s, ctx, c, 'caller_gone');
    return false;
  }
  const withAgent = await managerCall<{ agentId: string; change: string } | undefined>(
    s,
    ctx,
    { op: 'caller_with_agent', callId: c.callId },
    undefined,
  );
  if (s.cur !== c || withAgent === undefined) return s.cur === c;
  if (withAgent.change === 'busy') {
    finish(s, ctx, c, 'already_answered', { agent_id: withAgent.agentId });
    return false;
  }
  // An agent still rings for this caller (the offer of the worker that died): no second
  // agent while it rings; asked again when an agent is available or after retry_interval.
  ctx.log.info(
    { call_id: c.callId, agent_id: withAgent.agentId },
    'acdc queue: an agent rings for this caller; waiting',
  );
  c.phase = 'waiting';
  if (c.timer !== undefined) ctx.cancelTimer(c.timer);
  GenServer.cast(ctx.runtime, managerName(s.a.queueId), { op: 'wait', pid: ctx.self });
  c.timer = ctx.sendAfter(s.a.timing.retryMs, { type: 'retry_offer', offer: c.offer } satisfies Info);
  return false;
}

async function wait(s: State, ctx: ProcessContext, c: Caller): Promise<void> {
  if (await managerCall(s, ctx, { op: 'empty' }, false)) {
    if (s.cur === c) fail(s, ctx, c, 'no_agents');
    return;
  }
  if (s.cur !== c) return;
  c.phase = 'waiting';
  GenServer.cast(ctx.runtime, managerName(s.a.queueId), { op: 'wait', pid: ctx.self, callId: c.callId });
  c.timer = ctx.sendAfter(s.a.timing.retryMs, { type: 'retry_offer', offer: c.offer } satisfies Info);
  ctx.log.debug({ call_id: c.callId }, 'acdc queue: no agent ready; caller waits');
}

async function decide(s: State, ctx: ProcessContext, c: Caller): Promise<void> {
  if (c.timer !== undefined) ctx.cancelTimer(c.timer);
  const candidates = [...c.resps.keys()];
  if (candidates.length === 0) return wait(s, ctx, c);
  const winner =
    (await managerCall<string | undefined>(
      s,
      ctx,
      {
        op: 'pick',
        callId: c.callId,
        candidates,
        avoid: [...c.tried],
        holdMs: s.a.timing.ringTimeoutMs + s.a.timing.collectMs,
      },
      undefined,
    )) ?? candidates[0]!;
  if (s.cur !== c || c.phase !== 'collecting') return;
  const queue = c.resps.get(winner)!;
  c.tried.add(winner);
  c.phase = 'ringing';
  c.agent = { id: winner, queue };
  c.timer = ctx.sendAfter(s.a.timing.ringTimeoutMs + s.a.timing.collectMs, {
    type: 'ring_timeout',
    offer: c.offer,
  } satisfies Info);
  ctx.log.info({ call_id: c.callId, agent_id: winner, candidates: candidates.length }, 'acdc queue: offered');
  sent(
    ctx,
    acdcSend(
      s.a.env,
      'member_connect_win',
      {
        'Queue-ID': s.a.queueId,
        Call: c.call,
        'Agent-ID': winner,
        'Process-ID': s.queue,
        'Ring-Timeout': s.a.timing.ringTimeoutMs / 1000,
        'Wrapup-Timeout': s.a.timing.wrapupMs / 1000,
      },
      queue,
    ),
    'member_connect_win',
    c.callId,
  );
}

function agentTimeout(s: State, ctx: ProcessContext, c: Caller): void {
  if (c.phase !== 'ringing' || c.agent === undefined) return;
  sent(
    ctx,
    acdcSend(s.a.env, 'agent_timeout', { 'Queue-ID': s.a.queueId, 'Call-ID': c.callId }, c.agent.queue),
    'agent_timeout',
    c.callId,
  );
}

/** Ends the caller's wait without an agent: member_call_fail (the caller's flow goes on). */
function fail(s: State, ctx: ProcessContext, c: Caller, reason: string): void {
  agentTimeout(s, ctx, c);
  finish(s, ctx, c, reason);
  sent(
    ctx,
    acdcSend(s.a.env, 'member_call_fail', {
      'Account-ID': s.a.env.accountId,
      'Queue-ID': s.a.queueId,
      'Call-ID': c.callId,
      'Failure-Reason': reason,
    }),
    'member_call_fail',
    c.callId,
  );
}

/** The binding to one caller's results (Kazoo binds each worker to its caller's call id). */
const resultBinding = (a: { env: AcdcEnv; queueId: string }, callId: string) => ({
  exchange: 'callmgr',
  routingKey: memberCallResultKey(a.env.accountId, a.queueId, callId),
});

/** Unbinds a caller's results once the fsm is done with it (after this handler: a call to itself). */
function unbindCaller(s: State, ctx: ProcessContext, callId: string): void {
  GenListener.removeBinding(ctx.runtime, ctx.self, resultBinding(s.a, callId)).catch((err: unknown) =>
    ctx.log.error({ err, call_id: callId }, "acdc queue: could not unbind the caller's results"),
  );
}

function finish(s: State, ctx: ProcessContext, c: Caller, outcome: string, extra: object = {}): void {
  if (c.timer !== undefined) ctx.cancelTimer(c.timer);
  ctx.cancelTimer(c.deadline);
  c.delivery.ack();
  s.cur = undefined;
  unbindCaller(s, ctx, c.callId);
  GenServer.cast(ctx.runtime, managerName(s.a.queueId), { op: 'release', callId: c.callId });
  ctx.log.info({ call_id: c.callId, queue_id: s.a.queueId, outcome, ...extra }, 'acdc queue: caller done');
}

const Fsm: GenListenerBehaviour<State, WorkerArgs, never, Cast> = {
  name: 'acdc_queue_fsm',
  init: (a) => ok({ a }),
  listen: () => ({
    queue: '',
    // Bound per caller (the shared listener binds the one it hands over; finish unbinds).
    bindings: [],
    responders: [
      {
        category: 'member',
        name: '*',
        handler: (m, h) => void GenServer.cast(h.runtime, h.server, { op: 'msg', m }),
      },
    ],
  }),
  async handleCast(c, s, ctx) {
    if (c.op === 'member_call') {
      const call = (c.m.Call ?? {}) as Record<string, unknown>;
      const callId = str(call['Call-ID']);
      if (callId === undefined) {
        ctx.log.warn({ queue_id: s.a.queueId }, 'acdc queue: member_call without Call.Call-ID; dropped');
        c.delivery.ack();
        return noreply(s);
      }
      if (s.cur?.callId === callId) {
        // The same caller again: the delivery it came with was on a consumer that has gone
        // (a sibling restarted) and the broker requeued it. Keep offering; ack this one.
        ctx.log.info(
          { call_id: callId },
          'acdc queue: caller redelivered while held; keeping the new delivery',
        );
        s.cur.delivery = c.delivery;
        return noreply(s);
      }
      if (s.cur !== undefined) {
        ctx.log.error(
          { call_id: callId, holding: s.cur.callId },
          'acdc queue: a second caller while busy; requeued',
        );
        c.delivery.nack(true);
        unbindCaller(s, ctx, callId);
        return noreply(s);
      }
      if (await managerCall(s, ctx, { op: 'cancelled', callId }, false)) {
        c.delivery.ack();
        unbindCaller(s, ctx, callId);
        ctx.log.info({ call_id: callId }, 'acdc queue: caller left before being offered; dropped');
        return noreply(s);
      }
      s.cur = {
        callId,
        call,
        delivery: c.delivery,
        tried: new Set(),
        deadline: ctx.sendAfter(s.a.timing.connectionTimeoutMs, {
          type: 'connection_timeout',
          callId,
        } satisfies Info),
        phase: 'collecting',
        offer: 0,
        expected: 0,
        resps: new Map(),
        redelivered: c.delivery.redelivered === true,
      };
      ctx.log.info({ call_id: callId, redelivered: c.delivery.redelivered }, 'acdc queue: caller taken');
      await offer(s, ctx);
      return noreply(s);
    }
    const m = c.m;
    const cur = s.cur;
    const name = m['Event-Name'];
    const callId = str(m['Call-ID']);
    if (cur === undefined) return noreply(s);
    if (name === 'connect_resp') {
      if (cur.phase !== 'collecting' || m['Msg-ID'] !== cur.reqMsgId) return noreply(s);
      const agentId = String(m['Agent-ID']);
      const queue = str(m['Process-ID']) ?? str(m['Server-ID']);
      if (queue !== undefined) cur.resps.set(agentId, queue);
      // Early only with an agent who has not missed this caller yet: the manager's count
      // lags behind agents' changes, and the agent just missed answers first.
      const fresh = [...cur.resps.keys()].some((id) => !cur.tried.has(id));
      if (cur.resps.size >= cur.expected && fresh) await decide(s, ctx, cur);
    } else if (callId !== cur.callId) {
      return noreply(s);
    } else if (name === 'connect_accepted') {
      const agent = cur.agent;
      if (cur.phase === 'ringing' && agent !== undefined && agent.id === str(m['Agent-ID'])) {
        finish(s, ctx, cur, 'accepted', { agent_id: agent.id });
        sent(
          ctx,
          acdcSend(s.a.env, 'member_call_success', {
            'Account-ID': s.a.env.accountId,
            'Queue-ID': s.a.queueId,
            'Call-ID': cur.callId,
            'Agent-ID': agent.id,
          }),
          'member_call_success',
          cur.callId,
        );
      } else
        ctx.log.warn(
          { call_id: callId, agent_id: m['Agent-ID'] },
          'acdc queue: accepted by an agent not offered; ignored',
        );
    } else if (name === 'connect_retry') {
      if (cur.phase === 'ringing' && cur.agent?.id === str(m['Agent-ID'])) {
        ctx.log.info(
          { call_id: callId, agent_id: m['Agent-ID'] },
          'acdc queue: agent did not take the caller; offering again',
        );
        await offer(s, ctx);
      }
    } else if (name === 'call_cancel') {
      agentTimeout(s, ctx, cur);
      finish(s, ctx, cur, 'cancelled', { reason: m.Reason });
    }
    return noreply(s);
  },
  async handleInfo(msg, s, ctx) {
    const i = msg as Info;
    const c = s.cur;
    switch (i.type) {
      case 'gen_listener':
        if (i.event === 'created_queue') s.queue = i.queue;
        return noreply(s);
      case 'collect_done':
        if (c?.phase === 'collecting' && c.offer === i.offer) await decide(s, ctx, c);
        return noreply(s);
      case 'ring_timeout':
        if (c?.phase === 'ringing' && c.offer === i.offer) {
          ctx.log.info(
            { call_id: c.callId, agent_id: c.agent?.id },
            'acdc queue: no answer from the agent in time',
          );
          agentTimeout(s, ctx, c);
          // A live agent process answers (accepted or retry) within this time: silence is
          // a dead one (its node killed), whose ring may have been answered and bridged
          // to the caller. From now on the caller is looked up before each offer.
          c.redelivered = true;
          await offer(s, ctx);
        }
        return noreply(s);
      case 'retry_offer':
      case 'agent_available':
        if (c?.phase === 'waiting' && (i.type === 'agent_available' || c.offer === i.offer))
          await offer(s, ctx);
        return noreply(s);
      case 'connection_timeout':
        if (c?.callId === i.callId) fail(s, ctx, c, 'timeout');
        return noreply(s);
      case 'queue_empty':
        if (c?.phase === 'waiting') fail(s, ctx, c, 'no_agents');
        return noreply(s);
      default:
        return noreply(s);
    }
  },
};

interface SharedArgs {
  readonly env: AcdcEnv;
  readonly queueId: string;
  readonly n: number;
  readonly maxPriority: number;
}

const Shared: GenListenerBehaviour<null, SharedArgs> = {
  name: 'acdc_queue_shared',
  init: () => ok(null),
  listen: (a) => ({
    queue: acdcSharedQueue(a.env.accountId, a.queueId),
    queueOptions: {
      durable: true,
      autoDelete: false,
      exclusive: false,
      ...(a.maxPriority > 0 ? { maxPriority: a.maxPriority } : {}),
    },
    bindings: [{ exchange: 'callmgr', routingKey: memberCallKey(a.env.accountId, a.queueId) }],
    ackMode: 'manual',
    prefetch: 1,
    responders: [
      {
        category: 'member',
        name: 'call',
        handler: (m, h) => {
          const fsm = fsmName(a.queueId, a.n);
          const handOver = (): void => {
            const alive = GenServer.cast(h.runtime, fsm, {
              op: 'member_call',
              m,
              delivery: h.delivery,
            } satisfies Cast);
            if (!alive) {
              h.log.warn({ queue_id: a.queueId }, 'acdc queue: fsm not running; caller requeued');
              h.delivery.nack(true);
            }
          };
          const callId = str((m.Call as Record<string, unknown> | undefined)?.['Call-ID']);
          if (callId === undefined) return handOver(); // the fsm logs and drops it
          // The fsm hears this caller's results (member_call_cancel) from before it asks the
          // manager whether the caller already left: no cancel falls in between.
          GenListener.addBinding(h.runtime, fsm, resultBinding(a, callId)).then(handOver, (err: unknown) => {
            if (err instanceof CallError && err.kind === 'noproc') return handOver();
            h.log.error(
              { err, call_id: callId, queue_id: a.queueId },
              "acdc queue: could not bind the caller's results; a later member_call_cancel goes unheard",
            );
            handOver();
          });
        },
      },
    ],
  }),
};

export function workerChildSpecs(a: WorkerArgs): ChildSpec[] {
  return [
    GenListener.childSpec('fsm', Fsm, a, {
      transport: a.env.bus,
      name: fsmName(a.queueId, a.n),
      shutdown: 5000,
      appName: 'acdc',
    }),
    GenListener.childSpec('shared', Shared, a, {
      transport: a.env.bus,
      name: sharedName(a.queueId, a.n),
      shutdown: 5000,
      appName: 'acdc',
    }),
  ];
}
