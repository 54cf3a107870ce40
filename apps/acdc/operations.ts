/**
 * The acdc app's operations (`POST /apps/acdc/ops/<op>` on a node's admin endpoint; what
 * `fife acdc queues|agents|login|logout|pause|resume` run). They ask the running queue
 * managers and agent processes over the node's bus (control.ts), so they need a running
 * node: offline (no bus) they fail `not_started`.
 *
 * Contract (every input's `account` optional: default the node's `settings.acdc.account_id`)
 * - `queues` {account?} -> {account_id, queues: [{id, name?, strategy?, stats}]}: the
 *   queues `settings.acdc` lists, or else the account database's queue documents; `stats`
 *   the first manager's answer (control.ts askQueueStats), null when none answered.
 * - `agents` {account?} -> {account_id, agents: [{id, name?, queues, status, misses,
 *   calls, call_id?}]}: the agents `settings.acdc` lists, or else the account's users with
 *   queues; `status` null when no agent process answered.
 * - `agent_action` {account?, agent, action, timeout?, queue?} -> {account_id, agent_id,
 *   action, queue_id?}: the agent (a user id, or a username in the account database) is
 *   sent login, logout, pause (timeout: seconds, absent: until resume), resume or
 *   end_wrapup; with `queue`, login or logout of that one queue (agent_login_queue /
 *   agent_logout_queue).
 * - Bad input (no account, unknown action, unknown agent) is `invalid` / `not_found`.
 */
import type { NodeServices } from '../../src/node/node.ts';
import { Requester } from '../../src/bus/index.ts';
import { accountDbName, isStoreError } from '../../src/store/index.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import {
  AgentActionError,
  askAgentStatus,
  askQueueStats,
  checkAgentAction,
  checkQueueAction,
  sendAgentAction,
  sendQueueAction,
} from './control.ts';

type Obj = Record<string, unknown>;

export class AcdcOperationError extends Error {
  constructor(
    readonly code: 'invalid' | 'not_found' | 'not_started',
    message: string,
  ) {
    super(message);
  }
}

function settingsOf(s: NodeServices): Obj {
  const raw = s.config.settings.acdc;
  return raw !== null && typeof raw === 'object' ? (raw as Obj) : {};
}

function accountOf(input: Obj, s: NodeServices): string {
  const given = input.account ?? settingsOf(s).account_id;
  if (typeof given !== 'string' || given === '')
    throw new AcdcOperationError('invalid', 'no account: give --account ID (settings.acdc names none)');
  return given;
}

/** What the node's settings list, or else the account database's queue and user documents. */
async function directory(
  s: NodeServices,
  accountId: string,
): Promise<{ queues: Obj[]; agents: Obj[]; users: Obj[] }> {
  const set = settingsOf(s);
  const listed = (k: string) => (Array.isArray(set[k]) ? (set[k] as Obj[]) : []);
  if (set.account_id === accountId && (listed('queues').length > 0 || listed('agents').length > 0))
    return {
      queues: listed('queues').map((q) => ({ id: q.id, strategy: q.strategy ?? 'round_robin' })),
      agents: listed('agents').map((a) => ({ id: a.id, queues: a.queues })),
      users: [],
    };
  const rows = await s.store.allDocs(accountDbName(accountId, 'encoded'), { includeDocs: true }).then(
    (r) => r.rows,
    (err: unknown) => {
      if (isStoreError(err, 'not_found'))
        throw new AcdcOperationError(
          'not_found',
          `no account ${JSON.stringify(accountId)} (no account database)`,
        );
      throw err;
    },
  );
  const docs = rows.map((r) => r.doc as Obj | null | undefined).filter((d): d is Obj => d != null);
  const users = docs.filter((d) => d.pvt_type === 'user');
  return {
    queues: docs
      .filter((d) => d.pvt_type === 'queue')
      .map((d) => ({ id: d._id, name: d.name, strategy: d.strategy ?? 'round_robin' })),
    agents: users
      .filter((u) => Array.isArray(u.queues) && u.queues.length > 0)
      .map((u) => ({
        id: u._id,
        name: [u.first_name, u.last_name].filter((x) => typeof x === 'string').join(' '),
        queues: u.queues,
      })),
    users,
  };
}

/** Runs `fn` with a requester on the node's bus, removed afterwards. */
async function withRequester<T>(s: NodeServices, fn: (r: Requester) => Promise<T>): Promise<T> {
  if ((s as Partial<NodeServices>).bus === undefined)
    throw new AcdcOperationError('not_started', 'acdc operations need a running node (its bus)');
  const r = new Requester({ transport: s.bus, logger: s.log, timeoutMs: 2_000 });
  await r.start();
  try {
    return await fn(r);
  } finally {
    await r.stop();
  }
}

const ctxOf = (s: NodeServices) => ({ appName: 'acdc', appVersion: FIFE_VERSION, node: s.config.node });

export const acdcOperations = {
  queues: async (input: Obj, s: NodeServices) => {
    const accountId = accountOf(input, s);
    const { queues } = await directory(s, accountId);
    const withStats = await withRequester(s, (r) =>
      Promise.all(
        queues.map(async (q) => ({
          ...q,
          stats: (await askQueueStats(r, ctxOf(s), accountId, String(q.id))) ?? null,
        })),
      ),
    );
    return { account_id: accountId, queues: withStats };
  },
  agents: async (input: Obj, s: NodeServices) => {
    const accountId = accountOf(input, s);
    const { agents } = await directory(s, accountId);
    const withStatus = await withRequester(s, (r) =>
      Promise.all(
        agents.map(async (a) => {
          const st = await askAgentStatus(r, ctxOf(s), accountId, String(a.id));
          const { agent_id: _id, ...rest } = st ?? { agent_id: '', status: null };
          return { ...a, ...rest };
        }),
      ),
    );
    return { account_id: accountId, agents: withStatus };
  },
  agent_action: async (input: Obj, s: NodeServices) => {
    const accountId = accountOf(input, s);
    const queue = input.queue;
    let checked: ReturnType<typeof checkAgentAction>;
    try {
      checked =
        queue === undefined
          ? checkAgentAction({ status: input.action, timeout: input.timeout })
          : { action: checkQueueAction({ action: input.action, queue_id: queue }).action };
    } catch (err) {
      if (err instanceof AgentActionError)
        throw new AcdcOperationError(
          'invalid',
          err.field === 'status' || err.field === 'action'
            ? `action ${err.message}${queue === undefined ? '' : ' (with a queue)'}`
            : err.field === 'queue_id'
              ? `queue ${err.message}`
              : err.message,
        );
      throw err;
    }
    if (typeof input.agent !== 'string' || input.agent === '')
      throw new AcdcOperationError('invalid', 'agent_action needs {agent}: a user id or username');
    const { agents, users } = await directory(s, accountId);
    const wanted = input.agent;
    const byName = users.find((u) => typeof u.username === 'string' && u.username === wanted.toLowerCase());
    const agent = agents.find((a) => a.id === wanted || a.id === byName?._id);
    if (agent === undefined)
      throw new AcdcOperationError('not_found', `no agent ${JSON.stringify(wanted)} in account ${accountId}`);
    const agentId = String(agent.id);
    if (typeof queue === 'string') {
      if (!(Array.isArray(agent.queues) && agent.queues.includes(queue)))
        throw new AcdcOperationError(
          'not_found',
          `agent ${agentId} is not in queue ${JSON.stringify(queue)}`,
        );
      const action = checked.action as 'login' | 'logout';
      await withRequester(s, (r) => sendQueueAction(r, ctxOf(s), accountId, agentId, action, queue));
      s.log.info(
        { account_id: accountId, agent_id: agentId, action, queue_id: queue },
        'acdc: agent queue action sent',
      );
      return { account_id: accountId, agent_id: agentId, action, queue_id: queue };
    }
    await withRequester(s, (r) =>
      sendAgentAction(r, ctxOf(s), accountId, agentId, checked.action, checked.timeout),
    );
    s.log.info(
      { account_id: accountId, agent_id: agentId, action: checked.action },
      'acdc: agent action sent',
    );
    return { account_id: accountId, agent_id: agentId, action: checked.action };
  },
};
