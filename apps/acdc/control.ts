/**
 * Reading and steering the call center from outside its processes, over the bus: what
 * crossbar's acdc routes and the acdc app's operations (`fife acdc ...`) both use.
 *
 * Contract
 * - `askQueueStats(r, ctx, account, queue)`: one queue_stats_req through the requester
 *   `r`; the first manager's `Stats`, or undefined when no manager answered within the
 *   requester's timeout (the queue does not run).
 * - `askAgentStatus(r, ctx, account, agent)`: one agent_stats_req naming the agent (so a
 *   process that never changed state answers too); `{agent_id, status, queues, misses,
 *   calls, call_id?}` or undefined when no agent process answered.
 * - `sendAgentAction(r, ctx, account, agent, action, timeout?)`: publishes agent_<action>
 *   (login, logout, pause, resume, end_wrapup); pause's `timeout` seconds as Time-Limit.
 *   Resolves once published; the agent's processes change state on their own.
 * - `checkAgentAction(data)`: the action and timeout of a request, or throws
 *   AgentActionError naming the bad field (`status` or `timeout`).
 * - `askAgentsStats(r, ctx, account, {expect?, windowMs?})`: one agent_stats_req for the
 *   whole account; every agent process's answer collected for `windowMs` (default 1000),
 *   or until every id in `expect` answered: `{<agent-id>: {status, queues,
 *   logged_in_queues, misses, calls, call_id?}}` (the first answer per agent). An agent
 *   process that never changed state since it started does not answer (it is logged out).
 * - `checkQueueAction(data)` / `sendQueueAction(r, ctx, account, agent, action, queue)`:
 *   `{action: login|logout, queue_id}` (Kazoo's cb_agents queue_status) published as
 *   agent_login_queue / agent_logout_queue; bad input throws AgentActionError (`action`
 *   or `queue_id`).
 */
import { build, destination, type BuildContext, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import { CollectTimeoutError, type Envelope, type Requester } from '../../src/bus/index.ts';

export const AGENT_ACTIONS = ['login', 'logout', 'pause', 'resume', 'end_wrapup'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

export interface AgentStatus {
  agent_id: string;
  status: unknown;
  queues: unknown[];
  /** The queues it is logged in to (login_queue / logout_queue). */
  logged_in_queues: unknown[];
  misses: number;
  calls: number;
  call_id?: string;
}

export const QUEUE_ACTIONS = ['login', 'logout'] as const;
export type QueueAction = (typeof QUEUE_ACTIONS)[number];

export function checkQueueAction(data: Record<string, unknown>): { action: QueueAction; queueId: string } {
  const action = data.action;
  if (typeof action !== 'string' || !(QUEUE_ACTIONS as readonly string[]).includes(action))
    throw new AgentActionError('action', `must be one of ${QUEUE_ACTIONS.join(', ')}`);
  const queueId = data.queue_id;
  if (typeof queueId !== 'string' || queueId === '')
    throw new AgentActionError('queue_id', 'must be a queue id');
  return { action: action as QueueAction, queueId };
}

export class AgentActionError extends Error {
  constructor(
    readonly field: 'status' | 'timeout' | 'action' | 'queue_id',
    message: string,
  ) {
    super(`${field} ${message}`);
  }
}

export function checkAgentAction(data: Record<string, unknown>): { action: AgentAction; timeout?: number } {
  const action = data.status;
  if (typeof action !== 'string' || !(AGENT_ACTIONS as readonly string[]).includes(action))
    throw new AgentActionError('status', `must be one of ${AGENT_ACTIONS.join(', ')}`);
  const timeout = data.timeout;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0)))
    throw new AgentActionError('timeout', 'must be a number of seconds >= 0');
  return { action: action as AgentAction, ...(timeout === undefined ? {} : { timeout }) };
}

/** Asks on the bus; the first answer passing `ok`, or undefined when none came. */
async function ask(
  r: Requester,
  ctx: BuildContext,
  id: string,
  fields: Record<string, unknown>,
  ok: (m: Envelope) => boolean,
): Promise<Envelope | undefined> {
  const msg = build(id, fields, ctx);
  try {
    return await r.call(msg as unknown as Envelope, destination(id, msg as ApiEnvelope), { validate: ok });
  } catch {
    return undefined;
  }
}

export async function askQueueStats(
  r: Requester,
  ctx: BuildContext,
  accountId: string,
  queueId: string,
): Promise<Record<string, unknown> | undefined> {
  const reply = await ask(
    r,
    ctx,
    'queue_stats_req',
    { 'Account-ID': accountId, 'Queue-ID': queueId },
    (m) => m['Event-Name'] === 'stats_resp' && m['Queue-ID'] === queueId,
  );
  return reply === undefined ? undefined : { ...(reply.Stats as Record<string, unknown>) };
}

export async function askAgentStatus(
  r: Requester,
  ctx: BuildContext,
  accountId: string,
  agentId: string,
): Promise<AgentStatus | undefined> {
  const reply = await ask(
    r,
    ctx,
    'agent_stats_req',
    { 'Account-ID': accountId, 'Agent-ID': agentId },
    (m) => m['Event-Name'] === 'stats_resp' && m['Agent-ID'] === agentId,
  );
  if (reply === undefined) return undefined;
  const statuses = (reply['Current-Statuses'] ?? {}) as Record<string, Record<string, unknown>>;
  return statusOf(agentId, statuses[agentId] ?? {});
}

/** An agent process's Current-Statuses entry as crossbar and the CLI show it. */
function statusOf(agentId: string, v: Record<string, unknown>): AgentStatus {
  return {
    agent_id: agentId,
    status: v.status,
    queues: Array.isArray(v.queues) ? v.queues : [],
    logged_in_queues: Array.isArray(v.loggedInQueues) ? v.loggedInQueues : [],
    misses: typeof v.misses === 'number' ? v.misses : 0,
    calls: typeof v.calls === 'number' ? v.calls : 0,
    ...(typeof v.callId === 'string' ? { call_id: v.callId } : {}),
  };
}

export async function askAgentsStats(
  r: Requester,
  ctx: BuildContext,
  accountId: string,
  o: { expect?: readonly string[]; windowMs?: number } = {},
): Promise<Record<string, Omit<AgentStatus, 'agent_id'>>> {
  const id = 'agent_stats_req';
  const msg = build(id, { 'Account-ID': accountId }, ctx);
  const out: Record<string, Omit<AgentStatus, 'agent_id'>> = {};
  const take = (replies: readonly Envelope[]): void => {
    for (const m of replies) {
      const statuses = (m['Current-Statuses'] ?? {}) as Record<string, Record<string, unknown>>;
      for (const [agentId, v] of Object.entries(statuses)) {
        if (agentId in out) continue;
        const { agent_id: _a, ...rest } = statusOf(agentId, v);
        out[agentId] = rest;
      }
    }
  };
  const expected = o.expect ?? [];
  const replies = await r
    .callCollect(msg as unknown as Envelope, destination(id, msg as ApiEnvelope), {
      timeoutMs: o.windowMs ?? 1000,
      validate: (m) => m['Event-Name'] === 'stats_resp',
      ...(expected.length === 0
        ? {}
        : {
            until: (rs: readonly Envelope[]) => {
              take(rs);
              return expected.every((a) => a in out);
            },
          }),
    })
    .catch((err: unknown) => {
      // Not every expected agent answered in time: those that did.
      if (err instanceof CollectTimeoutError) return err.replies as readonly Envelope[];
      throw err;
    });
  take(replies);
  return out;
}

export async function sendQueueAction(
  r: Requester,
  ctx: BuildContext,
  accountId: string,
  agentId: string,
  action: QueueAction,
  queueId: string,
): Promise<void> {
  const id = `agent_${action}_queue`;
  const msg = build(id, { 'Account-ID': accountId, 'Agent-ID': agentId, 'Queue-ID': queueId }, ctx);
  await r.cast(msg as unknown as Envelope, destination(id, msg as ApiEnvelope));
}

export async function sendAgentAction(
  r: Requester,
  ctx: BuildContext,
  accountId: string,
  agentId: string,
  action: AgentAction,
  timeout?: number,
): Promise<void> {
  const id = `agent_${action}`;
  const msg = build(
    id,
    {
      'Account-ID': accountId,
      'Agent-ID': agentId,
      ...(action === 'pause' && typeof timeout === 'number' ? { 'Time-Limit': timeout } : {}),
    },
    ctx,
  );
  await r.cast(msg as unknown as Envelope, destination(id, msg as ApiEnvelope));
}
