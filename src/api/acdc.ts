/**
 * ACDC (Kazoo 4.3 `kapi_acdc_queue` and `kapi_acdc_agent`): call-center queues and agents.
 *
 * Contract
 * - `acdc` lists the queue messages (member_call, member_call_fail / _success / _cancel,
 *   member_connect_req / _resp / _win / _accepted / _retry, agent_timeout, member_hungup,
 *   queue_agent_change) and the agent messages (agent_login, agent_logout, agent_pause,
 *   agent_resume, agent_end_wrapup, agent_login_queue, agent_logout_queue,
 *   agent_sync_req / _resp, agent_stats_req / _resp), with Kazoo's Event-Category,
 *   Event-Name and header lists.
 * - Keys (every variable part encoded with `encodeSegment`):
 *   member_call `acdc.member.call.<Account-ID>.<Queue-ID>` on `callmgr` (Fife binds each
 *   ACDC queue's durable shared queue with it); member call results
 *   `acdc.member.call_result.<Account-ID>.<Queue-ID>.<Call-ID>` on `callmgr`;
 *   member_connect_req `acdc.member.connect_req.<Account-ID>.<Queue-ID>` on `kapps`;
 *   agent actions `acdc.agent.action.<Event-Name>.<Account-ID>.<Agent-ID>` on `kapps`; sync_req
 *   `agent.sync_req.<Account-ID>.<Agent-ID>` (no `acdc.` prefix, as Kazoo's); stats_req
 *   `acdc.agent.stats_req.<Account-ID>`, or `.<Agent-ID>` appended when it names one agent;
 *   agent_change `acdc.queue.agent_change.<Account-ID>.<Queue-ID>`; Fife's agent_shared_state
 *   on Kazoo's fsm_shared key `acdc.agent.fsm_shared.<Account-ID>.<Agent-ID>`. Answers
 *   (connect_resp, connect_win, connect_accepted, connect_retry, agent_timeout, sync_resp,
 *   stats_resp) go to the asker's Server-ID on `targeted`.
 * - `acdcSharedQueue(account, queue)` is the name of the durable queue of waiting callers
 *   (Kazoo's `shared_queue_name`).
 * - Fife additions: queue_position_req / _resp (`acdc.queue.position_req.<Account-ID>.<Queue-ID>`;
 *   Kazoo's announcer asks its manager in-process, `{queue_position, CallId}`, and the
 *   average wait of kapi_acdc_stats).
 * - Fife additions to agent messages: `Queue-Only` (true) on a queue_agent_change that
 *   concerns that one queue (an agent logged out of it alone), `Ring-Timeout` (s) on a
 *   ringing one (how long the peers wait for its end), `Agent-Call-ID` (the agent's leg
 *   bridged to the caller) on an answered one and `Wrapup-Timeout` (s) on a ringing,
 *   answered or wrapup one (so a peer can follow the agent's call on the switch, and end
 *   it, wrapup included, should the publishing node die), `Queue-IDs` (the queues the
 *   agent is logged in to) on agent_sync_resp.
 * - Fife addition: agent_shared_state (Status, Change, Call-ID, Ring-Timeout, Agent-Call-ID,
 *   Wrapup-Timeout, Process-ID: the same as on queue_agent_change),
 *   one per change of an agent process, heard only by that agent's processes on other nodes.
 * - Fife addition (optional, Kazoo peers ignore it): `Agent-ID` on member_connect_win, so
 *   the agent process can check the win names it. Its Ring-Timeout and Wrapup-Timeout are
 *   seconds as in Kazoo, but may be fractions (Kazoo sends integers).
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Message, MessageDef } from './types.ts';

const seg = (msg: Message, h: string, dflt = '*'): string =>
  encodeSegment(typeof msg[h] === 'string' && msg[h] !== '' ? msg[h] : dflt);

export const memberCallKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'member', 'call', encodeSegment(accountId), encodeSegment(queueId));
export const memberCallResultKey = (accountId: string, queueId: string, callId: string): string =>
  routingKey(
    'acdc',
    'member',
    'call_result',
    encodeSegment(accountId),
    encodeSegment(queueId),
    encodeSegment(callId),
  );
export const memberConnectReqKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'member', 'connect_req', encodeSegment(accountId), encodeSegment(queueId));
/** Kazoo's agent action key, `acdc.agent.action.<Event-Name>.<acct>.<agent>`; without an
 *  action, the binding for every action of the agent. */
export const agentActionKey = (accountId: string, agentId: string, action = '*'): string =>
  routingKey(
    'acdc',
    'agent',
    'action',
    encodeSegment(action),
    encodeSegment(accountId),
    encodeSegment(agentId),
  );
/** Kazoo's sync_req key has no `acdc.` prefix (kapi_acdc_agent SYNC_REQ_KEY). */
export const agentSyncReqKey = (accountId: string, agentId: string): string =>
  routingKey('agent', 'sync_req', encodeSegment(accountId), encodeSegment(agentId));
/** stats_req for a whole account, or for one agent (`…stats_req.<acct>.<agent>`, as Kazoo publishes it). */
export const agentStatsReqKey = (accountId: string, agentId?: string): string =>
  agentId === undefined
    ? routingKey('acdc', 'agent', 'stats_req', encodeSegment(accountId))
    : routingKey('acdc', 'agent', 'stats_req', encodeSegment(accountId), encodeSegment(agentId));
/** Kazoo's fsm_shared key: what an agent's processes on several nodes share (one agent's). */
export const agentSharedKey = (accountId: string, agentId: string): string =>
  routingKey('acdc', 'agent', 'fsm_shared', encodeSegment(accountId), encodeSegment(agentId));
export const queueAgentChangeKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'queue', 'agent_change', encodeSegment(accountId), encodeSegment(queueId));
export const queueStatsReqKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'queue', 'stats_req', encodeSegment(accountId), encodeSegment(queueId));
export const queuePositionReqKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'queue', 'position_req', encodeSegment(accountId), encodeSegment(queueId));
export const agentsAvailableReqKey = (accountId: string, queueId: string): string =>
  routingKey('acdc', 'queue', 'agents_available', encodeSegment(accountId), encodeSegment(queueId));

/** The AMQP priority of a member_call: its Member-Priority (0..255), else none. */
export function memberCallPriority(m: Record<string, unknown>): number | undefined {
  const p = m['Member-Priority'];
  return typeof p === 'number' && Number.isInteger(p) && p > 0 ? Math.min(p, 255) : undefined;
}

/** The durable queue of an ACDC queue's waiting callers (Kazoo's shared_queue_name). */
export const acdcSharedQueue = (accountId: string, queueId: string): string =>
  `acdc.queue.${encodeSegment(accountId)}.${encodeSegment(queueId)}`;

export const AGENT_STATUSES = [
  'init',
  'sync',
  'ready',
  'waiting',
  'ringing',
  'answered',
  'wrapup',
  'paused',
  'outbound',
  'logged_out',
] as const;
export const AGENT_CHANGES = ['available', 'ringing', 'busy', 'unavailable'] as const;

const targeted = { exchange: 'targeted', kind: 'queue' } as const;

const resultRoute = {
  exchange: 'callmgr',
  kind: 'key',
  key: (m: Message) =>
    routingKey(
      'acdc',
      'member',
      'call_result',
      seg(m, 'Account-ID'),
      seg(m, 'Queue-ID'),
      seg(m, 'Call-ID', '#'),
    ),
  pattern: 'acdc.member.call_result.<Account-ID>.<Queue-ID>.<Call-ID>',
} as const;

const queueMessages: readonly MessageDef[] = [
  {
    id: 'member_call',
    category: 'member',
    name: 'call',
    doc: 'a caller enters an ACDC queue (Call: the caller as a call object)',
    required: ['Account-ID', 'Queue-ID', 'Call'],
    optional: ['Member-Priority'],
    types: { 'Queue-ID': 'string', Call: 'object', 'Member-Priority': 'integer' },
    route: {
      exchange: 'callmgr',
      kind: 'key',
      key: (m) => routingKey('acdc', 'member', 'call', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.member.call.<Account-ID>.<Queue-ID>',
    },
    notes: [
      "Fife binds each ACDC queue's durable shared queue (`acdc.queue.<Account-ID>.<Queue-ID>`) to this key; queue workers on every node consume it with prefetch 1 and ack a caller only when an agent accepted it or its wait ended, so a caller held by a node that dies goes to another node.",
    ],
  },
  {
    id: 'member_call_fail',
    category: 'member',
    name: 'call_fail',
    doc: 'the queue could not handle the caller (full, empty, wait timed out)',
    required: ['Account-ID', 'Queue-ID', 'Call-ID'],
    optional: ['Failure-Reason', 'Process-ID', 'Agent-ID'],
    route: resultRoute,
  },
  {
    id: 'member_call_success',
    category: 'member',
    name: 'call_success',
    doc: 'an agent is handling the caller',
    required: ['Account-ID', 'Queue-ID'],
    optional: ['Process-ID', 'Agent-ID', 'Call-ID'],
    route: resultRoute,
  },
  {
    id: 'member_call_cancel',
    category: 'member',
    name: 'call_cancel',
    doc: 'the caller left the queue (hung up, exit key, timeout)',
    required: ['Call-ID', 'Account-ID', 'Queue-ID'],
    optional: ['Reason'],
    route: resultRoute,
  },
  {
    id: 'member_connect_req',
    category: 'member',
    name: 'connect_req',
    doc: 'a queue worker asks every agent of the queue whether it can take the caller (answers to Server-ID)',
    required: ['Account-ID', 'Queue-ID', 'Call-ID'],
    optional: ['Process-ID'],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'member', 'connect_req', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.member.connect_req.<Account-ID>.<Queue-ID>',
    },
  },
  {
    id: 'member_connect_resp',
    category: 'member',
    name: 'connect_resp',
    doc: 'a ready agent answers member_connect_req (Idle-Time: seconds since its last call)',
    required: ['Agent-ID'],
    optional: ['Idle-Time', 'Process-ID'],
    types: { 'Idle-Time': 'integerish' },
    route: targeted,
  },
  {
    id: 'member_connect_win',
    category: 'member',
    name: 'connect_win',
    doc: 'the worker gives the caller to the one agent it picked',
    required: ['Queue-ID', 'Call'],
    optional: [
      'Agent-ID',
      'Agent-Process-ID',
      'CDR-Url',
      'Caller-Exit-Key',
      'Notifications',
      'Process-ID',
      'Record-Caller',
      'Recording-URL',
      'Ring-Timeout',
      'Wrapup-Timeout',
    ],
    types: {
      Call: 'object',
      'Record-Caller': 'booleanish',
      'Ring-Timeout': 'number',
      'Wrapup-Timeout': 'number',
    },
    route: targeted,
  },
  {
    id: 'agent_timeout',
    category: 'agent',
    name: 'connect_timeout',
    doc: 'the worker tells the winning agent the caller was not accepted in time',
    required: ['Queue-ID', 'Call-ID'],
    optional: ['Agent-Process-ID'],
    route: targeted,
  },
  {
    id: 'member_connect_accepted',
    category: 'member',
    name: 'connect_accepted',
    doc: 'the agent took the caller',
    required: ['Call-ID'],
    optional: ['Agent-ID', 'Process-ID', 'Old-Call-ID'],
    route: targeted,
  },
  {
    id: 'member_connect_retry',
    category: 'member',
    name: 'connect_retry',
    doc: 'the agent could not take the caller (no answer, busy); offer it again',
    required: ['Call-ID'],
    optional: ['Agent-ID', 'Process-ID'],
    route: targeted,
  },
  {
    id: 'member_hungup',
    category: 'member',
    name: 'hungup',
    doc: 'the caller hung up while connected to an agent',
    required: ['Call-ID'],
    optional: ['Agent-ID', 'Process-ID'],
    route: targeted,
  },
  {
    id: 'queue_agent_change',
    category: 'queue',
    name: 'agent_change',
    doc: "an agent's availability for a queue changed (the queue manager's view of its agents)",
    required: ['Account-ID', 'Queue-ID', 'Agent-ID', 'Change'],
    optional: [
      'Process-ID',
      'Status',
      'Call-ID',
      'Queue-Only',
      'Ring-Timeout',
      'Agent-Call-ID',
      'Wrapup-Timeout',
    ],
    values: { Change: AGENT_CHANGES, Status: AGENT_STATUSES },
    types: { 'Queue-Only': 'boolean', 'Ring-Timeout': 'number', 'Wrapup-Timeout': 'number' },
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'queue', 'agent_change', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.queue.agent_change.<Account-ID>.<Queue-ID>',
    },
  },
  {
    id: 'queue_stats_req',
    category: 'queue',
    name: 'stats_req',
    doc: "a queue's counts (its managers answer to Server-ID)",
    required: ['Account-ID', 'Queue-ID'],
    optional: [],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'queue', 'stats_req', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.queue.stats_req.<Account-ID>.<Queue-ID>',
    },
  },
  {
    id: 'queue_stats_resp',
    category: 'queue',
    name: 'stats_resp',
    doc: 'a queue manager answers stats_req (Stats: waiting, answered, abandoned, wait times)',
    required: ['Account-ID', 'Queue-ID', 'Stats'],
    optional: [],
    types: { Stats: 'object' },
    route: targeted,
  },
  {
    id: 'queue_position_req',
    category: 'queue',
    name: 'position_req',
    doc: "a waiting caller's place in a queue and the queue's average wait (its managers answer to Server-ID)",
    required: ['Account-ID', 'Queue-ID', 'Call-ID'],
    optional: [],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'queue', 'position_req', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.queue.position_req.<Account-ID>.<Queue-ID>',
    },
  },
  {
    id: 'queue_position_resp',
    category: 'queue',
    name: 'position_resp',
    doc: 'a queue manager answers position_req (Position: 1 is next; Average-Wait-Time: seconds)',
    required: ['Account-ID', 'Queue-ID', 'Call-ID', 'Position'],
    optional: ['Average-Wait-Time'],
    types: { Position: 'integer', 'Average-Wait-Time': 'integer' },
    route: targeted,
  },
  {
    id: 'queue_agents_available_req',
    category: 'queue',
    name: 'agents_available_req',
    doc: 'how many agents are logged in to a queue (its managers answer to Server-ID)',
    required: ['Account-ID', 'Queue-ID'],
    optional: ['Skills'],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'queue', 'agents_available', seg(m, 'Account-ID'), seg(m, 'Queue-ID')),
      pattern: 'acdc.queue.agents_available.<Account-ID>.<Queue-ID>',
    },
  },
  {
    id: 'queue_agents_available_resp',
    category: 'queue',
    name: 'agents_available_resp',
    doc: 'a queue manager answers agents_available_req (Agent-Count: agents logged in)',
    required: ['Account-ID', 'Queue-ID', 'Agent-Count'],
    optional: [],
    types: { 'Agent-Count': 'integer' },
    route: targeted,
  },
];

const actionRoute = {
  exchange: 'kapps',
  kind: 'key',
  key: (m: Message) =>
    routingKey('acdc', 'agent', 'action', seg(m, 'Event-Name'), seg(m, 'Account-ID'), seg(m, 'Agent-ID')),
  pattern: 'acdc.agent.action.<Event-Name>.<Account-ID>.<Agent-ID>',
} as const;

function action(name: string, doc: string): MessageDef {
  return {
    id: `agent_${name}`,
    category: 'agent',
    name,
    doc,
    required: ['Account-ID', 'Agent-ID'],
    optional: ['Time-Limit', 'Queue-ID', 'Presence-ID', 'Presence-State', 'Alias'],
    types: { 'Time-Limit': 'integerish' },
    route: actionRoute,
  };
}

const agentMessages: readonly MessageDef[] = [
  action('login', 'log an agent in (to all its queues, or Queue-ID)'),
  action('logout', 'log an agent out'),
  action('pause', 'pause an agent (Time-Limit seconds; absent: until resumed)'),
  action('resume', 'end a pause'),
  action('end_wrapup', 'end the wrapup after a call now'),
  action('login_queue', 'log an agent in to one queue (Queue-ID)'),
  action('logout_queue', 'log an agent out of one queue (Queue-ID)'),
  {
    id: 'agent_sync_req',
    category: 'agent',
    name: 'sync_req',
    doc: "an agent process starting asks its peers on other nodes for the agent's state",
    required: ['Account-ID', 'Agent-ID'],
    optional: ['Process-ID'],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('agent', 'sync_req', seg(m, 'Account-ID'), seg(m, 'Agent-ID')),
      pattern: 'agent.sync_req.<Account-ID>.<Agent-ID>',
    },
  },
  {
    id: 'agent_sync_resp',
    category: 'agent',
    name: 'sync_resp',
    doc: "a peer answers sync_req with the agent's state",
    required: ['Account-ID', 'Agent-ID', 'Status'],
    optional: ['Call-ID', 'Time-Left', 'Process-ID', 'Queue-IDs'],
    values: { Status: AGENT_STATUSES },
    types: { 'Time-Left': 'integerish' },
    route: targeted,
  },
  {
    id: 'agent_shared_state',
    category: 'agent',
    name: 'shared_state',
    doc: "an agent process's state change, for the agent's processes on other nodes (Fife addition)",
    required: ['Account-ID', 'Agent-ID', 'Status', 'Process-ID'],
    optional: ['Change', 'Call-ID', 'Ring-Timeout', 'Agent-Call-ID', 'Wrapup-Timeout'],
    values: { Change: AGENT_CHANGES, Status: AGENT_STATUSES },
    types: { 'Ring-Timeout': 'number', 'Wrapup-Timeout': 'number' },
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) => routingKey('acdc', 'agent', 'fsm_shared', seg(m, 'Account-ID'), seg(m, 'Agent-ID')),
      pattern: 'acdc.agent.fsm_shared.<Account-ID>.<Agent-ID>',
    },
    notes: [
      "Kazoo's key for what an agent's FSMs share (kapi_acdc_agent fsm_shared: shared_failure, shared_call_id); Kazoo agents ignore this Event-Name. An agent process binds only its own agent's key, so it hears no other agent's changes; queue managers keep hearing queue_agent_change on the queue's key.",
    ],
  },
  {
    id: 'agent_stats_req',
    category: 'agent',
    name: 'stats_req',
    doc: 'ask the agents of an account (or Agent-ID) for their state and counts (answers to Server-ID)',
    required: ['Account-ID'],
    optional: ['Agent-ID', 'Call-ID'],
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (m) =>
        typeof m['Agent-ID'] === 'string' && m['Agent-ID'] !== ''
          ? routingKey('acdc', 'agent', 'stats_req', seg(m, 'Account-ID'), seg(m, 'Agent-ID'))
          : routingKey('acdc', 'agent', 'stats_req', seg(m, 'Account-ID')),
      pattern: 'acdc.agent.stats_req.<Account-ID> or acdc.agent.stats_req.<Account-ID>.<Agent-ID>',
    },
  },
  {
    id: 'agent_stats_resp',
    category: 'agent',
    name: 'stats_resp',
    doc: 'an agent process answers stats_req',
    required: ['Account-ID'],
    optional: ['Current-Calls', 'Current-Stats', 'Current-Statuses', 'Agent-ID'],
    types: { 'Current-Calls': 'object', 'Current-Stats': 'object', 'Current-Statuses': 'object' },
    route: targeted,
  },
];

export const acdc: readonly MessageDef[] = [...queueMessages, ...agentMessages];
