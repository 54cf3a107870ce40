/**
 * Switch event -> call_event fields, with Kazoo's header names (Kazoo's `ecallmgr_call_events`, `kapi_call`). Pure.
 *
 * Contract
 * - `kazooAppName(fsApp, data)`: the Kazoo Application-Name of a FreeSWITCH application
 *   (playback -> play, or tts for `tts://` data, tones for `tone_stream://`; speak -> tts;
 *   say -> say; pre_answer -> progress;
 *   ring_ready -> ring; play_and_get_digits -> play_and_collect_digits; ...), undefined
 *   for applications Kazoo does not name (their EXECUTE events are not published).
 * - `callEventFields(ev, sw)`: the fields of the call_event to publish for switch event
 *   `ev` on switch `sw`, or undefined when Kazoo publishes nothing for it:
 *   * published: the call events Kazoo publishes (CHANNEL_CREATE/ANSWER/DESTROY,
 *     EXECUTE/EXECUTE_COMPLETE, BRIDGE/UNBRIDGE, PROGRESS_MEDIA, DTMF, RECORD_START/STOP,
 *     HOLD/UNHOLD, CALL_UPDATE, DETECTED_TONE) and CUSTOM `kazoo::noop` / `kazoo::masquerade`
 *     (carrying their own `kazoo_event_name`, `kazoo_application_name`,
 *     `kazoo_application_response`; the masquerade of `bridge` is the bridge's
 *     CHANNEL_EXECUTE_COMPLETE with its outcome: see bridgeOutcome);
 *   * not published: CHANNEL_EXECUTE* of applications without a Kazoo name, of park,
 *     EXECUTE_COMPLETE of set/export and of a genuine bridge; every other event.
 * - Renames: Unique-ID -> Call-ID; caller id from variable_origination_caller_id_*,
 *   variable_effective_caller_id_*, Caller-Caller-ID-* (first set); variable_ecallmgr_X ->
 *   Custom-Channel-Vars.X; variable_cav_X -> Custom-Application-Vars.X; variable_sip_h_X-*
 *   -> Custom-SIP-Headers; Application -> Raw-Application-Name (+ mapped Application-Name);
 *   Application-Data -> Raw-Application-Data; Channel-State without `CS_`;
 *   Event-Date-Timestamp (µs) -> Msg-ID (as is) and Timestamp (Gregorian seconds);
 *   Other-Leg-Unique-ID -> Other-Leg-Call-ID; Hangup-Cause / variable_hangup_cause -> Hangup-Cause,
 *   variable_bridge_hangup_cause -> Bridge-Hangup-Cause, variable_sip_term_status -> Hangup-Code.
 * - Never throws on odd input: missing headers are left out.
 */
import { gregorianSeconds } from '../../src/api/time.ts';
import { eventHeader, type EslEvent } from '../../src/switch/index.ts';

export interface SwitchIdentity {
  /** ecallmgr's name for the switch, e.g. freeswitch@127.0.0.1:8021 (Switch-Nodename). */
  readonly name: string;
  /** Switch-URL: where ecallmgr reaches it. */
  readonly url: string;
}

const APP_NAMES: Readonly<Record<string, string>> = {
  answer: 'answer',
  hangup: 'hangup',
  park: 'park',
  bridge: 'bridge',
  record: 'record',
  sleep: 'sleep',
  echo: 'echo',
  playback: 'play',
  speak: 'tts',
  say: 'say',
  pre_answer: 'progress',
  ring_ready: 'ring',
  play_and_get_digits: 'play_and_collect_digits',
  read: 'play_and_collect_digits',
  set: 'set',
  export: 'set',
  multiset: 'set',
  endless_playback: 'hold',
  rxfax: 'receive_fax',
  record_session: 'record_call',
  uuid_record: 'record_call',
  signal_bridge: 'bridge',
  send_dtmf: 'send_dtmf',
  respond: 'respond',
  redirect: 'redirect',
  conference: 'conference',
  intercept: 'call_pickup',
  eavesdrop: 'eavesdrop',
};

export function kazooAppName(fsApp: string | undefined, data?: string): string | undefined {
  if (fsApp === undefined) return undefined;
  if (fsApp === 'playback' && data?.startsWith('tts://')) return 'tts';
  if (fsApp === 'playback' && data?.startsWith('tone_stream://')) return 'tones';
  return APP_NAMES[fsApp];
}

const PUBLISHED = new Set([
  'CHANNEL_CREATE',
  'CHANNEL_ANSWER',
  'CHANNEL_DESTROY',
  'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS_MEDIA',
  'DTMF',
  'RECORD_START',
  'RECORD_STOP',
  'CHANNEL_HOLD',
  'CHANNEL_UNHOLD',
  'CALL_UPDATE',
  'CALL_SECURE',
  'DETECTED_TONE',
]);
const NO_COMPLETE = new Set([
  'set',
  'export',
  'multiset',
  'bridge',
  'intercept',
  'execute_extension',
  'park',
]);

/** Which event name to publish for `ev`, or undefined when it is not published. */
export function publishedName(ev: EslEvent): string | undefined {
  // header by header (eventHeader): an event that is not published is never decoded whole
  if (ev.name === 'CUSTOM')
    return ev.subclass === 'kazoo::noop' || ev.subclass === 'kazoo::masquerade'
      ? (eventHeader(ev, 'kazoo_event_name') ?? 'CHANNEL_EXECUTE_COMPLETE')
      : undefined;
  if (!PUBLISHED.has(ev.name)) return undefined;
  if (ev.name === 'CHANNEL_EXECUTE' || ev.name === 'CHANNEL_EXECUTE_COMPLETE') {
    const app = eventHeader(ev, 'Application');
    if (app === undefined || app === 'park' || APP_NAMES[app] === undefined) return undefined;
    if (ev.name === 'CHANNEL_EXECUTE_COMPLETE' && NO_COMPLETE.has(app)) return undefined;
  }
  return ev.name;
}

const first = (...vs: Array<string | undefined>): string | undefined =>
  vs.find((v) => v !== undefined && v !== '');

const CCV = 'variable_ecallmgr_';
const CAV = 'variable_cav_';
const SIP_H = 'variable_sip_h_';

/** The channel's CCVs, CAVs and custom SIP headers (prefixes stripped), in one pass over the headers. */
function prefixedVars(h: Readonly<Record<string, string>>): {
  ccv?: Record<string, string>;
  cav?: Record<string, string>;
  sipH?: Record<string, string>;
} {
  const out: { ccv?: Record<string, string>; cav?: Record<string, string>; sipH?: Record<string, string> } =
    {};
  for (const k in h) {
    if (!k.startsWith('variable_')) continue;
    if (k.startsWith(CCV)) (out.ccv ??= {})[k.slice(CCV.length)] = h[k]!;
    else if (k.startsWith(CAV)) (out.cav ??= {})[k.slice(CAV.length)] = h[k]!;
    else if (k.startsWith(SIP_H)) (out.sipH ??= {})[k.slice(SIP_H.length)] = h[k]!;
  }
  return out;
}

function uri(user: string | undefined, host: string | undefined): string | undefined {
  return user === undefined || user === '' ? undefined : `${user}@${host ?? 'nodomain'}`;
}

export function callEventFields(ev: EslEvent, sw: SwitchIdentity): Record<string, unknown> | undefined {
  const name = publishedName(ev);
  if (name === undefined) return undefined;
  const h = ev.headers;
  const callId = first(h['Unique-ID'], h['Caller-Unique-ID'], h.variable_uuid);
  if (callId === undefined) return undefined;
  const micros = h['Event-Date-Timestamp'];
  const vars = prefixedVars(h);
  const f: Record<string, unknown> = {
    'Event-Name': name,
    'Call-ID': callId,
    'Msg-ID': micros,
    Timestamp: micros === undefined ? undefined : gregorianSeconds(Number(micros) / 1e3),
    'Call-Direction': h['Call-Direction'],
    'Caller-ID-Name': first(
      h.variable_origination_caller_id_name,
      h.variable_effective_caller_id_name,
      h['Caller-Caller-ID-Name'],
    ),
    'Caller-ID-Number': first(
      h.variable_origination_caller_id_number,
      h.variable_effective_caller_id_number,
      h['Caller-Caller-ID-Number'],
    ),
    'Callee-ID-Name': first(h.variable_effective_callee_id_name, h['Caller-Callee-ID-Name']),
    'Callee-ID-Number': first(h.variable_effective_callee_id_number, h['Caller-Callee-ID-Number']),
    'Channel-Call-State': h['Channel-Call-State'],
    'Channel-State': h['Channel-State']?.replace(/^CS_/, ''),
    'Channel-Answer-State': h['Answer-State'],
    'Channel-Name': h['Channel-Name'],
    'Channel-Created-Time': h['Caller-Channel-Created-Time'],
    'Custom-Channel-Vars': vars.ccv,
    'Custom-Application-Vars': vars.cav,
    'Custom-SIP-Headers': vars.sipH,
    'Other-Leg-Call-ID': first(h['Other-Leg-Unique-ID'], h['Bridge-B-Unique-ID']),
    'Origination-Call-ID': h.variable_sip_origination_call_uuid,
    'Presence-ID': h.variable_presence_id,
    'From-Tag': h.variable_sip_from_tag,
    'To-Tag': h.variable_sip_to_tag,
    'Hangup-Cause': first(h['Hangup-Cause'], h.variable_hangup_cause),
    'Bridge-Hangup-Cause': h.variable_bridge_hangup_cause,
    'Hangup-Code': h.variable_sip_term_status === undefined ? undefined : `sip:${h.variable_sip_term_status}`,
    'Media-Server': h['FreeSWITCH-Hostname'],
    'Switch-Hostname': h['FreeSWITCH-Hostname'],
    'Switch-Nodename': sw.name,
    'Switch-URL': sw.url,
    'Raw-Application-Name': h.Application,
    'Raw-Application-Data': h['Application-Data'],
  };
  addPerEvent(name, ev, f);
  return f;
}

/**
 * FreeSWITCH's Q.850 cause -> SIP status for the causes a bridge commonly ends with
 * (mod_sofia's hangup_cause_to_sip); used only when the switch gave no SIP status.
 */
const CAUSE_SIP: Readonly<Record<string, string>> = {
  USER_BUSY: '486',
  NO_ANSWER: '480',
  NO_USER_RESPONSE: '408',
  CALL_REJECTED: '603',
  ORIGINATOR_CANCEL: '487',
  UNALLOCATED_NUMBER: '404',
  NO_ROUTE_DESTINATION: '404',
  INVALID_NUMBER_FORMAT: '484',
  NORMAL_TEMPORARY_FAILURE: '503',
};

/**
 * The bridge's CHANNEL_EXECUTE_COMPLETE (the kazoo::masquerade ecallmgr fires after the
 * bridge application): Application-Response = originate_disposition (FAIL when unset),
 * Disposition the same; Hangup-Cause = the bridged leg's cause first (Kazoo's order for
 * the bridge application), then the channel's, then the cause the origination failed
 * with; Hangup-Code = the SIP status the switch reports (proto_specific_hangup_cause,
 * last_bridge_proto_specific_hangup_cause), else `sip:<code>` of that cause.
 */
function bridgeOutcome(h: Readonly<Record<string, string>>, f: Record<string, unknown>): void {
  f['Application-Response'] = h.variable_originate_disposition ?? 'FAIL';
  f.Disposition = first(h.variable_originate_disposition, h.variable_endpoint_disposition);
  const cause = first(
    h.variable_bridge_hangup_cause,
    h.variable_hangup_cause,
    h['Hangup-Cause'],
    h.variable_originate_failed_cause,
  );
  f['Hangup-Cause'] = cause;
  const code = first(
    h.variable_proto_specific_hangup_cause,
    h.variable_last_bridge_proto_specific_hangup_cause,
  );
  f['Hangup-Code'] =
    code ?? (cause !== undefined && CAUSE_SIP[cause] ? `sip:${CAUSE_SIP[cause]}` : undefined);
}

function addPerEvent(name: string, ev: EslEvent, f: Record<string, unknown>): void {
  const h = ev.headers;
  if (ev.name === 'CUSTOM') {
    f['Application-Name'] = h.kazoo_application_name;
    f['Application-Response'] = h.kazoo_application_response;
    f['Raw-Application-Name'] = undefined;
    if (h.kazoo_application_name === 'bridge') bridgeOutcome(h, f);
    return;
  }
  if (name === 'CHANNEL_CREATE' || name === 'CHANNEL_ANSWER' || name === 'CHANNEL_DESTROY') {
    const host = first(h.variable_sip_from_host, h.variable_domain_name);
    f.Request = first(
      h.variable_sip_req_uri,
      uri(h['Caller-Destination-Number'], first(h.variable_sip_to_host, host)),
    );
    f.To = first(
      h.variable_sip_to_uri,
      uri(h.variable_sip_to_user ?? h['Caller-Destination-Number'], first(h.variable_sip_to_host, host)),
    );
    f.From = first(
      h.variable_sip_from_uri,
      uri(h.variable_sip_from_user ?? h['Caller-Caller-ID-Number'], host),
    );
  }
  if (name === 'CHANNEL_DESTROY') {
    f['Duration-Seconds'] = h.variable_duration;
    f['Billing-Seconds'] = h.variable_billsec;
    f['Ringing-Seconds'] = h.variable_progresssec;
    f['User-Agent'] = h.variable_sip_user_agent;
  }
  if (name === 'CHANNEL_EXECUTE' || name === 'CHANNEL_EXECUTE_COMPLETE') {
    f['Application-Name'] = kazooAppName(h.Application, h['Application-Data']);
    f['Application-Response'] = h['Application-Response'];
    if (h.Application === 'playback' && name === 'CHANNEL_EXECUTE_COMPLETE')
      f['DTMF-Digit'] = h.variable_playback_terminator_used;
  }
  if (name === 'DTMF') {
    f['DTMF-Digit'] = h['DTMF-Digit'];
    f['DTMF-Duration'] = h['DTMF-Duration'];
  }
  if (name === 'RECORD_START' || name === 'RECORD_STOP') {
    f['Application-Name'] = 'record';
    f['Application-Response'] = h['Record-File-Path'];
    if (name === 'RECORD_STOP') {
      f.Length = h.variable_record_ms;
      f.Terminator = h.variable_playback_terminator_used;
    }
  }
  if (name === 'DETECTED_TONE') f['Detected-Tone'] = h['Detected-Tone'];
}
