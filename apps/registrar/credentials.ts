/**
 * SIP credential look-up for authn_req: realm -> account (accounts db, view
 * accounts/listing_by_realm), username -> device (the account db, view
 * devices/sip_credentials), the credentials table first, store on a miss.
 *
 * Contract
 * - The table `registrar_credentials` (named, protected) is reg_authn's: its responders
 *   read it without a message; only reg_authn writes it (`CredentialTable`, built on its
 *   own handle), and the registrar's TableKeeper keeps it across reg_authn's restarts.
 *   Rows: `c\0realm\0user` -> a found or disabled answer, `r\0realm` -> the realm's
 *   account, each with its origins (`db\0id` of the account and device documents);
 *   `s\0db` -> the last change-feed sequence seen of that database; `epoch` -> how many
 *   changes reg_authn has applied.
 * - `lookupCredentials(deps, realm, username)` never throws for bad data; it answers
 *   `{kind: 'found', creds}` or why not: unknown_realm, unknown_user, no_credentials (the
 *   device has neither sip.password nor sip.a1_hash), disabled (account or device has
 *   `enabled: false`, or the account `pvt_enabled: false`). Store failures (unavailable)
 *   reject: the caller logs them and answers nothing better than an error.
 * - What a miss loads (found and disabled answers, the realm's account) goes to the owner
 *   with the epoch read before the load (`deps.remember`); the owner keeps it only if no
 *   change arrived meanwhile (it may be stale), so an edit of an origin document (change
 *   feed, `deps.watch(db)` before the load) is never hidden by a late answer. Misses
 *   (unknown realm or user) are not kept: a device created later is found at once.
 * - Device look-ups of the same moment share one view query (DeviceBatcher), and
 *   concurrent look-ups of one user share one load.
 * - `CredentialTable.change(db, change)` drops the rows whose origins the change touches
 *   and records its sequence, so a restarted reg_authn follows each database from where
 *   its predecessor stopped: nothing changed in the gap stays cached.
 */
import {
  ACCOUNTS_DB,
  canonicalDbName,
  isStoreError,
  type Change,
  type DocumentStore,
  type SavedDoc,
} from '../../src/store/index.ts';
import type { Table } from '../../src/kernel/index.ts';
import type { DeviceBatcher } from './device-batcher.ts';

export const CREDS_TABLE = 'registrar_credentials';

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
  | { kind: 'disabled'; what: 'account' | 'device'; origins: string[] }
  | { kind: 'unknown_realm' }
  | { kind: 'unknown_user'; accountId: string }
  | { kind: 'no_credentials'; deviceId: string };

/** A kept row: the value and the documents it came from (`db\0id`, canonical names). */
export interface CredRow {
  v: unknown;
  o: readonly string[];
}
export type CredTableRows = Table<string, CredRow | string | number>;

export const origin = (db: string, id: string): string => `${canonicalDbName(db)}\u0000${id}`;
const credKey = (realm: string, username: string): string => `c\u0000${realm}\u0000${username}`;
const realmKey = (realm: string): string => `r\u0000${realm}`;
const seqKey = (db: string): string => `s\u0000${db}`;
const EPOCH = 'epoch';

export interface CredentialDeps {
  store: DocumentStore;
  /** A handle that reads the credentials table (a reader, or the owner's own). */
  table: CredTableRows;
  /** Make sure changes of this database reach the owner before anything of it is loaded. */
  watch(db: string): Promise<void>;
  /** Hands a loaded answer to the owner (see the contract). */
  remember(key: string, value: unknown, origins: string[], epoch: number): void;
  devices: DeviceBatcher;
  /** Loads in flight, shared by concurrent callers (per realm/user and per realm). */
  inflight: Map<string, Promise<unknown>>;
}

const epochOf = (t: CredTableRows): number => (t.lookup(EPOCH) as number | undefined) ?? 0;

/**
 * reg_authn's writes to its credentials table (it alone holds a handle that writes). The
 * origin index (which rows came from which document) is reg_authn's plain state, rebuilt
 * from the table when a restarted reg_authn takes it back.
 */
export class CredentialTable {
  private readonly byOrigin = new Map<string, Set<string>>();

  constructor(
    readonly table: CredTableRows,
    private readonly maxEntries: number,
  ) {
    for (const [k, v] of table.entries()) if (typeof v === 'object') this.index(k, v.o);
  }

  /** Keeps a loaded answer unless a change arrived since `epoch`; says whether it did. */
  remember(key: string, value: unknown, origins: string[], epoch: number): boolean {
    if (epoch !== epochOf(this.table)) return false;
    if (!this.table.member(key)) {
      if (this.table.size >= this.maxEntries) this.evictOne();
    } else this.remove(key);
    this.table.insert(key, { v: value, o: origins });
    this.index(key, origins);
    return true;
  }

  /** A change of `db`: the rows it touches go, its sequence is recorded. Answers how many went. */
  change(db: string, change: Pick<Change, 'id' | 'seq'>): number {
    this.table.updateCounter(EPOCH, 1, 0);
    this.table.insert(seqKey(canonicalDbName(db)), String(change.seq));
    const keys = this.byOrigin.get(origin(db, change.id));
    if (keys === undefined) return 0;
    let n = 0;
    for (const k of [...keys]) n += this.remove(k) ? 1 : 0;
    return n;
  }

  /** A database gone (its feed ended): everything from it goes. */
  dropDb(db: string): number {
    const prefix = `${canonicalDbName(db)}\u0000`;
    this.table.updateCounter(EPOCH, 1, 0);
    this.table.delete(seqKey(canonicalDbName(db)));
    let n = 0;
    for (const [o, keys] of [...this.byOrigin])
      if (o.startsWith(prefix)) for (const k of [...keys]) n += this.remove(k) ? 1 : 0;
    return n;
  }

  private index(key: string, origins: readonly string[]): void {
    for (const o of origins) {
      let keys = this.byOrigin.get(o);
      if (keys === undefined) this.byOrigin.set(o, (keys = new Set()));
      keys.add(key);
    }
  }

  private remove(key: string): boolean {
    const row = this.table.take(key);
    if (typeof row !== 'object') return false;
    for (const o of row.o) {
      const keys = this.byOrigin.get(o);
      keys?.delete(key);
      if (keys?.size === 0) this.byOrigin.delete(o);
    }
    return true;
  }

  /** A feed established from `seq`: recorded unless a later change of `db` already was. */
  followed(db: string, seq: string): void {
    this.table.insertNew(seqKey(canonicalDbName(db)), seq);
  }

  /** The databases followed before, with the last sequence seen of each. */
  sequences(): Array<[string, string]> {
    return this.table.match((_v, k) => k.startsWith('s\u0000')).map(([k, v]) => [k.slice(2), String(v)]);
  }

  get cached(): number {
    return this.table.match((_v, k) => k.startsWith('c\u0000')).length;
  }

  private evictOne(): void {
    for (const [k, v] of this.table.entries()) {
      if (typeof v === 'object') {
        this.remove(k);
        return;
      }
    }
  }
}

interface RealmAccount {
  accountId: string;
  accountDb: string;
  account: SavedDoc;
}

type Cached = Extract<CredentialLookup, { kind: 'found' | 'disabled' }>;

function kept<T>(deps: CredentialDeps, key: string): T | undefined {
  const row = deps.table.lookup(key);
  return typeof row === 'object' ? (row.v as T) : undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const enabled = (doc: Record<string, unknown>): boolean => doc.enabled !== false && doc.pvt_enabled !== false;

export async function lookupCredentials(
  deps: CredentialDeps,
  realm: string,
  username: string,
): Promise<CredentialLookup> {
  const hit = kept<Cached>(deps, credKey(realm, username));
  if (hit !== undefined) return hit;
  return shared(deps, `u\u0000${realm}\u0000${username}`, async () => {
    const epoch = epochOf(deps.table);
    const r = await load(deps, realm, username, epoch);
    remember(deps, realm, username, r, epoch);
    return r;
  });
}

function remember(
  deps: CredentialDeps,
  realm: string,
  username: string,
  r: CredentialLookup,
  epoch: number,
): void {
  if (r.kind !== 'found' && r.kind !== 'disabled') return;
  const origins =
    r.kind === 'found'
      ? [origin(ACCOUNTS_DB, r.creds.accountId), origin(r.creds.accountDb, r.creds.deviceId)]
      : r.origins;
  deps.remember(credKey(realm, username), r, origins, epoch);
}

/**
 * Loads every device of every account into the cache at start (one view query per account
 * database), so the first REGISTER of each phone after a start is answered from memory.
 * Answers how many credentials were cached.
 */
export async function primeCredentials(deps: CredentialDeps): Promise<number> {
  await deps.watch(ACCOUNTS_DB);
  const epoch = epochOf(deps.table);
  const rows = (await deps.store.view(ACCOUNTS_DB, 'accounts/listing_by_realm')).rows;
  let n = 0;
  for (const row of rows) {
    const realm = String(row.key);
    const ra = await realmAccount(deps, realm, epoch);
    if (ra === undefined || !enabled(ra.account)) continue;
    await deps.watch(ra.accountDb);
    const devices = (await deps.store.view(ra.accountDb, 'devices/sip_credentials', { includeDocs: true }))
      .rows;
    for (const d of devices) {
      if (!d.doc) continue;
      const username = String(d.key);
      if (kept(deps, credKey(realm, username)) !== undefined) continue;
      remember(deps, realm, username, fromDevice(ra, realm, username, d.doc), epoch);
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

async function realmAccount(
  deps: CredentialDeps,
  realm: string,
  epoch: number,
): Promise<RealmAccount | undefined> {
  const key = realmKey(realm);
  const hit = kept<RealmAccount>(deps, key);
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
    deps.remember(key, found, [origin(ACCOUNTS_DB, accountId)], epoch);
    return found;
  });
}

async function load(
  deps: CredentialDeps,
  realm: string,
  username: string,
  epoch: number,
): Promise<CredentialLookup> {
  const ra = await realmAccount(deps, realm, epoch);
  if (ra === undefined) return { kind: 'unknown_realm' };
  const { accountId, accountDb, account } = ra;
  if (!enabled(account))
    return { kind: 'disabled', what: 'account', origins: [origin(ACCOUNTS_DB, accountId)] };
  await deps.watch(accountDb);
  const device = await deps.devices.find(accountDb, username);
  if (device === undefined) return { kind: 'unknown_user', accountId };
  return fromDevice(ra, realm, username, device);
}

function fromDevice(
  { accountId, accountDb, account }: RealmAccount,
  realm: string,
  username: string,
  device: SavedDoc,
): CredentialLookup {
  if (!enabled(device))
    return {
      kind: 'disabled',
      what: 'device',
      origins: [origin(ACCOUNTS_DB, accountId), origin(accountDb, device._id)],
    };
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
