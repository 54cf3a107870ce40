/**
 * SIP credential look-up for authn_req: realm -> account (accounts db, view
 * accounts/listing_by_realm), username -> device (the account db, view
 * devices/sip_credentials), cache first, store on a miss.
 *
 * Contract
 * - `lookupCredentials(deps, realm, username)` never throws for bad data; it answers
 *   `{kind: 'found', creds}` or why not: unknown_realm, unknown_user, no_credentials (the
 *   device has neither sip.password nor sip.a1_hash), disabled (account or device has
 *   `enabled: false`, or the account `pvt_enabled: false`). Store failures (unavailable)
 *   reject: the caller logs them and answers nothing better than an error.
 * - Found answers (enabled or disabled) are cached under ['sip_creds', realm, user] with
 *   the account and device documents as origins, so an edit of either (change feed, via
 *   `deps.watch(db)`) drops the entry. Misses are not cached: a device created later is
 *   found on the next request.
 * - An account database without the devices design document (written by hand) gets it
 *   (`ensureAccountDb`) and the view is asked again once.
 */
import { ACCOUNTS_DB, isStoreError, type CacheOrigin, type DocumentStore, type SavedDoc, type StoreCache } from '../../src/store/index.ts';
import { ensureAccountDb } from './databases.ts';

export interface SipCredentials {
  accountId: string;
  accountDb: string;
  accountName: string | undefined;
  accountRealm: string;
  deviceId: string;
  ownerId: string | undefined;
  username: string;
  realm: string;
  method: 'password' | 'a1-hash';
  secret: string;
}

export type CredentialLookup =
  | { kind: 'found'; creds: SipCredentials }
  | { kind: 'disabled'; what: 'account' | 'device'; origins: CacheOrigin[] }
  | { kind: 'unknown_realm' }
  | { kind: 'unknown_user'; accountId: string }
  | { kind: 'no_credentials'; deviceId: string };

export interface CredentialDeps {
  store: DocumentStore;
  cache: StoreCache;
  /** Make sure changes of this database invalidate the cache (ChangeFollower.watch). */
  watch(db: string): Promise<void>;
}

type Cached = Extract<CredentialLookup, { kind: 'found' | 'disabled' }>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const enabled = (doc: Record<string, unknown>): boolean => doc.enabled !== false && doc.pvt_enabled !== false;

export async function lookupCredentials(deps: CredentialDeps, realm: string, username: string): Promise<CredentialLookup> {
  const key = ['sip_creds', realm, username];
  const hit = deps.cache.get<Cached>(key);
  if (hit !== undefined) return hit;
  const r = await load(deps, realm, username);
  if (r.kind === 'found' || r.kind === 'disabled') {
    const origins = r.kind === 'found' ? [{ database: ACCOUNTS_DB, id: r.creds.accountId }, { database: r.creds.accountDb, id: r.creds.deviceId }] : r.origins;
    deps.cache.store(key, r, { origins });
  }
  return r;
}

async function load(deps: CredentialDeps, realm: string, username: string): Promise<CredentialLookup> {
  await deps.watch(ACCOUNTS_DB);
  const rows = (await deps.store.view(ACCOUNTS_DB, 'accounts/listing_by_realm', { key: realm })).rows;
  const row = rows[0]?.value as { account_id?: unknown; account_db?: unknown; name?: unknown } | undefined;
  const accountId = str(row?.account_id);
  const accountDb = str(row?.account_db);
  if (accountId === undefined || accountDb === undefined) return { kind: 'unknown_realm' };
  const account = await getOrUndefined(deps.store, ACCOUNTS_DB, accountId);
  if (account === undefined) return { kind: 'unknown_realm' };
  if (!enabled(account)) return { kind: 'disabled', what: 'account', origins: [{ database: ACCOUNTS_DB, id: accountId }] };
  await deps.watch(accountDb);
  const device = await findDevice(deps.store, accountDb, username);
  if (device === undefined) return { kind: 'unknown_user', accountId };
  if (!enabled(device)) return { kind: 'disabled', what: 'device', origins: [{ database: ACCOUNTS_DB, id: accountId }, { database: accountDb, id: device._id }] };
  const sip = (device.sip ?? {}) as Record<string, unknown>;
  const a1 = str(sip.a1_hash);
  const password = str(sip.password);
  if (a1 === undefined && password === undefined) return { kind: 'no_credentials', deviceId: device._id };
  return {
    kind: 'found',
    creds: {
      accountId,
      accountDb,
      accountName: str(account.name),
      accountRealm: str(account.realm) ?? realm,
      deviceId: device._id,
      ownerId: str(device.owner_id),
      username: str(sip.username) ?? username,
      realm,
      method: a1 !== undefined ? 'a1-hash' : 'password',
      secret: (a1 ?? password)!,
    },
  };
}

async function findDevice(store: DocumentStore, accountDb: string, username: string): Promise<SavedDoc | undefined> {
  const ask = () => store.view(accountDb, 'devices/sip_credentials', { key: username, includeDocs: true });
  let res;
  try {
    res = await ask();
  } catch (err) {
    if (!isStoreError(err) || err.code !== 'not_found') throw err;
    if (!(await store.dbExists(accountDb))) return undefined;
    await ensureAccountDb(store, accountDb);
    res = await ask();
  }
  return res.rows.map((r) => r.doc).find((d): d is SavedDoc => d !== null && d !== undefined);
}

async function getOrUndefined(store: DocumentStore, db: string, id: string): Promise<SavedDoc | undefined> {
  try {
    return await store.get(db, id);
  } catch (err) {
    if (isStoreError(err) && err.code === 'not_found') return undefined;
    throw err;
  }
}
