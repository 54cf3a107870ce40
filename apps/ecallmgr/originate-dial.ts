/**
 * What an originate_req asks of the switch, as text (Kazoo's ecallmgr_originate
 * build_originate_args and ecallmgr_util:build_channel). Pure.
 *
 * Contract
 * - `needsContact(ep)`: a `username` SIP endpoint (Kazoo's default) is dialled at the contact
 *   the registrar holds for To-Username (else To-User) @ To-Realm: the caller asks
 *   reg_lookup (reg-lookup.ts) and passes the first contact to `endpointDial`.
 * - `endpointDial(ep, contact?)`: the endpoint's dial string, or `{error}` saying why it
 *   cannot be dialled: `route` -> its Route (a dial string, `user/...` if it has no tech);
 *   `username` -> `sofia/<profile>/<user@host:port>` from the contact (no contact:
 *   USER_NOT_REGISTERED); `loopback` -> `loopback/<To-DID>`; an Endpoint-URI wins over all.
 * - `channelVars(req, uuid, extra)`: the `{k=v,...}` block: origination_uuid, the request's
 *   CCVs as `ecallmgr_<name>` (plus `extra`: Fetch-ID, Ecallmgr-Node), Origination-Call-ID as
 *   `sip_origination_call_uuid` (Kazoo's channel-variable name for it), caller-id and
 *   originate_timeout. Values have `,` escaped and no newlines.
 * - `originateAction(req)`: `&park()` for park and for bridge with Existing-Call-ID (the
 *   new leg is bridged to that call once up, with uuid_bridge), else `{error}` (transfer,
 *   fax, eavesdrop and bridge to Application-Data are not done by this ecallmgr).
 * - `dialSeparator(req)`: `|` for Dial-Endpoint-Method single, `,` otherwise.
 */
import type { Envelope } from '../../src/bus/index.ts';

export type Endpoint = Record<string, unknown>;
export type Dial = { dial: string } | { error: string };

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
const clean = (v: string): string => v.replace(/[\r\n]+/g, ' ');
const escape = (v: string): string => clean(v).replace(/,/g, '\\,').replace(/}/g, '');

const format = (ep: Endpoint): string => str(ep['Invite-Format']) ?? 'username';

export function needsContact(ep: Endpoint): { realm: string; user: string } | undefined {
  if (str(ep['Endpoint-URI']) !== undefined || format(ep) !== 'username') return undefined;
  const user = str(ep['To-Username']) ?? str(ep['To-User']);
  const realm = str(ep['To-Realm']);
  return user === undefined || realm === undefined ? undefined : { realm, user };
}

/** `<sip:1000@10.0.0.1:5060;transport=udp>` -> `1000@10.0.0.1:5060`. */
export function contactTarget(contact: string): string | undefined {
  const m = /<?(?:sips?:)?([^<>;\s]+@[^<>;\s]+)/.exec(contact);
  return m?.[1];
}

export function endpointDial(ep: Endpoint, contact?: string): Dial {
  const uri = str(ep['Endpoint-URI']);
  if (uri !== undefined) return { dial: clean(uri) };
  switch (format(ep)) {
    case 'route': {
      const route = str(ep.Route);
      if (route === undefined) return { error: 'route endpoint without Route' };
      return { dial: clean(route.includes('/') ? route : `user/${route}`) };
    }
    case 'loopback': {
      const did = str(ep['To-DID']) ?? str(ep['To-User']);
      return did === undefined
        ? { error: 'loopback endpoint without To-DID' }
        : { dial: `loopback/${clean(did)}` };
    }
    case 'username': {
      if (needsContact(ep) === undefined)
        return { error: 'username endpoint without To-Username and To-Realm' };
      const target = contact === undefined ? undefined : contactTarget(contact);
      if (target === undefined) return { error: 'USER_NOT_REGISTERED' };
      const profile = str(ep['SIP-Interface']) ?? 'sipinterface_1';
      return { dial: `sofia/${clean(profile)}/${clean(target)}` };
    }
    default:
      return { error: `Invite-Format ${format(ep)} is not dialled by this ecallmgr` };
  }
}

export function dialSeparator(req: Envelope): string {
  return req['Dial-Endpoint-Method'] === 'single' ? '|' : ',';
}

export function channelVars(req: Envelope, uuid: string, extra: Record<string, string>): string {
  const vars: Array<[string, string]> = [['origination_uuid', uuid]];
  const ccvs = { ...((req['Custom-Channel-Vars'] as Record<string, unknown> | undefined) ?? {}), ...extra };
  for (const [k, v] of Object.entries(ccvs)) {
    const s = str(v) ?? (typeof v === 'boolean' ? String(v) : undefined);
    if (s !== undefined && /^[\w.-]+$/.test(k)) vars.push([`ecallmgr_${k}`, s]);
  }
  const orig = str(req['Origination-Call-ID']);
  if (orig !== undefined) vars.push(['sip_origination_call_uuid', orig]);
  const cidName = str(req['Outbound-Caller-ID-Name']);
  const cidNum = str(req['Outbound-Caller-ID-Number']);
  if (cidName !== undefined) vars.push(['origination_caller_id_name', cidName]);
  if (cidNum !== undefined) vars.push(['origination_caller_id_number', cidNum]);
  const timeout = str(req.Timeout);
  if (timeout !== undefined && /^\d+$/.test(timeout)) vars.push(['originate_timeout', timeout]);
  return `{${vars.map(([k, v]) => `${k}=${escape(v)}`).join(',')}}`;
}

export function originateAction(req: Envelope): { action: string } | { error: string } {
  const app = str(req['Application-Name']);
  if (app === 'park') return { action: '&park()' };
  if (app === 'bridge' && str(req['Existing-Call-ID']) !== undefined) return { action: '&park()' };
  return { error: `Application-Name ${app ?? '(none)'} is not supported by this ecallmgr's originate` };
}
