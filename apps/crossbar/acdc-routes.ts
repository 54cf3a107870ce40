/**
 * Call-center agents over crossbar (Kazoo 4.3's cb_agents status resource), answered by
 * the acdc WhApp's agent processes over the bus (apps/acdc/agent.ts).
 *
 * Contract
 * - `GET /v2/accounts/{A}/agents/{U}/status`: one agent_stats_req (Account-ID, Agent-ID
 *   = the user id) through crossbar's requester; the first agent_stats_resp answers
 *   `{agent_id, status, queues, misses, calls, call_id?}`. No agent process answered in
 *   the requester's timeout: 404 `bad_identifier` (the user is no agent, or acdc is not
 *   running); crossbar without a bus: 503 `acdc_unreachable`.
 * - `POST /v2/accounts/{A}/agents/{U}/status` `{data: {status, timeout?}}` with status
 *   login, logout, pause, resume or end_wrapup: publishes that agent action
 *   (`acdc.agent.action.<A>.<U>`; pause's `timeout` seconds as Time-Limit) and answers
 *   200 `{status, timeout?}` once published; the agent's processes change state on their
 *   own (read it back with GET). Another status: 400 with the field's error.
 * - `GET /v2/accounts/{A}/queues/{Q}/stats`: one queue_stats_req; the first manager's
 *   Stats answer `{queue_id, waiting, answered, abandoned, average_wait_ms,
 *   longest_wait_ms, agents_logged_in, agents_available}` (counted since that manager
 *   started); none answered: 404 `bad_identifier`.
 * - `GET /v2/accounts/{A}/agents`: the account's users with a non-empty `queues` list
 *   (Kazoo's agents listing), paged as every listing: `{id, first_name, last_name, queues}`.
 *   Queue documents themselves are a document kind (kinds.ts, `/queues`).
 * - `GET /v2/accounts/{A}/agents/stats` (Kazoo's cb_agents `/agents/stats`, current
 *   stats): one account-wide agent_stats_req; every agent process's answer, collected until
 *   each agent of the listing answered (at most 1 s): `{<agent-id>: {status, queues,
 *   logged_in_queues, misses, calls, call_id?}}`. An agent that never changed state since
 *   its process started (logged out) does not answer and is left out.
 * - `POST /v2/accounts/{A}/agents/{U}/queue_status` `{data: {action: login|logout,
 *   queue_id}}` (Kazoo's cb_agents queue_status): publishes agent_login_queue /
 *   agent_logout_queue and answers `{agent_id, action, queue_id}`; the agent joins or
 *   leaves that one queue (the user document is not changed, unlike Kazoo's). Bad action
 *   or no queue_id: 400. `GET` on it: `{agent_id, queues, logged_in_queues}` from the
 *   agent process (404 when none answered).
 * - The token must reach the account (accountScope), as every account resource.
 */
import type { FastifyInstance } from 'fastify';
import {
  AgentActionError,
  askAgentsStats,
  askAgentStatus,
  askQueueStats,
  checkAgentAction,
  checkQueueAction,
  sendAgentAction,
  sendQueueAction,
} from '../acdc/control.ts';
import { params, query, route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope } from './doc-routes.ts';
import { requestData } from './docs.ts';
import { badIdentifier, CbError, validationError } from './errors.ts';
import { listPage } from './listing.ts';

function requester(cb: Crossbar): NonNullable<Crossbar['registrar']> {
  if (cb.registrar === undefined)
    throw new CbError(503, 'acdc_unreachable', { message: 'no bus to reach the acdc agents on' });
  return cb.registrar;
}

const ctx = (cb: Crossbar) => ({ appName: 'crossbar', appVersion: '4.3', node: cb.node });

/** None answered: 404 naming the id, and an info line. */
function unanswered(cb: Crossbar, what: string, id: string): CbError {
  cb.log.info({ id }, `crossbar: ${what} unanswered`);
  return badIdentifier(id);
}

export function registerAcdcRoutes(app: FastifyInstance, cb: Crossbar): void {
  app.get(
    '/v2/accounts/:account_id/agents',
    route(async (req) => {
      const { db } = await accountScope(cb, req);
      const page = await listPage(cb.store, db, 'crossbar_listings/agents', query(req), cb.settings.pageSize);
      return { data: page.data, paging: page.paging };
    }),
  );
  app.get(
    '/v2/accounts/:account_id/agents/stats',
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      // The account's agents (users with queues): the answers are awaited until each came.
      const listed = await listPage(cb.store, db, 'crossbar_listings/agents', {}, 10_000).then(
        (p) => p.data.map((a) => String((a as { id?: unknown }).id)),
        (err: unknown) => {
          cb.log.warn({ err }, 'crossbar: agents not listed for agents/stats; answers collected for 1 s');
          return [];
        },
      );
      return { data: await askAgentsStats(requester(cb), ctx(cb), account._id, { expect: listed }) };
    }),
  );
  const queueStatus = '/v2/accounts/:account_id/agents/:agent_id/queue_status';
  app.get(
    queueStatus,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      const status = await askAgentStatus(requester(cb), ctx(cb), account._id, agentId);
      if (status === undefined) throw unanswered(cb, 'agent_stats_req', agentId);
      return {
        data: { agent_id: agentId, queues: status.queues, logged_in_queues: status.logged_in_queues },
      };
    }),
  );
  app.post(
    queueStatus,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      let checked: ReturnType<typeof checkQueueAction>;
      try {
        checked = checkQueueAction(requestData(req.body));
      } catch (err) {
        if (!(err instanceof AgentActionError)) throw err;
        const code = err.field === 'action' ? 'enum' : 'required';
        throw validationError({ [err.field]: { [code]: { message: err.message } } });
      }
      await sendQueueAction(requester(cb), ctx(cb), account._id, agentId, checked.action, checked.queueId);
      cb.log.info(
        { agent_id: agentId, action: checked.action, queue_id: checked.queueId },
        'crossbar: agent queue action sent',
      );
      return { data: { agent_id: agentId, action: checked.action, queue_id: checked.queueId } };
    }),
  );
  app.get(
    '/v2/accounts/:account_id/queues/:queue_id/stats',
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const queueId = params(req).queue_id!;
      const stats = await askQueueStats(requester(cb), ctx(cb), account._id, queueId);
      if (stats === undefined) throw unanswered(cb, 'queue_stats_req', queueId);
      return { data: { queue_id: queueId, ...stats } };
    }),
  );
  const path = '/v2/accounts/:account_id/agents/:agent_id/status';
  app.get(
    path,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      const status = await askAgentStatus(requester(cb), ctx(cb), account._id, agentId);
      if (status === undefined) throw unanswered(cb, 'agent_stats_req', agentId);
      return { data: status };
    }),
  );
  app.post(
    path,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      let checked: ReturnType<typeof checkAgentAction>;
      try {
        checked = checkAgentAction(requestData(req.body));
      } catch (err) {
        if (!(err instanceof AgentActionError)) throw err;
        const code = err.field === 'status' ? 'enum' : 'type';
        throw validationError({ [err.field]: { [code]: { message: err.message } } });
      }
      const { action, timeout } = checked;
      await sendAgentAction(requester(cb), ctx(cb), account._id, agentId, action, timeout);
      cb.log.info({ agent_id: agentId, action }, 'crossbar: agent action sent');
      return { data: { status: action, ...(timeout === undefined ? {} : { timeout }) } };
    }),
  );
}
