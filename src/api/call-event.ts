/**
 * Call events (Kazoo `kapi_call`, Event-Category `call_event`): what happens on a call,
 * published by ecallmgr for every listener of that call; plus usurp_control.
 *
 * Contract
 * - `callEvents` lists call_event (any Event-Name: CHANNEL_ANSWER, CHANNEL_DESTROY, ...;
 *   the known names are `CALL_EVENT_NAMES`), usurp_control, channel_status_req and
 *   channel_status_resp (exact names, so they win the lookup over the any-name entry).
 *   channel_status_req goes on `callevt` as `call.status_req.<call-id>`; its answer to the
 *   requester's Server-ID on `targeted`.
 * - Published on `callevt` with key `call.<Event-Name>.<encoded Call-ID>` (the event name is
 *   not encoded, as in Kazoo) and AMQP header `call-id` = Call-ID. Bind
 *   `callEventKey('*', callId)` for all events of a call.
 * - Empty values of call_event are not stripped recursively (as in Kazoo).
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Envelope, Message, MessageDef } from './types.ts';

export interface CallEvent extends Envelope {
  readonly 'Call-ID': string;
  readonly 'Hangup-Cause'?: string;
  readonly 'Application-Name'?: string;
  readonly 'Application-Response'?: string;
  readonly 'Custom-Channel-Vars'?: Readonly<Record<string, unknown>>;
}

export const CALL_EVENT_NAMES = [
  'CALL_SECURE',
  'CALL_UPDATE',
  'CHANNEL_ANSWER',
  'CHANNEL_CREATE',
  'CHANNEL_DESTROY',
  'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE',
  'CHANNEL_EXECUTE_ERROR',
  'CHANNEL_FAX_STATUS',
  'CHANNEL_INTERCEPTED',
  'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_REPLACED',
  'CHANNEL_TRANSFEREE',
  'CHANNEL_TRANSFEROR',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_HOLD',
  'CHANNEL_UNHOLD',
  'DETECTED_TONE',
  'DTMF',
  'LEG_CREATED',
  'LEG_DESTROYED',
  'RECORD_START',
  'RECORD_STOP',
  'dialplan',
] as const;

/** `call.<event>.<encoded call-id>`; `'*'` for either part binds a wildcard. */
export function callEventKey(eventName: string, callId: string): string {
  return routingKey('call', eventName, encodeSegment(callId));
}

function callIdOf(msg: Message): string {
  return typeof msg['Call-ID'] === 'string' ? msg['Call-ID'] : '';
}

const CALL_EVENT_OPTIONAL = [
  'Application-Data',
  'Application-Event',
  'Application-Name',
  'Application-Response',
  'Billing-Seconds',
  'Bridge-B-Unique-ID',
  'Bridge-Hangup-Cause',
  'Call-Debug',
  'Call-Direction',
  'Callee-ID-Name',
  'Callee-ID-Number',
  'Caller-Destination-Number',
  'Caller-ID-Name',
  'Caller-ID-Number',
  'Channel-Answer-State',
  'Channel-Call-State',
  'Channel-Created-Time',
  'Channel-Debug',
  'Channel-Is-Loopback',
  'Channel-Loopback-Bowout',
  'Channel-Loopback-Bowout-Execute',
  'Channel-Loopback-Leg',
  'Channel-Loopback-Other-Leg-ID',
  'Channel-Moving',
  'Channel-Name',
  'Channel-State',
  'Conference-Config',
  'Conference-Name',
  'Connecting-Leg-A-UUID',
  'Connecting-Leg-B-UUID',
  'Control-Queue',
  'Custom-Application-Vars',
  'Custom-Channel-Vars',
  'Custom-SIP-Headers',
  'DTMF-Digit',
  'DTMF-Duration',
  'Detected-Tone',
  'Digits-Dialed',
  'Disposition',
  'Duration-Seconds',
  'Endpoint-Disposition',
  'Fax-Info',
  'From',
  'From-Tag',
  'From-Uri',
  'Hangup-Cause',
  'Hangup-Code',
  'Interaction-ID',
  'Intercepted-By',
  'Length',
  'Local-SDP',
  'Media-Recordings',
  'Media-Server',
  'Origination-Call-ID',
  'Other-Leg-Call-ID',
  'Other-Leg-Caller-ID-Name',
  'Other-Leg-Caller-ID-Number',
  'Other-Leg-Destination-Number',
  'Other-Leg-Direction',
  'Parking-Slot',
  'Presence-ID',
  'Raw-Application-Data',
  'Raw-Application-Name',
  'Recording',
  'Remote-SDP',
  'Replaced-By',
  'Request',
  'Resigning-Peer-UUID',
  'Resigning-UUID',
  'Ringing-Seconds',
  'Root-Call-Interaction-ID',
  'Silence-Terminated',
  'Switch-Hostname',
  'Switch-Nodename',
  'Switch-URI',
  'Switch-URL',
  'Target-Call-ID',
  'Terminator',
  'Timestamp',
  'To',
  'To-Tag',
  'To-Uri',
  'Transfer-Disposition',
  'Transfer-History',
  'Transfer-Source',
  'Transfer-To',
  'Transfer-Type',
  'User-Agent',
];

export const callEvents: readonly MessageDef[] = [
  {
    id: 'call_event',
    category: 'call_event',
    name: '*',
    doc: 'a switch event of one call (Event-Name = the event, e.g. CHANNEL_DESTROY)',
    stripRecursive: false,
    required: ['Call-ID'],
    optional: CALL_EVENT_OPTIONAL,
    types: {
      'Call-ID': 'string',
      'Custom-Channel-Vars': 'object',
      'Custom-Application-Vars': 'object',
      'Custom-SIP-Headers': 'object',
      'Fax-Info': 'object',
    },
    route: {
      exchange: 'callevt',
      kind: 'key',
      key: (m) => callEventKey(String(m['Event-Name']), callIdOf(m)),
      pattern: 'call.<Event-Name>.<call-id>',
    },
    amqpHeaders: (m) => ({ 'call-id': callIdOf(m) }),
  },
  {
    id: 'usurp_control',
    category: 'call_event',
    name: 'usurp_control',
    doc: 'another call-control process took this call: stop controlling it',
    required: ['Call-ID', 'Fetch-ID'],
    optional: ['Media-Node', 'Reason'],
    types: { 'Call-ID': 'string', 'Fetch-ID': 'string' },
    route: {
      exchange: 'callevt',
      kind: 'key',
      key: (m) => callEventKey('usurp_control', callIdOf(m)),
      pattern: 'call.usurp_control.<call-id>',
    },
    amqpHeaders: (m) => ({ 'call-id': callIdOf(m) }),
  },
  {
    id: 'channel_status_req',
    category: 'call_event',
    name: 'channel_status_req',
    doc: 'is this call still up, and where?',
    required: ['Call-ID'],
    optional: ['Active-Only'],
    types: { 'Call-ID': 'string', 'Active-Only': 'booleanish' },
    route: {
      exchange: 'callevt',
      kind: 'key',
      key: (m) => callEventKey('status_req', callIdOf(m)),
      pattern: 'call.status_req.<call-id>',
    },
  },
  {
    id: 'channel_status_resp',
    category: 'call_event',
    name: 'channel_status_resp',
    doc: 'the status of a call: active, tmpdown or terminated',
    required: ['Call-ID', 'Status'],
    optional: [
      'Custom-Application-Vars',
      'Custom-Channel-Vars',
      'Error-Msg',
      'From-Tag',
      'Other-Leg-Call-ID',
      'Realm',
      'Switch-Hostname',
      'Switch-Nodename',
      'Switch-URL',
      'To-Tag',
      'Username',
    ],
    values: { Status: ['active', 'tmpdown', 'terminated'] },
    types: { 'Custom-Application-Vars': 'object', 'Custom-Channel-Vars': 'object' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
];
