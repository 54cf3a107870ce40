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
 * - The token must reach the account (accountScope), as every account resource.
 */
import type { FastifyInstance } from 'fastify';
import {
  AgentActionError,
  askAgentStatus,
  askQueueStats,
  checkAgentAction,
  sendAgentAction,
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
