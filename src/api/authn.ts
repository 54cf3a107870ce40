/**
 * Authentication messages (Kazoo `kapi_authn`, Event-Category `directory`): a SIP proxy or
 * ecallmgr asks for a user's credentials; the registrar answers authn_resp or authn_err.
 *
 * Contract
 * - `authn` lists the entries authn_req, authn_resp, authn_err.
 * - authn_req is published on `callmgr` with key `authn.req.<realm>` (`authnReqKey`): the
 *   Auth-Realm lower-cased, or, when it is an IP literal, the host part of To (Kazoo's
 *   `get_auth_realm`). Kazoo-5-era Kamailio configs publish it on `registrar` as
 *   `authn.endpoint.req.<realm>` instead: a registrar should bind both (`alsoArrivesOn`).
 * - Kamailio sends every authn_req value as a string (Expires too: its type accepts that).
 *   Orig-Port must be a string, as in Kazoo 4.3 (`is_binary`): a number is refused. Replies go to `targeted` with the request's Server-ID and must copy its Msg-ID.
 */
import { isIP } from 'node:net';
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Envelope, Message, MessageDef } from './types.ts';

export interface AuthnReq extends Envelope {
  readonly 'Auth-Realm': string;
  readonly 'Auth-User': string;
  readonly From: string;
  readonly To: string;
  readonly Method?: string;
  readonly 'Orig-IP'?: string;
  readonly 'Orig-Port'?: string;
}

export interface AuthnResp extends Envelope {
  readonly 'Auth-Method': 'password' | 'ip' | 'a1-hash' | 'error' | 'gsm' | 'nonce' | 'a3a8';
  readonly 'Auth-Password': string;
  readonly 'Custom-Channel-Vars'?: Readonly<Record<string, unknown>>;
}

function hostOf(uri: string): string {
  const at = uri.indexOf('@');
  return at < 0 ? uri : uri.slice(at + 1);
}

/** The realm an authn_req is routed by (Kazoo `get_auth_realm`), lower-cased. */
export function authnRealm(msg: Message): string {
  const realm = typeof msg['Auth-Realm'] === 'string' ? msg['Auth-Realm'] : 'missing.realm';
  const to = typeof msg.To === 'string' ? msg.To : 'nouser@nodomain';
  return (isIP(realm) === 0 ? realm : hostOf(to)).toLowerCase();
}

/** `authn.req.<encoded realm>`; pass `'*'` to bind for every realm. */
export function authnReqKey(realm: string): string {
  return routingKey('authn', 'req', encodeSegment(realm));
}

/** `authn.endpoint.req.<encoded realm>` on `registrar`: the Kazoo-5-era Kamailio form. */
export function authnEndpointReqKey(realm: string): string {
  return routingKey('authn', 'endpoint', 'req', encodeSegment(realm));
}

export const authn: readonly MessageDef[] = [
  {
    id: 'authn_req',
    category: 'directory',
    name: 'authn_req',
    doc: 'credentials request for a SIP user (from Kamailio or ecallmgr)',
    required: ['Auth-Realm', 'Auth-User', 'From', 'To'],
    optional: [
      'Auth-Nonce',
      'Auth-Response',
      'Call-ID',
      'Contact',
      'Custom-SIP-Headers',
      'Expires',
      'Method',
      'Orig-IP',
      'Orig-Port',
      'Switch-Hostname',
      'User-Agent',
    ],
    types: {
      'Auth-Realm': 'string',
      'Auth-User': 'string',
      From: 'string',
      To: 'string',
      'Orig-IP': 'string',
      'Orig-Port': 'string',
      Expires: 'integerish',
      'Custom-SIP-Headers': 'object',
    },
    route: {
      exchange: 'callmgr',
      kind: 'key',
      key: (m) => authnReqKey(authnRealm(m)),
      pattern: 'authn.req.<realm>',
    },
    alsoArrivesOn: [
      {
        exchange: 'registrar',
        bindKey: authnEndpointReqKey('*'),
        why: 'Kazoo-5-era Kamailio configurations',
      },
    ],
  },
  {
    id: 'authn_resp',
    category: 'directory',
    name: 'authn_resp',
    doc: 'credentials for the user: password or a1-hash (the proxy checks the digest itself)',
    required: ['Auth-Method', 'Auth-Password'],
    optional: [
      'Access-Group',
      'Auth-Nonce',
      'Auth-Username',
      'Custom-Channel-Vars',
      'Custom-SIP-Headers',
      'Expires',
      'Register-Overwrite-Notify',
      'Suppress-Unregister-Notifications',
      'Tenant-ID',
    ],
    values: { 'Auth-Method': ['password', 'ip', 'a1-hash', 'error', 'gsm', 'nonce', 'a3a8'] },
    types: {
      'Auth-Password': 'string',
      'Custom-Channel-Vars': 'object',
      'Custom-SIP-Headers': 'object',
      'Access-Group': 'string',
      'Tenant-ID': 'string',
      Expires: 'integerish',
    },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'authn_err',
    category: 'directory',
    name: 'authn_err',
    doc: 'no credentials for this user (unknown or disabled); Kazoo sends it with Defer-Response "true"',
    required: [],
    optional: [],
    route: { exchange: 'targeted', kind: 'queue' },
  },
];
