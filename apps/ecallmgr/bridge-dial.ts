/**
 * Bridge endpoints -> a FreeSWITCH dial string (Kazoo's ecallmgr_util:build_bridge_string,
 * build_sip_channel and ecallmgr_fs_xml's channel variables). Pure but for `resolve`,
 * which asks the registrar through the given look-up.
 *
 * Contract
 * - `resolveEndpoint(ep, lookup)`: the channel of one endpoint (a bridge command's
 *   Endpoints or a bridge route_resp's Routes element), or `{skip: reason}`:
 *   * Invite-Format `route`: its Route (else Endpoint-URI) as given;
 *   * with To-IP: `sofia/<SIP-Interface | sipinterface_1>/<user>@<To-IP>`;
 *   * otherwise the device's registration: `lookup(To-Realm, To-Username | To-User)`; the
 *     first contact, without `sip:`, its user part replaced by To-User (Invite-Format
 *     `username`) or To-DID (`e164`, `npan`, `1npan`), under `sofia/<interface>/`. No
 *     registration, no realm or user, a non-SIP Endpoint-Type or `loopback` skip the
 *     endpoint (Kazoo drops it and bridges the others).
 *   Each channel starts with its leg variables `[k=v,...]`: Endpoint-Timeout ->
 *   leg_timeout, Endpoint-Delay -> leg_delay_start, Endpoint-Progress-Timeout ->
 *   leg_progress_timeout, Ignore-Early-Media -> ignore_early_media, the endpoint's
 *   Custom-Channel-Vars -> `ecallmgr_<name>`.
 * - `separator(cmd, n)`: `,` (ring together) for Dial-Endpoint-Method `simultaneous` with
 *   more than one endpoint, else `|` (one after the other), as get_dial_separator/2.
 * - `globalVars(cmd)`: the `{k=v,...}` of the whole bridge: Timeout (> 0) -> call_timeout
 *   and originate_timeout, Continue-On-Fail -> continue_on_fail, Ignore-Early-Media ->
 *   ignore_early_media, the command's Custom-Channel-Vars -> `ecallmgr_<name>`.
 * - `channelVarValue(v)`: a value made safe for a dial string or a `set` argument
 *   (newlines, quotes and the dial-string delimiters removed or escaped).
 */
import type { Envelope } from '../../src/bus/index.ts';

export const SIP_INTERFACE = 'sipinterface_1';
/** Kazoo's prefix of the channel variables that come back as Custom-Channel-Vars. */
export const CCV_PREFIX = 'ecallmgr_';

export type Lookup = (realm: string, username: string) => Promise<string[]>;
export type Resolved = { channel: string } | { skip: string };
type Obj = Record<string, unknown>;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
const isTrue = (v: unknown): boolean => v === true || v === 'true';
const isFalse = (v: unknown): boolean => v === false || v === 'false';

export function channelVarValue(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[{}[\]'^]/g, '')
    .replace(/,/g, '\\,');
}

/** `k=v` pairs of Custom-Channel-Vars under Kazoo's prefix (names of letters, digits, `-_.`). */
export function ccvPairs(ccvs: unknown): Array<[string, string]> {
  if (typeof ccvs !== 'object' || ccvs === null || Array.isArray(ccvs)) return [];
  return Object.entries(ccvs as Obj)
    .filter(([k, v]) => /^[\w.-]+$/.test(k) && v !== undefined && v !== null)
    .map(([k, v]) => [`${CCV_PREFIX}${k}`, channelVarValue(v)]);
}

function vars(pairs: Array<[string, string]>, open: string, close: string): string {
  return pairs.length === 0 ? '' : `${open}${pairs.map(([k, v]) => `${k}=${v}`).join(',')}${close}`;
}

function legVars(ep: Obj): string {
  const pairs: Array<[string, string]> = [];
  const num = (k: string, fs: string): void => {
    const n = Number(ep[k]);
    if (ep[k] !== undefined && Number.isFinite(n) && n >= 0) pairs.push([fs, String(Math.floor(n))]);
  };
  num('Endpoint-Timeout', 'leg_timeout');
  num('Endpoint-Delay', 'leg_delay_start');
  num('Endpoint-Progress-Timeout', 'leg_progress_timeout');
  if (isTrue(ep['Ignore-Early-Media'])) pairs.push(['ignore_early_media', 'true']);
  pairs.push(...ccvPairs(ep['Custom-Channel-Vars']));
  return vars(pairs, '[', ']');
}

export function globalVars(cmd: Envelope): string {
  const pairs: Array<[string, string]> = [];
  const timeout = Math.floor(Number(cmd.Timeout));
  if (cmd.Timeout !== undefined && Number.isFinite(timeout) && timeout > 0)
    pairs.push(['call_timeout', String(timeout)], ['originate_timeout', String(timeout)]);
  if (isTrue(cmd['Continue-On-Fail'])) pairs.push(['continue_on_fail', 'true']);
  else if (isFalse(cmd['Continue-On-Fail'])) pairs.push(['continue_on_fail', 'false']);
  if (isTrue(cmd['Ignore-Early-Media'])) pairs.push(['ignore_early_media', 'true']);
  pairs.push(...ccvPairs(cmd['Custom-Channel-Vars']));
  return vars(pairs, '{', '}');
}

export function separator(cmd: Envelope, endpoints: number): ',' | '|' {
  return cmd['Dial-Endpoint-Method'] === 'simultaneous' && endpoints > 1 ? ',' : '|';
}

function withUser(contact: string, user: string | undefined): string {
  if (user === undefined) return contact;
  return contact.includes('@') ? contact.replace(/^[^@]+/, user) : `${user}@${contact}`;
}

function iface(ep: Obj): string {
  const i = str(ep['SIP-Interface']);
  if (i === undefined) return `sofia/${SIP_INTERFACE}/`;
  return i.startsWith('sofia/') ? `${i.replace(/\/+$/, '')}/` : `sofia/${i}/`;
}

/** The user part Kazoo puts in the request URI for this endpoint's Invite-Format. */
function inviteUser(ep: Obj): string | undefined {
  const format = str(ep['Invite-Format']) ?? 'username';
  if (format === 'username') return str(ep['To-User']) ?? str(ep['To-Username']);
  if (format === 'e164' || format === 'npan' || format === '1npan') return str(ep['To-DID']);
  return undefined;
}

export async function resolveEndpoint(ep: Obj, lookup: Lookup): Promise<Resolved> {
  const format = str(ep['Invite-Format']) ?? 'username';
  const type = str(ep['Endpoint-Type']) ?? 'sip';
  if (type !== 'sip') return { skip: `Endpoint-Type ${type} is not supported by this ecallmgr` };
  if (format === 'loopback') return { skip: 'loopback endpoints are not supported by this ecallmgr' };
  if (format === 'route') {
    const route = str(ep.Route) ?? str(ep['Endpoint-URI']);
    return route === undefined ? { skip: 'route endpoint without Route' } : { channel: legVars(ep) + route };
  }
  const ip = str(ep['To-IP']);
  if (ip !== undefined) {
    const user = inviteUser(ep) ?? str(ep['To-Username']) ?? 'kazoo';
    return { channel: `${legVars(ep)}${iface(ep)}${user}@${ip}` };
  }
  const realm = str(ep['To-Realm']);
  const username = str(ep['To-Username']) ?? str(ep['To-User']);
  if (realm === undefined || username === undefined)
    return { skip: 'no To-Realm and To-User/To-Username to look the registration up' };
  const contacts = await lookup(realm, username);
  const first = contacts[0];
  if (first === undefined) return { skip: `${username}@${realm} is not registered` };
  const contact = withUser(first.replace(/^sips?:/i, ''), inviteUser(ep));
  return { channel: `${legVars(ep)}${iface(ep)}${contact}` };
}

/**
 * The whole dial string of a bridge (`{global}chan1<sep>chan2...`), or the reasons no
 * endpoint could be dialled. Look-ups run together, as Kazoo's build workers do.
 */
export async function bridgeString(
  cmd: Envelope,
  endpoints: readonly Obj[],
  lookup: Lookup,
): Promise<{ dial: string; skipped: string[] } | { dial: undefined; skipped: string[] }> {
  const resolved = await Promise.all(endpoints.map((ep) => resolveEndpoint(ep, lookup)));
  const channels = resolved.flatMap((r) => ('channel' in r ? [r.channel] : []));
  const skipped = resolved.flatMap((r) => ('skip' in r ? [r.skip] : []));
  if (channels.length === 0) return { dial: undefined, skipped };
  return { dial: `${globalVars(cmd)}${channels.join(separator(cmd, channels.length))}`, skipped };
}
