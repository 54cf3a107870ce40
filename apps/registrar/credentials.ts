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
 * - The realm's account is cached too (['realm_account', realm], origin: the account
 *   document); device look-ups of the same moment share one view query (DeviceBatcher),
 *   and concurrent look-ups of one user share one load.
 */
import { ACCOUNTS_DB, isStoreError, type CacheOrigin, type DocumentStore, type SavedDoc, type StoreCache } from '../../src/store/index.ts';
import type { DeviceBatcher } from './device-batcher.ts';

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
  devices: DeviceBatcher;
  /** Loads in flight, shared by concurrent callers (per realm/user and per realm). */
  inflight: Map<string, Promise<unknown>>;
}

interface RealmAccount {
  accountId: string;
  accountDb: string;
  account: SavedDoc;
}

type Cached = Extract<CredentialLookup, { kind: 'found' | 'disabled' }>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const enabled = (doc: Record<string, unknown>): boolean => doc.enabled !== false && doc.pvt_enabled !== false;

export async function lookupCredentials(deps: CredentialDeps, realm: string, username: string): Promise<CredentialLookup> {
  const key = ['sip_creds', realm, username];
  const hit = deps.cache.get<Cached>(key);
  if (hit !== undefined) return hit;
  return shared(deps, `u\u0000${realm}\u0000${username}`, async () => {
    const r = await load(deps, realm, username);
    remember(deps, realm, username, r);
    return r;
  });
}

function remember(deps: CredentialDeps, realm: string, username: string, r: CredentialLookup): void {
  if (r.kind !== 'found' && r.kind !== 'disabled') return;
  const origins = r.kind === 'found' ? [{ database: ACCOUNTS_DB, id: r.creds.accountId }, { database: r.creds.accountDb, id: r.creds.deviceId }] : r.origins;
  deps.cache.store(['sip_creds', realm, username], r, { origins });
}

/**
 * Loads every device of every account into the cache at start (one view query per account
 * database), so the first REGISTER of each phone after a start is answered from memory.
 * Answers how many credentials were cached.
 */
export async function primeCredentials(deps: CredentialDeps): Promise<number> {
  await deps.watch(ACCOUNTS_DB);
  const rows = (await deps.store.view(ACCOUNTS_DB, 'accounts/listing_by_realm')).rows;
  let n = 0;
  for (const row of rows) {
    const realm = String(row.key);
    const ra = await realmAccount(deps, realm);
    if (ra === undefined || !enabled(ra.account)) continue;
    await deps.watch(ra.accountDb);
    const devices = (await deps.store.view(ra.accountDb, 'devices/sip_credentials', { includeDocs: true })).rows;
    for (const d of devices) {
      if (!d.doc) continue;
      const username = String(d.key);
      if (deps.cache.get(['sip_creds', realm, username]) !== undefined) continue;
      remember(deps, realm, username, fromDevice(ra, realm, username, d.doc));
      n++;
    }
  }
  return n;
}

function shared<T>(deps: CredentialDeps, key: string, run: () => Promise<T>): Promise<T> {
  const running = deps.inflight.get(key);
  if (running !== undefined) return running as Promise<T>;
  const p = run().finally(() => deps.inflight.delete(key));
  deps.inflight.set(key, p);
  return p;
}

async function realmAccount(deps: CredentialDeps, realm: string): Promise<RealmAccount | undefined> {
  const key = ['realm_account', realm];
  const hit = deps.cache.get<RealmAccount>(key);
  if (hit !== undefined) return hit;
  return shared(deps, `r\u0000${realm}`, async () => {
    await deps.watch(ACCOUNTS_DB);
    const rows = (await deps.store.view(ACCOUNTS_DB, 'accounts/listing_by_realm', { key: realm })).rows;
    const row = rows[0]?.value as { account_id?: unknown; account_db?: unknown } | undefined;
    const accountId = str(row?.account_id);
    const accountDb = str(row?.account_db);
    if (accountId === undefined || accountDb === undefined) return undefined;
    const account = await getOrUndefined(deps.store, ACCOUNTS_DB, accountId);
    if (account === undefined) return undefined;
    const found: RealmAccount = { accountId, accountDb, account };
    deps.cache.store(key, found, { origins: [{ database: ACCOUNTS_DB, id: accountId }] });
    return found;
  });
}

async function load(deps: CredentialDeps, realm: string, username: string): Promise<CredentialLookup> {
  const ra = await realmAccount(deps, realm);
  if (ra === undefined) return { kind: 'unknown_realm' };
  const { accountId, accountDb, account } = ra;
  if (!enabled(account)) return { kind: 'disabled', what: 'account', origins: [{ database: ACCOUNTS_DB, id: accountId }] };
  await deps.watch(accountDb);
  const device = await deps.devices.find(accountDb, username);
  if (device === undefined) return { kind: 'unknown_user', accountId };
  return fromDevice(ra, realm, username, device);
}

function fromDevice({ accountId, accountDb, account }: RealmAccount, realm: string, username: string, device: SavedDoc): CredentialLookup {
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

async function getOrUndefined(store: DocumentStore, db: string, id: string): Promise<SavedDoc | undefined> {
  try {
    return await store.get(db, id);
  } catch (err) {
    if (isStoreError(err) && err.code === 'not_found') return undefined;
    throw err;
  }
}
