/**
 * Originate (Kazoo `kapi_resource` originate_* and `kapi_dialplan` originate_ready /
 * originate_execute): an app asks ecallmgr to place a new call leg.
 *
 * Contract
 * - `originate` lists originate_req, originate_resp, originate_started, originate_uuid,
 *   originate_ready and originate_execute.
 * - originate_req goes on `callmgr` with the fixed key `originate.resource.req` (Kazoo
 *   publishes it mandatory); it requires Endpoints (each an endpoint with Invite-Format)
 *   and Application-Name (park, bridge, transfer, fax or eavesdrop).
 * - The answers go to `targeted` / the requester's Server-ID: originate_uuid (the new
 *   leg's Call-ID and control queue), originate_ready (Control-Queue; Server-ID = the queue
 *   waiting for originate_execute), originate_started, originate_resp. A failed originate is
 *   answered with an `error` whose Event-Name is originate_resp (error.ts).
 * - originate_execute goes to the Server-ID of the originate_ready it answers.
 */
import { ENDPOINT as BRIDGE_ENDPOINT } from './dialplan.ts';
import { INVITE_FORMATS } from './route.ts';
import type { MessageDef, SubDef } from './types.ts';

export const ORIGINATE_REQ_KEY = 'originate.resource.req';

/** Kazoo's originate endpoint: the bridge endpoint's headers (kapi_resource takes
 *  kapi_dialplan's optional list), its own values and types. */
const ENDPOINT: SubDef = {
  name: 'originate endpoint',
  required: ['Invite-Format'],
  optional: BRIDGE_ENDPOINT.optional,
  values: { 'Invite-Format': INVITE_FORMATS, 'Endpoint-Type': ['sip', 'freetdm'] },
  types: {
    'Custom-Channel-Vars': 'object',
    'Custom-Application-Vars': 'object',
    'Custom-SIP-Headers': 'object',
    'Endpoint-Options': 'object',
    'Ignore-Early-Media': 'booleanish',
    'Bypass-Media': 'booleanish',
  },
};

/** What an originate answer may carry besides its Call-ID (a subset of a call event's). */
const ANSWER_OPTIONAL = [
  'Application-Response',
  'Channel-Call-State',
  'Control-Queue',
  'Custom-Application-Vars',
  'Custom-Channel-Vars',
  'Hangup-Cause',
];

const reply = { exchange: 'targeted', kind: 'queue' } as const;

export const originate: readonly MessageDef[] = [
  {
    id: 'originate_req',
    category: 'resource',
    name: 'originate_req',
    doc: 'place a new call leg to Endpoints and run Application-Name on it',
    required: ['Endpoints', 'Application-Name'],
    optional: [
      'Application-Data',
      'Custom-Application-Vars',
      'Custom-Channel-Vars',
      'Custom-SIP-Headers',
      'Dial-Endpoint-Method',
      'Eavesdrop-Call-ID',
      'Eavesdrop-Group-ID',
      'Eavesdrop-Mode',
      'Existing-Call-ID',
      'Export-Custom-Channel-Vars',
      'Intercept-Unbridged-Only',
      'Media',
      'Originate-Immediate',
      'Origination-Call-ID',
      'Outbound-Call-ID',
      'Outbound-Caller-ID-Name',
      'Outbound-Caller-ID-Number',
      'Simplify-Loopback',
      'Start-Control-Process',
      'Timeout',
    ],
    values: {
      'Application-Name': ['park', 'bridge', 'transfer', 'fax', 'eavesdrop'],
      'Dial-Endpoint-Method': ['single', 'simultaneous'],
      Media: ['process', 'bypass', 'auto'],
      'Eavesdrop-Mode': ['listen', 'whisper', 'full'],
    },
    types: {
      Endpoints: { listOf: ENDPOINT },
      'Custom-Channel-Vars': 'object',
      'Custom-Application-Vars': 'object',
      'Custom-SIP-Headers': 'object',
      'Originate-Immediate': 'booleanish',
      'Start-Control-Process': 'booleanish',
      'Outbound-Call-ID': 'string',
      'Existing-Call-ID': 'string',
      Timeout: 'integerish',
    },
    route: { exchange: 'callmgr', kind: 'key', key: () => ORIGINATE_REQ_KEY, pattern: ORIGINATE_REQ_KEY },
  },
  {
    id: 'originate_resp',
    category: 'resource',
    name: 'originate_resp',
    doc: 'the originated leg is up (Application-Response SUCCESS) or ended',
    required: ['Call-ID'],
    optional: ANSWER_OPTIONAL,
    types: { 'Call-ID': 'string', 'Custom-Channel-Vars': 'object', 'Custom-Application-Vars': 'object' },
    route: reply,
  },
  {
    id: 'originate_started',
    category: 'resource',
    name: 'originate_started',
    doc: 'the switch is placing the leg (Call-ID, Control-Queue)',
    required: ['Call-ID'],
    optional: ANSWER_OPTIONAL,
    types: { 'Call-ID': 'string', 'Custom-Channel-Vars': 'object', 'Custom-Application-Vars': 'object' },
    route: reply,
  },
  {
    id: 'originate_uuid',
    category: 'resource',
    name: 'originate_uuid',
    doc: 'the Call-ID the new leg will have and its control queue, before it is placed',
    required: ['Outbound-Call-ID'],
    optional: ['Outbound-Call-Control-Queue'],
    types: { 'Outbound-Call-ID': 'string', 'Outbound-Call-Control-Queue': 'queue-name' },
    route: reply,
  },
  {
    id: 'originate_ready',
    category: 'dialplan',
    name: 'originate_ready',
    doc: 'the originate waits for originate_execute at its Server-ID',
    required: ['Call-ID', 'Control-Queue'],
    optional: [],
    types: { 'Call-ID': 'string', 'Control-Queue': 'queue-name' },
    route: reply,
  },
  {
    id: 'originate_execute',
    category: 'dialplan',
    name: 'originate_execute',
    doc: 'go ahead with the originate that sent originate_ready',
    required: ['Call-ID'],
    optional: [],
    types: { 'Call-ID': 'string' },
    route: reply,
  },
];
