/**
 * Registration messages (Kazoo `kapi_registration`, Event-Category `directory`):
 * reg_success announced by the SIP proxy, reg_query and its answers, reg_flush, reg_sync.
 *
 * Contract
 * - `registration` lists reg_success, reg_query, reg_query_resp, reg_query_error,
 *   reg_flush, reg_sync.
 * - Keys on the `registrar` exchange: `registration.success.<realm>.<user>`,
 *   `registration.query.<realm>.<user or *>`, `registration.flush.<realm>`,
 *   `registration.sync` (variable words encoded, not lower-cased). Answers to a reg_query go
 *   to `targeted` / the query's Server-ID.
 * - Kamailio's reg_success carries Expires and Event-Timestamp as numbers, First-Registration
 *   as a boolean and Proxy-Port as a string; the types accept those and their string forms.
 *   `Status: Unregistered` with `Expires: 0` is an unregister.
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Envelope, Message, MessageDef } from './types.ts';

export interface RegSuccess extends Envelope {
  readonly Contact: string;
  readonly 'Event-Timestamp': number | string;
  readonly Expires: number | string;
  readonly Realm: string;
  readonly Username: string;
  readonly Status?: string;
  readonly 'First-Registration'?: boolean | string;
  readonly 'Custom-Channel-Vars'?: Readonly<Record<string, unknown>>;
}

const REG_SUCCESS_REQUIRED = ['Contact', 'Event-Timestamp', 'Expires', 'Realm', 'Username'] as const;
const REG_SUCCESS_OPTIONAL = [
  'Account-DB',
  'AOR',
  'Authorizing-ID',
  'Custom-Channel-Vars',
  'First-Registration',
  'FreeSWITCH-Hostname',
  'FreeSWITCH-Nodename',
  'From-Host',
  'From-User',
  'Network-IP',
  'Network-Port',
  'Original-Contact',
  'Presence-Hosts',
  'Profile-Name',
  'Proxy-IP',
  'Proxy-Path',
  'Proxy-Port',
  'Proxy-Protocol',
  'Register-Overwrite-Notify',
  'Registrar-Node',
  'RPid',
  'RUID',
  'Source-IP',
  'Source-Port',
  'Status',
  'Suppress-Unregister-Notify',
  'To-Host',
  'To-User',
  'User-Agent',
] as const;

/** Every header a reg_success may carry: what a registrar keeps of one. */
export const REG_SUCCESS_FIELDS: readonly string[] = [
  ...REG_SUCCESS_REQUIRED,
  ...REG_SUCCESS_OPTIONAL,
  'Account-ID',
  'Call-ID',
];

function str(msg: Message, header: string, fallback: string): string {
  const v = msg[header];
  return typeof v === 'string' && v !== '' ? v : fallback;
}

export function regSuccessKey(realm: string, username: string): string {
  return routingKey('registration', 'success', encodeSegment(realm), encodeSegment(username));
}

export function regQueryKey(realm: string, username: string): string {
  return routingKey('registration', 'query', encodeSegment(realm), encodeSegment(username));
}

export function regFlushKey(realm: string): string {
  return routingKey('registration', 'flush', encodeSegment(realm));
}

export const REG_SYNC_KEY = 'registration.sync';

export const registration: readonly MessageDef[] = [
  {
    id: 'reg_success',
    category: 'directory',
    name: 'reg_success',
    doc: 'a SIP user (un)registered at the proxy',
    required: REG_SUCCESS_REQUIRED,
    optional: ['Account-ID', 'Call-ID', ...REG_SUCCESS_OPTIONAL],
    types: {
      Contact: 'string',
      Realm: 'string',
      Username: 'string',
      Expires: 'integerish',
      'Event-Timestamp': 'integerish',
      'First-Registration': 'booleanish',
      'Custom-Channel-Vars': 'object',
      'Proxy-Port': 'scalar',
      'Source-Port': 'scalar',
      'Network-Port': 'scalar',
    },
    route: {
      exchange: 'registrar',
      kind: 'key',
      key: (m) => regSuccessKey(str(m, 'Realm', ''), str(m, 'Username', '')),
      pattern: 'registration.success.<realm>.<user>',
    },
  },
  {
    id: 'reg_query',
    category: 'directory',
    name: 'reg_query',
    doc: 'who is registered: Realm + Username, Realm alone, or Realm "all"',
    required: [],
    optional: ['Count-Only', 'Fields', 'Realm', 'Username'],
    values: {
      Fields: [...REG_SUCCESS_REQUIRED, 'Account-ID', 'Call-ID', ...REG_SUCCESS_OPTIONAL, 'Bridge-RURI'],
    },
    types: { 'Count-Only': 'booleanish', Fields: 'string-list', Realm: 'string', Username: 'string' },
    route: {
      exchange: 'registrar',
      kind: 'key',
      key: (m) => regQueryKey(str(m, 'Realm', '*'), str(m, 'Username', '*')),
      pattern: 'registration.query.<realm>.<user>',
    },
  },
  {
    id: 'reg_query_resp',
    category: 'directory',
    name: 'reg_query_resp',
    doc: 'matching registrations (Fields: list of objects) or their Count',
    required: [],
    optional: ['Count', 'Fields', 'Registrar-Age'],
    types: { Count: 'integerish', Fields: 'list', 'Registrar-Age': 'integerish' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'reg_query_error',
    category: 'directory',
    name: 'reg_query_error',
    doc: 'no registration matched the query; with Error-Message (a Fife addition): the look-up failed',
    required: [],
    optional: ['Error-Message', 'Registrar-Age'],
    types: { 'Error-Message': 'string', 'Registrar-Age': 'integerish' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'reg_flush',
    category: 'directory',
    name: 'reg_flush',
    doc: 'forget the registrations of a realm (or one user of it)',
    required: ['Realm'],
    optional: ['Username'],
    types: { Realm: 'string', Username: 'string' },
    route: {
      exchange: 'registrar',
      kind: 'key',
      key: (m) => regFlushKey(str(m, 'Realm', '')),
      pattern: 'registration.flush.<realm>',
    },
  },
  {
    id: 'reg_sync',
    category: 'directory',
    name: 'reg_sync',
    doc: 'a registrar (re)started: proxies may re-send their registrations',
    required: [],
    optional: [],
    route: { exchange: 'registrar', kind: 'key', key: () => REG_SYNC_KEY, pattern: 'registration.sync' },
  },
];
