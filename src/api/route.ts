/**
 * Routing messages (Kazoo `kapi_route`, Event-Category `dialplan`): a new call asks the apps
 * how to route it (route_req), apps answer (route_resp), the switch tells the winner
 * (route_win).
 *
 * Contract
 * - `route` lists route_req, route_resp, route_win.
 * - route_req goes on `callmgr` with key `route.req.<type>.<account-id>` when Account-ID
 *   (top level or in Custom-Channel-Vars) is known, else `route.req.<type>.<realm>.<user>`
 *   from From (`user@realm`); `<type>` is Resource-Type, default `audio` (`routeReqKey`).
 *   Its empty values are not stripped recursively (Kazoo does the same).
 * - route_resp goes to the route_req's Server-ID, route_win to the route_resp's Server-ID,
 *   both on `targeted`.
 * - Each element of route_resp Routes is checked as a route (required Invite-Format).
 *   Kazoo checks Routes only when Method is bridge; Fife checks them always, and a park
 *   reply normally sends `Routes: []`.
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Envelope, Message, MessageDef, SubDef } from './types.ts';
import { isObject } from './check.ts';

export interface RouteReq extends Envelope {
  readonly 'Call-ID': string;
  readonly From: string;
  readonly Request: string;
  readonly To: string;
  readonly 'Resource-Type'?: string;
  readonly 'Custom-Channel-Vars'?: Readonly<Record<string, unknown>>;
}

export interface RouteResp extends Envelope {
  readonly Method: 'bridge' | 'park' | 'error' | 'sms' | 'plan' | 'application';
  readonly Routes?: readonly Readonly<Record<string, unknown>>[];
}

export interface RouteWin extends Envelope {
  readonly 'Call-ID': string;
  readonly 'Control-Queue': string;
}

/** Kazoo 4.3's Invite-Format values (`kapi_dialplan.hrl` INVITE_FORMAT_TUPLE); later branches add more. */
export const INVITE_FORMATS = ['username', 'e164', 'npan', '1npan', 'route', 'loopback', 'contact'] as const;

const ROUTE: SubDef = {
  name: 'route',
  required: ['Invite-Format'],
  optional: [
    'Auth-Password',
    'Auth-User',
    'Caller-ID-Name',
    'Caller-ID-Number',
    'Caller-ID-Type',
    'Codecs',
    'Context',
    'Custom-Application-Vars',
    'Custom-Channel-Vars',
    'Custom-SIP-Headers',
    'Media',
    'Progress-Timeout',
    'Proxy-Via',
    'Rate',
    'Rate-Increment',
    'Rate-Minimum',
    'Rate-NoCharge-Time',
    'Route',
    'Surcharge',
    'To-DID',
    'To-Realm',
    'To-User',
    'Weight-Cost',
    'Weight-Location',
  ],
  values: {
    'Invite-Format': INVITE_FORMATS,
    'Caller-ID-Type': ['from', 'rpid', 'pid'],
    Media: ['process', 'bypass', 'auto'],
  },
  types: {
    Codecs: 'list',
    'Custom-Application-Vars': 'object',
    'Custom-Channel-Vars': 'object',
    'Custom-SIP-Headers': 'object',
    Route: 'string',
    'To-Realm': 'string',
    'To-User': 'string',
  },
};

/** Account form when `accountId` is given, else the realm/user form. Pass `'*'` to bind. */
export function routeReqKey(
  type: string,
  to: { accountId: string } | { realm: string; user: string },
): string {
  return 'accountId' in to
    ? routingKey('route', 'req', encodeSegment(type), encodeSegment(to.accountId))
    : routingKey('route', 'req', encodeSegment(type), encodeSegment(to.realm), encodeSegment(to.user));
}

function routeReqKeyOf(msg: Message): string {
  const type =
    typeof msg['Resource-Type'] === 'string' && msg['Resource-Type'] !== '' ? msg['Resource-Type'] : 'audio';
  const ccv = msg['Custom-Channel-Vars'];
  const account = msg['Account-ID'] ?? (isObject(ccv) ? ccv['Account-ID'] : undefined);
  if (typeof account === 'string' && account !== '') return routeReqKey(type, { accountId: account });
  const from = typeof msg.From === 'string' ? msg.From : '';
  const at = from.indexOf('@');
  return routeReqKey(
    type,
    at < 0 ? { realm: '', user: from } : { realm: from.slice(at + 1), user: from.slice(0, at) },
  );
}

export const route: readonly MessageDef[] = [
  {
    id: 'route_req',
    category: 'dialplan',
    name: 'route_req',
    doc: 'a new call asks the apps for routing',
    stripRecursive: false,
    required: ['Call-ID', 'From', 'Request', 'To'],
    optional: [
      'Body',
      'Call-Direction',
      'Caller-ID-Name',
      'Caller-ID-Number',
      'Codecs',
      'Context',
      'Cost-Parameters',
      'Custom-Application-Vars',
      'Custom-Channel-Vars',
      'Custom-Routing-Headers',
      'Custom-SIP-Headers',
      'Destination-Number',
      'From-Network-Addr',
      'From-Network-Port',
      'From-Tag',
      'Max-Call-Length',
      'Media',
      'Message-ID',
      'Orig-IP',
      'Orig-Port',
      'Origination-Call-ID',
      'Prepend-CID-Name',
      'Resource-Type',
      'Ringback-Media',
      'SIP-Request-Host',
      'Switch-Hostname',
      'Switch-Nodename',
      'Switch-URI',
      'Switch-URL',
      'To-Tag',
      'Transcode',
      'Transfer-Media',
      'User-Agent',
    ],
    values: {
      'Resource-Type': ['mms', 'sms', 'audio', 'video', 'chat', 'metaflow'],
      Media: ['process', 'proxy', 'bypass'],
    },
    types: {
      'Call-ID': 'string',
      From: 'string',
      Request: 'string',
      To: 'string',
      'Cost-Parameters': 'object',
      'Custom-Application-Vars': 'object',
      'Custom-Channel-Vars': 'object',
      'Custom-Routing-Headers': 'object',
      'Custom-SIP-Headers': 'object',
    },
    route: {
      exchange: 'callmgr',
      kind: 'key',
      key: routeReqKeyOf,
      pattern: 'route.req.<type>.<account-id> or route.req.<type>.<realm>.<user>',
    },
  },
  {
    id: 'route_resp',
    category: 'dialplan',
    name: 'route_resp',
    doc: 'how an app would route the call (park = it takes the call)',
    required: ['Method'],
    optional: [
      'Application-Data',
      'Custom-Application-Vars',
      'Custom-Channel-Vars',
      'From-Realm',
      'From-URI',
      'From-User',
      'Plan-Data',
      'Pre-Park',
      'Ringback-Media',
      'Route-Error-Code',
      'Route-Error-Message',
      'Routes',
      'Transfer-Media',
    ],
    values: {
      Method: ['bridge', 'park', 'error', 'sms', 'plan', 'application'],
      'Pre-Park': ['none', 'ring_ready', 'answer'],
    },
    types: {
      Routes: { listOf: ROUTE },
      'Custom-Channel-Vars': 'object',
      'Custom-Application-Vars': 'object',
    },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'route_win',
    category: 'dialplan',
    name: 'route_win',
    doc: "the switch chose this app: here is the call's control queue",
    required: ['Call-ID', 'Control-Queue'],
    optional: ['Custom-Channel-Vars', 'Switch-Hostname'],
    types: { 'Call-ID': 'string', 'Control-Queue': 'queue-name', 'Custom-Channel-Vars': 'object' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
];
