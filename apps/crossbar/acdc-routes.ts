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
import { build, destination, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import { params, query, route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope } from './doc-routes.ts';
import { requestData } from './docs.ts';
import { badIdentifier, CbError, validationError } from './errors.ts';
import { listPage } from './listing.ts';

const ACTIONS = ['login', 'logout', 'pause', 'resume', 'end_wrapup'] as const;

function requester(cb: Crossbar): NonNullable<Crossbar['registrar']> {
  if (cb.registrar === undefined)
    throw new CbError(503, 'acdc_unreachable', { message: 'no bus to reach the acdc agents on' });
  return cb.registrar;
}

const ctx = (cb: Crossbar) => ({ appName: 'crossbar', appVersion: '4.3', node: cb.node });

/** Asks on the bus; the first answer passing `ok`, or 404 for `id` when none came. */
async function ask(
  cb: Crossbar,
  id: string,
  fields: Record<string, unknown>,
  what: string,
  ok: (m: Envelope) => boolean,
): Promise<Envelope> {
  const msg = build(id, fields, ctx(cb));
  const r = requester(cb);
  try {
    return await r.call(msg as unknown as Envelope, destination(id, msg as ApiEnvelope), { validate: ok });
  } catch (err) {
    cb.log.info({ id: what, err: String(err) }, `crossbar: ${id} unanswered`);
    throw badIdentifier(what);
  }
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
      const reply = await ask(
        cb,
        'queue_stats_req',
        { 'Account-ID': account._id, 'Queue-ID': queueId },
        queueId,
        (m) => m['Event-Name'] === 'stats_resp' && m['Queue-ID'] === queueId,
      );
      return { data: { queue_id: queueId, ...(reply.Stats as Record<string, unknown>) } };
    }),
  );
  const path = '/v2/accounts/:account_id/agents/:agent_id/status';
  app.get(
    path,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      const reply = await ask(
        cb,
        'agent_stats_req',
        { 'Account-ID': account._id, 'Agent-ID': agentId },
        agentId,
        (m) => m['Event-Name'] === 'stats_resp' && m['Agent-ID'] === agentId,
      );
      const statuses = (reply['Current-Statuses'] ?? {}) as Record<string, Record<string, unknown>>;
      const v = statuses[agentId] ?? {};
      return {
        data: {
          agent_id: agentId,
          status: v.status,
          queues: v.queues ?? [],
          misses: v.misses ?? 0,
          calls: v.calls ?? 0,
          ...(typeof v.callId === 'string' ? { call_id: v.callId } : {}),
        },
      };
    }),
  );
  app.post(
    path,
    route(async (req) => {
      const { account } = await accountScope(cb, req);
      const agentId = params(req).agent_id!;
      const data = requestData(req.body);
      const action = data.status;
      if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action))
        throw validationError({
          status: { enum: { message: `must be one of ${ACTIONS.join(', ')}`, target: ACTIONS } },
        });
      const timeout = data.timeout;
      if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0)))
        throw validationError({ timeout: { type: { message: 'must be a number of seconds >= 0' } } });
      const msg = build(
        `agent_${action}`,
        {
          'Account-ID': account._id,
          'Agent-ID': agentId,
          ...(action === 'pause' && typeof timeout === 'number' ? { 'Time-Limit': timeout } : {}),
        },
        ctx(cb),
      );
      await requester(cb).cast(
        msg as unknown as Envelope,
        destination(`agent_${action}`, msg as ApiEnvelope),
      );
      cb.log.info({ agent_id: agentId, action }, 'crossbar: agent action sent');
      return { data: { status: action, ...(timeout === undefined ? {} : { timeout }) } };
    }),
  );
}
