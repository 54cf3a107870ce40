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
 */
import { build, destination, type BuildContext, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import type { Envelope, Requester } from '../../src/bus/index.ts';

export const AGENT_ACTIONS = ['login', 'logout', 'pause', 'resume', 'end_wrapup'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

export interface AgentStatus {
  agent_id: string;
  status: unknown;
  queues: unknown[];
  misses: number;
  calls: number;
  call_id?: string;
}

export class AgentActionError extends Error {
  constructor(
    readonly field: 'status' | 'timeout',
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
  const v = statuses[agentId] ?? {};
  return {
    agent_id: agentId,
    status: v.status,
    queues: Array.isArray(v.queues) ? v.queues : [],
    misses: typeof v.misses === 'number' ? v.misses : 0,
    calls: typeof v.calls === 'number' ? v.calls : 0,
    ...(typeof v.callId === 'string' ? { call_id: v.callId } : {}),
  };
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
