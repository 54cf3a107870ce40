/**
 * What every crossbar route works with: the store, its databases, the token keys, the
 * settings, a logger; and per request the envelope's metadata (request id, auth token).
 * `authenticate` and `authorizeAccount` are Kazoo's authn / authz steps:
 *
 * - authenticate: the token from `X-Auth-Token`, the envelope's `auth_token`, or the
 *   query's `auth_token`; none, or not one this cluster signed, or expired: 401
 *   invalid_credentials.
 * - authorizeAccount(claims, id): the token acts on its own account and on the accounts
 *   below it (the target's `pvt_tree` names the token's account: Kazoo's reseller
 *   model), never on any other (403 forbidden); a token of a superduper admin's account
 *   (`pvt_superduper_admin`) acts on all. Answers the target account document (404
 *   bad_identifier when there is none and the token could have seen it).
 */
import type { Requester } from '../../src/bus/index.ts';
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../../src/kernel/index.ts';
import {
  ACCOUNTS_DB,
  isAccountId,
  isStoreError,
  type DocumentStore,
  type SavedDoc,
} from '../../src/store/index.ts';
import type { Databases } from './databases.ts';
import { badIdentifier, forbidden, invalidCredentials } from './errors.ts';
import type { EnvelopeMeta } from './envelope.ts';
import type { CrossbarSettings } from './settings.ts';
import type { TokenClaims, TokenKeys } from './tokens.ts';

export interface Crossbar {
  store: DocumentStore;
  dbs: Databases;
  keys: TokenKeys;
  settings: CrossbarSettings;
  log: Logger;
  node: string;
  /** Asks the registrar (reg_query) for devices' status; none without a bus. */
  registrar?: Requester;
}

declare module 'fastify' {
  interface FastifyRequest {
    cbMeta: EnvelopeMeta;
  }
}

export function tokenOf(req: FastifyRequest): string | undefined {
  const h = req.headers['x-auth-token'];
  if (typeof h === 'string' && h !== '') return h;
  const body = req.body as { auth_token?: unknown } | undefined;
  if (typeof body?.auth_token === 'string' && body.auth_token !== '') return body.auth_token;
  const q = (req.query as Record<string, unknown>).auth_token;
  return typeof q === 'string' && q !== '' ? q : undefined;
}

export function authenticate(cb: Crossbar, req: FastifyRequest): TokenClaims {
  const token = tokenOf(req);
  const claims = token === undefined ? undefined : cb.keys.verify(token);
  if (claims === undefined || token === undefined) throw invalidCredentials();
  req.cbMeta.authToken = token;
  return claims;
}

export async function findAccount(cb: Crossbar, id: string): Promise<SavedDoc | undefined> {
  if (!isAccountId(id)) return undefined;
  try {
    const doc = await cb.store.get(ACCOUNTS_DB, id);
    return doc.pvt_type === 'account' && doc.pvt_deleted !== true ? doc : undefined;
  } catch (err) {
    if (isStoreError(err, 'not_found')) return undefined;
    throw err;
  }
}

export async function isSuperduper(cb: Crossbar, claims: TokenClaims): Promise<boolean> {
  return (await findAccount(cb, claims.account_id))?.pvt_superduper_admin === true;
}

export async function authorizeAccount(cb: Crossbar, claims: TokenClaims, id: string): Promise<SavedDoc> {
  const target = await findAccount(cb, id);
  const tree = Array.isArray(target?.pvt_tree) ? (target.pvt_tree as unknown[]) : [];
  if (target !== undefined && (target._id === claims.account_id || tree.includes(claims.account_id)))
    return target;
  if (await isSuperduper(cb, claims)) {
    if (target === undefined) throw badIdentifier(id);
    return target;
  }
  throw forbidden(id);
}
