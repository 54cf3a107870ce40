/**
 * Bridge endpoints from account documents (Kazoo's kz_endpoint:build) and the bridge
 * itself as the device, user and ring_group modules use it (kapps_call_command:b_bridge
 * and cf_util:handle_bridge_failure).
 *
 * Contract
 * - `deviceEndpoint(doc, opts)`: the endpoint of a device document (To-User = its SIP
 *   username, To-Realm, Invite-Format, Endpoint-ID, Endpoint-Timeout/-Delay,
 *   Custom-Channel-Vars Account-ID / Owner-ID / Authorizing-ID), or undefined when the
 *   device is disabled or has no SIP username. A document that is not a device is a
 *   DocError.
 * - `userDevices(call, userId)`: the device documents the user owns (attributes/owned);
 *   the user document must exist and be a user (DocError otherwise).
 * - `bridge(call, endpoints, {timeoutS, strategy})` sends `bridge` (Endpoints, Timeout =
 *   the bridge's call_timeout, Dial-Endpoint-Method) and waits, as Kazoo's
 *   wait_for_bridge, for the bridge's CHANNEL_EXECUTE_COMPLETE: `{ok: true}` when its
 *   Disposition / Application-Response is SUCCESS, else `{ok: false, cause?, code?}`
 *   (cause: Application-Response, else Hangup-Cause; code: Hangup-Code without `sip:`).
 *   A dialplan error for the bridge (no endpoint registered) is `{ok: false}`. A bridge
 *   that connected usually ends with the call (CHANNEL_DESTROY aborts the handle).
 * - `failureBranch(children, failure)`: the child key for a failed bridge: the hangup
 *   cause, else the SIP code (`486`, or `sip:486` as in Hangup-Code), else `_`.
 */
import type { Envelope } from '../../../src/bus/index.ts';
import type { CallHandle } from '../call.ts';
import type { FlowNode } from '../flow.ts';

export class DocError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocError';
  }
}

export type Endpoint = Record<string, unknown>;
export type BridgeOutcome = { ok: true } | { ok: false; cause?: string; code?: string };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const INVITE = new Set([
  'username',
  'e164',
  'npan',
  '1npan',
  'route',
  'loopback',
  'contact',
  'endpoint',
  'forward',
  'strip_plus',
]);

export async function typedDoc(call: CallHandle, id: string, type: string): Promise<Record<string, unknown>> {
  let doc: Record<string, unknown>;
  try {
    doc = await call.doc(id);
  } catch (err) {
    throw new DocError(`${type} ${id}: ${(err as Error).message}`);
  }
  if (doc.pvt_type !== type || doc.pvt_deleted === true)
    throw new DocError(`${type} ${id}: not a ${type} document`);
  return doc;
}

export function deviceEndpoint(
  call: CallHandle,
  doc: Record<string, unknown>,
  opts: { timeoutS?: number; delayS?: number },
): Endpoint | undefined {
  const sip = isObj(doc.sip) ? doc.sip : {};
  if (doc.enabled === false || typeof sip.username !== 'string' || sip.username === '') return undefined;
  const format =
    typeof sip.invite_format === 'string' && INVITE.has(sip.invite_format) ? sip.invite_format : 'username';
  const ep: Endpoint = {
    'Invite-Format': format,
    'To-User': sip.username,
    'To-Username': sip.username,
    'Endpoint-ID': doc._id,
    'Custom-Channel-Vars': {
      'Account-ID': call.info.accountId,
      'Authorizing-ID': doc._id,
      'Authorizing-Type': 'device',
      ...(typeof doc.owner_id === 'string' ? { 'Owner-ID': doc.owner_id } : {}),
    },
  };
  if (typeof sip.realm === 'string') ep['To-Realm'] = sip.realm;
  if (opts.timeoutS !== undefined) ep['Endpoint-Timeout'] = String(opts.timeoutS);
  if (opts.delayS !== undefined && opts.delayS > 0) ep['Endpoint-Delay'] = String(opts.delayS);
  return ep;
}

export async function userDevices(call: CallHandle, userId: string): Promise<Array<Record<string, unknown>>> {
  await typedDoc(call, userId, 'user');
  const ids = await call.owned(userId, 'device');
  const docs: Array<Record<string, unknown>> = [];
  for (const id of ids.sort()) docs.push(await typedDoc(call, id, 'device'));
  return docs;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const isBridgeError = (e: Envelope, msgId: unknown): boolean =>
  e['Event-Category'] === 'error' &&
  e['Event-Name'] === 'dialplan' &&
  (e['Msg-ID'] === msgId ||
    (e.Request as Record<string, unknown> | undefined)?.['Application-Name'] === 'bridge');

/**
 * Kazoo's b_bridge / wait_for_bridge: sends `bridge` and waits for its outcome. A
 * CHANNEL_BRIDGE is noted and the wait goes on (the bridged call usually ends with the
 * call's CHANNEL_DESTROY, which aborts the handle); the bridge's CHANNEL_EXECUTE_COMPLETE
 * ends it: SUCCESS in Disposition or Application-Response is a bridge that happened, else
 * a failure with the cause (Application-Response, else Hangup-Cause) and the SIP code
 * (Hangup-Code without `sip:`). A dialplan error for the bridge (no registered endpoint)
 * is a failure with no cause (`_`), as b_bridge's `{error, _}`.
 */
export async function bridge(
  call: CallHandle,
  endpoints: Endpoint[],
  opts: { timeoutS: number; strategy: 'simultaneous' | 'single' },
): Promise<BridgeOutcome> {
  if (endpoints.length === 0) return { ok: false, cause: 'NO_ROUTE_DESTINATION' };
  const cmd = await call.send('bridge', {
    Endpoints: endpoints,
    Timeout: String(opts.timeoutS),
    'Dial-Endpoint-Method': opts.strategy,
  });
  for (;;) {
    const m = (await call.nextEvent(
      (e: Envelope) =>
        e['Event-Name'] === 'CHANNEL_BRIDGE' ||
        (e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-Name'] === 'bridge') ||
        isBridgeError(e, cmd['Msg-ID']),
    )) as Envelope;
    if (m['Event-Name'] === 'CHANNEL_BRIDGE') {
      call.log.info({ other_leg: m['Other-Leg-Call-ID'] }, 'bridge: connected');
      continue;
    }
    if (m['Event-Category'] === 'error') {
      call.log.info({ reason: m['Error-Message'] }, 'bridge: not attempted');
      return { ok: false };
    }
    if (m.Disposition === 'SUCCESS' || m['Application-Response'] === 'SUCCESS') return { ok: true };
    const code = str(m['Hangup-Code'])?.replace(/^sip:/, '');
    return { ok: false, cause: str(m['Application-Response']) ?? str(m['Hangup-Cause']), code };
  }
}

export function failureBranch(
  children: Readonly<Record<string, FlowNode>>,
  failure: { cause?: string; code?: string },
): string {
  if (failure.cause !== undefined && children[failure.cause] !== undefined) return failure.cause;
  if (failure.code !== undefined) {
    // the code as the child key: `486`, or as Hangup-Code gives it, `sip:486`
    for (const key of [failure.code, `sip:${failure.code}`]) if (children[key] !== undefined) return key;
  }
  return '_';
}
