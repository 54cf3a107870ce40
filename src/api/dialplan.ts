/**
 * Dialplan commands (Kazoo `kapi_dialplan`, Event-Category `call`, Event-Name `command`):
 * what an app asks the switch to do on a call, one command per message.
 *
 * Contract
 * - `dialplan` lists one entry per Application-Name (id `dialplan.<app>`): answer, hangup,
 *   unbridge, play, playstop, tts, record, record_call, park, noop, queue, bridge, tones, set, say,
 *   playseek, store. They share call/command and are told apart by Application-Name
 *   (`discriminator`). Values and types are Kazoo 4.3's (`kapi_dialplan.hrl`): Terminators
 *   a list of DTMF digits or "none", Loop-Count a positive integer, Record-Sample-Rate and
 *   playseek's Duration integers, booleans as `kz_term:is_boolean` takes them.
 * - Every command requires Application-Name (filled by build) and Call-ID; the sender puts
 *   its own queue in Server-ID. Insert-At ∈ head, tail, flush, now (ecallmgr's default is
 *   tail); playstop and playseek are always `now`.
 * - Published on `callctl` to the call's Control-Queue (a `queue` route: pass it).
 * - bridge Endpoints: every element is checked as an endpoint (required Invite-Format; 4.3's
 *   optional headers, T.38, Outbound-Caller-ID and Privacy included), tones' Tones as tones.
 *   Kazoo silently drops invalid endpoints and tones while building; Fife reports them instead.
 */
import type { FieldType, MessageDef, SubDef } from './types.ts';
import { CALL_EVENT_NAMES } from './call-event.ts';
import { INVITE_FORMATS } from './route.ts';

export const INSERT_AT = ['head', 'tail', 'flush', 'now'] as const;

/** Kazoo 4.3's say Type values (SAY_REQ_VALUES). */
const SAY_TYPES = [
  'number',
  'items',
  'persons',
  'messages',
  'currency',
  'time_measurement',
  'current_date',
  'current_time',
  'current_date_time',
  'telephone_number',
  'telephone_extension',
  'url',
  'ip_address',
  'e-mail_address',
  'postal_address',
  'account_number',
  'name_spelled',
  'name_phonetic',
  'short_date_time',
] as const;

/** A bridge endpoint (kapi_dialplan's bridge_req_endpoint headers); originate's reuse its list. */
export const ENDPOINT: SubDef = {
  name: 'endpoint',
  required: ['Invite-Format'],
  optional: [
    'Account-ID',
    'Auth-Password',
    'Auth-Realm',
    'Auth-User',
    'Bypass-Media',
    'Call-Context',
    'Callee-ID-Name',
    'Callee-ID-Number',
    'Caller-ID-Name',
    'Caller-ID-Number',
    'Codecs',
    'Custom-Application-Vars',
    'Custom-Channel-Vars',
    'Custom-SIP-Headers',
    'Endpoint-Actions',
    'Endpoint-Delay',
    'Endpoint-ID',
    'Endpoint-Options',
    'Endpoint-Progress-Timeout',
    'Endpoint-Timeout',
    'Endpoint-Type',
    'Endpoint-URI',
    'Enable-T38-Fax',
    'Enable-T38-Fax-Request',
    'Enable-T38-Gateway',
    'Enable-T38-Passthrough',
    'Failover',
    'Force-Fax',
    'Forward-IP',
    'Hold-Media',
    'Ignore-Completed-Elsewhere',
    'Ignore-Early-Media',
    'Loopback-Bowout',
    'Outbound-Call-ID',
    'Outbound-Callee-ID-Name',
    'Outbound-Callee-ID-Number',
    'Outbound-Caller-ID-Name',
    'Outbound-Caller-ID-Number',
    'Presence-ID',
    'Privacy-Hide-Name',
    'Privacy-Hide-Number',
    'Privacy-Method',
    'Proxy-IP',
    'Proxy-Zone',
    'Route',
    'Simplify-Loopback',
    'SIP-Interface',
    'SIP-Invite-Parameters',
    'SIP-Transport',
    'To-DID',
    'To-IP',
    'To-Realm',
    'To-URI',
    'To-User',
    'To-Username',
  ],
  values: {
    'Invite-Format': INVITE_FORMATS,
    'Endpoint-Type': ['sip', 'freetdm', 'skype'],
    'Enable-T38-Gateway': ['self', 'peer'],
    'SIP-Transport': ['udp', 'tcp', 'tls', 'sctp'],
  },
  types: {
    'Bypass-Media': 'booleanish',
    Codecs: 'list',
    'Custom-Application-Vars': 'object',
    'Custom-Channel-Vars': 'object',
    'Custom-SIP-Headers': 'object',
    'Endpoint-Options': 'object',
    'Ignore-Early-Media': 'booleanish',
    'SIP-Invite-Parameters': 'list',
  },
};

/** One tone of a `tones` command (Kazoo's TONES_REQ_TONE_HEADERS). */
const TONE: SubDef = {
  name: 'tone',
  required: ['Frequencies', 'Duration-ON', 'Duration-OFF'],
  optional: ['Volume', 'Repeat'],
};

const QUEUED_COMMAND: SubDef = {
  name: 'command',
  required: ['Application-Name'],
  optional: [],
  types: { 'Application-Name': 'string' },
};

interface CommandSpec {
  readonly doc: string;
  readonly required?: readonly string[];
  readonly optional?: readonly string[];
  readonly values?: Readonly<Record<string, readonly string[]>>;
  readonly types?: Readonly<Record<string, FieldType>>;
  readonly defaults?: Readonly<Record<string, string>>;
  readonly notes?: readonly string[];
}

function command(app: string, spec: CommandSpec): MessageDef {
  return {
    id: `dialplan.${app}`,
    category: 'call',
    name: 'command',
    discriminator: 'Application-Name',
    fixed: { 'Application-Name': app },
    doc: spec.doc,
    required: ['Call-ID', ...(spec.required ?? [])],
    optional: ['Insert-At', ...(spec.optional ?? [])],
    values: { 'Insert-At': INSERT_AT, ...spec.values },
    types: { 'Call-ID': 'string', ...spec.types },
    route: { exchange: 'callctl', kind: 'queue' },
    ...(spec.defaults === undefined ? {} : { defaults: spec.defaults }),
    ...(spec.notes === undefined ? {} : { notes: spec.notes }),
  };
}

export const dialplan: readonly MessageDef[] = [
  command('answer', { doc: 'answer the call' }),
  command('hangup', {
    doc: 'hang up (Other-Leg-Only: only the bridged leg)',
    optional: ['Hangup-Cause', 'Other-Leg-Only'],
    types: { 'Other-Leg-Only': 'booleanish' },
  }),
  command('unbridge', {
    doc: 'take the legs out of the bridge (Leg: A, the default, B or Both); they are parked',
    optional: ['Leg'],
    values: { Leg: ['A', 'B', 'Both'] },
  }),
  command('play', {
    doc: 'play a media file',
    required: ['Media-Name'],
    optional: [
      'Endless-Playback',
      'Format',
      'Group-ID',
      'Language',
      'Leg',
      'Loop-Count',
      'Terminators',
      'Voice',
    ],
    values: { Leg: ['A', 'B', 'Both'] },
    types: {
      'Media-Name': 'string',
      'Endless-Playback': 'booleanish',
      'Loop-Count': 'pos-integer',
      Terminators: 'terminators',
    },
  }),
  command('playstop', {
    doc: 'stop the current playback (always executed now)',
    values: { 'Insert-At': ['now'] },
    defaults: { 'Insert-At': 'now' },
  }),
  command('tts', {
    doc: 'speak a text',
    required: ['Text'],
    optional: [
      'Conference-ID',
      'Endless-Playback',
      'Engine',
      'Group-ID',
      'Language',
      'Leg',
      'Loop-Count',
      'Terminators',
      'Voice',
    ],
    values: { Voice: ['male', 'female'] },
    types: {
      Text: 'string',
      'Endless-Playback': 'booleanish',
      'Loop-Count': 'pos-integer',
      Terminators: 'terminators',
    },
  }),
  command('record', {
    doc: 'record the caller into a media file',
    required: ['Media-Name'],
    optional: ['Silence-Hits', 'Silence-Threshold', 'Terminators', 'Time-Limit'],
    types: { 'Media-Name': 'string', Terminators: 'terminators' },
  }),
  command('record_call', {
    doc: 'start, stop, mask or unmask recording of the whole call',
    required: ['Record-Action'],
    optional: [
      'Additional-Headers',
      'Channels-As-Stereo',
      'Follow-Transfer',
      'Media-Name',
      'Media-Recorder',
      'Media-Recording-Endpoint-ID',
      'Media-Recording-ID',
      'Media-Recording-Origin',
      'Media-Transfer-Destination',
      'Media-Transfer-Method',
      'Recording-Variables',
      'Record-Min-Sec',
      'Record-Sample-Rate',
      'Time-Limit',
    ],
    values: { 'Record-Action': ['start', 'stop', 'mask', 'unmask'] },
    types: { 'Record-Sample-Rate': 'integer' },
  }),
  command('park', { doc: 'park the call', optional: ['Hangup-Cause', 'Timeout'] }),
  command('noop', {
    doc: 'no-op whose completion (Application-Response = its Msg-ID) marks a point in the queue',
    optional: ['B-Leg-Events', 'Filter-Applications'],
    values: { 'B-Leg-Events': CALL_EVENT_NAMES },
    types: { 'B-Leg-Events': 'string-list', 'Filter-Applications': 'list' },
  }),
  command('queue', {
    doc: 'several commands in one message, executed in order',
    required: ['Commands'],
    types: { Commands: { listOf: QUEUED_COMMAND } },
  }),
  command('bridge', {
    doc: 'connect the call to one or more endpoints',
    required: ['Endpoints'],
    optional: [
      'Asserted-Identity-Name',
      'Asserted-Identity-Number',
      'Asserted-Identity-Realm',
      'B-Leg-Events',
      'Bridge-Actions',
      'Call-Context',
      'Callee-ID-Name',
      'Callee-ID-Number',
      'Caller-ID-Name',
      'Caller-ID-Number',
      'Confirm-Cancel-Timeout',
      'Confirm-File',
      'Confirm-Key',
      'Continue-After',
      'Continue-On-Fail',
      'Custom-Application-Vars',
      'Custom-Channel-Vars',
      'Custom-SIP-Headers',
      'Dial-Endpoint-Method',
      'Enable-T38-Fax',
      'Enable-T38-Fax-Request',
      'Enable-T38-Gateway',
      'Enable-T38-Passthrough',
      'Export-Bridge-Variables',
      'Export-Variables',
      'Fail-On-Single-Reject',
      'Force-Fax',
      'Hold-Media',
      'Ignore-Completed-Elsewhere',
      'Ignore-Early-Media',
      'Ignore-Forward',
      'Loopback-Bowout',
      'Media',
      'Outbound-Callee-ID-Name',
      'Outbound-Callee-ID-Number',
      'Outbound-Caller-ID-Name',
      'Outbound-Caller-ID-Number',
      'Privacy-Hide-Name',
      'Privacy-Hide-Number',
      'Privacy-Method',
      'Ringback',
      'Secure-RTP',
      'Simplify-Loopback',
      'SIP-Invite-Parameters',
      'SIP-Transport',
      'Timeout',
    ],
    values: {
      'Dial-Endpoint-Method': ['single', 'simultaneous'],
      Media: ['process', 'bypass', 'auto'],
      'SIP-Transport': ['udp', 'tcp', 'tls'],
      'Enable-T38-Gateway': ['self', 'peer'],
      'B-Leg-Events': CALL_EVENT_NAMES,
    },
    types: {
      Endpoints: { listOf: ENDPOINT },
      'B-Leg-Events': 'string-list',
      'Bridge-Actions': 'object',
      'Continue-On-Fail': 'booleanish',
      'Custom-Application-Vars': 'object',
      'Custom-Channel-Vars': 'object',
      'Custom-SIP-Headers': 'object',
      'Secure-RTP': 'booleanish',
      'SIP-Invite-Parameters': 'list',
    },
  }),
  command('tones', {
    doc: 'play one or more tones (frequencies with on/off durations)',
    required: ['Tones'],
    optional: ['Conference-ID', 'Group-ID', 'Terminators'],
    types: { Tones: { listOf: TONE }, Terminators: 'terminators' },
  }),
  command('set', {
    doc: 'set channel and call variables (Custom-Channel-Vars on this leg, Custom-Call-Vars on every leg)',
    required: ['Custom-Call-Vars', 'Custom-Channel-Vars'],
    optional: ['Custom-Application-Vars'],
    types: {
      'Custom-Application-Vars': 'object',
      'Custom-Call-Vars': 'object',
      'Custom-Channel-Vars': 'object',
    },
  }),
  command('say', {
    doc: "speak a value with the switch's say engine (a number, a date, a spelled name, ...)",
    required: ['Language', 'Method', 'Say-Text', 'Type'],
    optional: ['Gender', 'Group-ID'],
    values: {
      Type: SAY_TYPES,
      Method: ['none', 'pronounced', 'iterated', 'counted'],
      Gender: ['masculine', 'feminine', 'neuter'],
    },
  }),
  command('playseek', {
    doc: 'move the current playback forward or back by Duration milliseconds (always executed now)',
    required: ['Direction', 'Duration'],
    values: { 'Insert-At': ['now'] },
    types: { Duration: 'integer' },
    defaults: { 'Insert-At': 'now' },
  }),
  command('store', {
    doc: 'send a recorded media file from the switch to a URL (HTTP put or post)',
    required: ['Media-Name', 'Media-Transfer-Destination', 'Media-Transfer-Method'],
    optional: ['Additional-Headers', 'Suppress-Error-Report'],
    values: { 'Media-Transfer-Method': ['stream', 'put', 'post'] },
    types: { 'Additional-Headers': 'list', 'Suppress-Error-Report': 'booleanish' },
    notes: [
      "Kazoo 4.3's ecallmgr executes `put` and `post` only (it streams the switch's recording file to Media-Transfer-Destination over HTTP) and answers `stream` with an error; when the transfer ends it publishes a `CHANNEL_EXECUTE_COMPLETE` call event with Application-Name `store` and the HTTP result as Application-Response.",
      "Voicemail does not use this command in 4.3: callflow's voicemail records with `record` into a file on the switch, then asks that switch to upload it with the switch exchange's [switch_command](#switch_command) (`send_http`) and waits for its [switch_reply](#switch_reply).",
    ],
  }),
];
