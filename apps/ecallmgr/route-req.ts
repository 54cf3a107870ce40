/**
 * A parked channel's event -> route_req fields (Kazoo's `ecallmgr_fs_route`, `kapi_route`). Pure.
 *
 * Contract — `routeReqFields(ev, {fetchId, switchName, defaultRealm})`:
 * Call-ID = Unique-ID; From / To / Request = `user@realm` from the SIP variables
 * (sip_from_user/host, sip_to_user/host, sip_req_uri) or the caller profile, realm
 * falling back to domain_name then `defaultRealm`; caller id; Call-Direction; Context;
 * Resource-Type audio; Msg-ID = the fetch id; Custom-Channel-Vars = the channel's
 * `ecallmgr_*` variables plus Fetch-ID (and Account-ID there routes the request by
 * account, as Kazoo). Undefined when the event has no Unique-ID.
 */
import type { EslEvent } from '../../src/switch/index.ts';

export function ccvsOf(h: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h)
    if (k.startsWith('variable_ecallmgr_')) out[k.slice('variable_ecallmgr_'.length)] = h[k]!;
  return out;
}

export function routeReqFields(
  ev: EslEvent,
  o: { fetchId: string; switchName: string; switchHost: string; defaultRealm: string },
): Record<string, unknown> | undefined {
  const h = ev.headers;
  const callId = h['Unique-ID'];
  if (callId === undefined || callId === '') return undefined;
  const realm = h.variable_sip_from_host || h.variable_domain_name || o.defaultRealm;
  const toRealm = h.variable_sip_to_host || realm;
  const fromUser = h.variable_sip_from_user || h['Caller-Caller-ID-Number'] || 'unknown';
  const toUser = h.variable_sip_to_user || h['Caller-Destination-Number'] || 'unknown';
  const to = `${toUser}@${toRealm}`;
  return {
    'Call-ID': callId,
    'Msg-ID': o.fetchId,
    From: `${fromUser}@${realm}`,
    To: to,
    Request: h.variable_sip_req_uri || `${h['Caller-Destination-Number'] || toUser}@${toRealm}`,
    'Caller-ID-Name': h['Caller-Caller-ID-Name'],
    'Caller-ID-Number': h['Caller-Caller-ID-Number'],
    'Call-Direction': h['Call-Direction'],
    Context: h['Caller-Context'] || 'context_2',
    'Resource-Type': 'audio',
    'Custom-Channel-Vars': { ...ccvsOf(h), 'Fetch-ID': o.fetchId },
    'Switch-Hostname': h['FreeSWITCH-Hostname'] || o.switchHost,
    'Switch-Nodename': o.switchName,
    'User-Agent': h.variable_sip_user_agent,
  };
}
