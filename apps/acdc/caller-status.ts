/**
 * Where a caller is on its switch, asked of ecallmgr (Kazoo's acdc_queue_listener
 * is_call_alive, through channel_status_req): for a caller the broker redelivered, whose
 * first worker (or node) died while it held the caller, perhaps after an agent was rung
 * and bridged to it.
 *
 * Contract
 * - `callerStatus(env, callId, log)`: channel_status_req (Active-Only false) on `callevt`
 *   `call.status_req.<call-id>`; the ecallmgr whose switch holds the call answers `active`
 *   with Other-Leg-Call-ID when the call is bridged, every other ecallmgr `terminated`.
 *   Resolves `{state: 'bridged', otherLeg}` at the first `active` answer with a bridged
 *   leg; `{state: 'gone'}` when only `terminated` answers came within `STATUS_WAIT_MS`
 *   (the caller hung up while its callflow's node was dead: nobody else tells the queue);
 *   else `{state: 'waiting'}`: up and not bridged, and also when no ecallmgr answered or
 *   the request could not be sent (logged): a missing answer never takes a caller out of
 *   the queue (an ecallmgr restarting, or none at all as in tests with simulated phones,
 *   must not drop callers). Kazoo's is_call_alive drops a caller nobody answers for.
 * - One Requester per bus transport, started on first use (its queue is auto-deleted with
 *   the connection).
 */
import { build, callEventKey } from '../../src/api/index.ts';
import { CollectTimeoutError, Requester, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import type { Logger } from '../../src/kernel/index.ts';
import type { AcdcEnv } from './send.ts';

export const STATUS_WAIT_MS = 1500;

export type CallerStatus = { state: 'bridged'; otherLeg: string } | { state: 'waiting' } | { state: 'gone' };

const isActive = (m: Envelope): boolean => m.Status === 'active';

const requesters = new WeakMap<BusTransport, Promise<Requester>>();

function requesterFor(env: AcdcEnv, log: Logger): Promise<Requester> {
  let r = requesters.get(env.bus);
  if (r === undefined) {
    const req = new Requester({ transport: env.bus, logger: log, timeoutMs: STATUS_WAIT_MS });
    r = req.start().then(() => req);
    r.catch(() => requesters.delete(env.bus));
    requesters.set(env.bus, r);
  }
  return r;
}

export async function callerStatus(env: AcdcEnv, callId: string, log: Logger): Promise<CallerStatus> {
  try {
    const req = await requesterFor(env, log);
    const msg = build('channel_status_req', { 'Call-ID': callId, 'Active-Only': false }, env.ctx);
    // Every ecallmgr answers (terminated where its switches lack the call): all are
    // heard until the one holding it answers, or the wait ends.
    const resps = await req
      .callCollect(
        msg as unknown as Envelope,
        { exchange: 'callevt', routingKey: callEventKey('status_req', callId) },
        {
          timeoutMs: STATUS_WAIT_MS,
          until: (r) => r.some(isActive),
          validate: (m) => m['Event-Name'] === 'channel_status_resp',
        },
      )
      .catch((err: unknown) => {
        if (err instanceof CollectTimeoutError) return err.replies as Envelope[];
        throw err;
      });
    const active = resps.find(isActive);
    if (active === undefined)
      return resps.some((m) => m.Status === 'terminated') ? { state: 'gone' } : { state: 'waiting' };
    const other = active['Other-Leg-Call-ID'];
    return typeof other === 'string' && other !== ''
      ? { state: 'bridged', otherLeg: other }
      : { state: 'waiting' };
  } catch (err) {
    log.warn({ err, call_id: callId }, 'acdc queue: caller status not known; offered as waiting');
    return { state: 'waiting' };
  }
}
