/**
 * The registration table: live registrations in the cache (StoreCache) and in the
 * registrations database, as Whistle's registrar kept them.
 *
 * Contract
 * - `apply(regSuccess, now)`: the contact is cleaned and hashed into the registration's
 *   id. Expires 0 (or Status Unregistered) removes that registration. Otherwise, if the
 *   id is cached, the entry is updated; if not, the user's older registrations (realm +
 *   username) are removed first, from cache and database. Then the registration is
 *   cached under ['reg', id], the mapping ['reg_user', realm, username] -> ids updated,
 *   and the document written. Answers what happened (stored | updated | removed |
 *   rejected with a reason) and `persisted`, which resolves once the database has it.
 *   The cache part runs synchronously, so arrival order decides.
 * - `find(realm, username)` answers the live registrations, cache first; on a miss the
 *   database (view registrations/by_user_realm) is asked and what is live gets cached
 *   (another node may have stored it). `all(realm?)` lists the cached live ones.
 * - `sweep(now)` drops expired registrations from cache and database; `prime(now)` loads
 *   every unexpired registration document at start (and deletes the expired ones).
 * - Realms and usernames are compared lower-cased. Expiry times are ms since the epoch.
 */
import { type Doc, type DocumentStore, type SavedDoc, type StoreCache } from '../../src/store/index.ts';
import { cleanContact, registrationId } from './contact.ts';
import { RegStore } from './reg-store.ts';

export interface Registration {
  id: string;
  realm: string;
  username: string;
  expiresAt: number;
  /** The reg_success headers as received, plus Bridge-RURI: what reg_query answers from. */
  fields: Record<string, unknown>;
}

export type ApplyOutcome =
  | { result: 'stored' | 'updated' | 'removed'; id: string; persisted: Promise<void> }
  | { result: 'rejected'; reason: string };

const REG_FIELDS = new Set([
  'Contact', 'Event-Timestamp', 'Expires', 'Realm', 'Username', 'Account-DB', 'AOR', 'Authorizing-ID', 'Custom-Channel-Vars', 'First-Registration',
  'FreeSWITCH-Hostname', 'FreeSWITCH-Nodename', 'From-Host', 'From-User', 'Network-IP', 'Network-Port', 'Original-Contact', 'Presence-Hosts',
  'Profile-Name', 'Proxy-IP', 'Proxy-Path', 'Proxy-Port', 'Proxy-Protocol', 'Register-Overwrite-Notify', 'Registrar-Node', 'RPid', 'RUID',
  'Source-IP', 'Source-Port', 'Status', 'Suppress-Unregister-Notify', 'To-Host', 'To-User', 'User-Agent', 'Account-ID', 'Call-ID',
]);

const regKey = (id: string) => ['reg', id];
const userKey = (realm: string, username: string) => ['reg_user', realm, username];
const FOREVER = { ttlMs: Infinity };

function expiresOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export class RegistrationTable {
  readonly writer: RegStore;

  constructor(
    private readonly store: DocumentStore,
    private readonly db: string,
    private readonly cache: StoreCache,
    writer: RegStore,
  ) {
    this.writer = writer;
  }

  apply(msg: Record<string, unknown>, now: number): ApplyOutcome {
    const contact = cleanContact(msg.Contact);
    if (contact === undefined) return { result: 'rejected', reason: `malformed Contact ${JSON.stringify(msg.Contact)}` };
    const expires = expiresOf(msg.Expires);
    if (expires === undefined) return { result: 'rejected', reason: `bad Expires ${JSON.stringify(msg.Expires)}` };
    const realm = String(msg.Realm).toLowerCase();
    const username = String(msg.Username).toLowerCase();
    const id = registrationId(contact);
    if (expires === 0 || msg.Status === 'Unregistered') return { result: 'removed', id, persisted: this.remove(id) };
    const fields: Record<string, unknown> = { 'Bridge-RURI': contact };
    for (const [k, v] of Object.entries(msg)) if (REG_FIELDS.has(k)) fields[k] = v;
    const reg: Registration = { id, realm, username, expiresAt: now + expires * 1000, fields };
    const existing = this.cache.get<Registration>(regKey(id));
    const removals = existing === undefined ? this.ids(realm, username).filter((old) => old !== id).map((old) => this.remove(old)) : [];
    this.cache.store(regKey(id), reg, FOREVER);
    const ids = this.ids(realm, username);
    if (!ids.includes(id)) this.cache.store(userKey(realm, username), [...ids, id], FOREVER);
    const written = this.writer.put(toDoc(reg));
    return { result: existing === undefined ? 'stored' : 'updated', id, persisted: Promise.all([...removals, written]).then(() => undefined) };
  }

  remove(id: string): Promise<void> {
    const reg = this.cache.get<Registration>(regKey(id));
    if (reg !== undefined) {
      this.cache.erase(regKey(id));
      const rest = this.ids(reg.realm, reg.username).filter((x) => x !== id);
      if (rest.length === 0) this.cache.erase(userKey(reg.realm, reg.username));
      else this.cache.store(userKey(reg.realm, reg.username), rest, FOREVER);
    }
    return this.writer.delete(id);
  }

  async find(realm: string, username: string, now: number): Promise<Registration[]> {
    const cached = this.live(realm.toLowerCase(), username.toLowerCase(), now);
    if (cached.length > 0) return cached;
    const res = await this.store.view(this.db, 'registrations/by_user_realm', { key: [realm.toLowerCase(), username.toLowerCase()], includeDocs: true });
    for (const row of res.rows) if (row.doc) this.adopt(row.doc, now);
    return this.live(realm.toLowerCase(), username.toLowerCase(), now);
  }

  all(now: number, realm?: string): Registration[] {
    const r = realm?.toLowerCase();
    return this.cache
      .filter<Registration>((k, v) => Array.isArray(k) && k[0] === 'reg' && v.expiresAt > now && (r === undefined || v.realm === r))
      .map(([, v]) => v);
  }

  get size(): number {
    return this.cache.filter((k) => Array.isArray(k) && k[0] === 'reg').length;
  }

  /** Drops expired registrations; answers their ids once the database has forgotten them. */
  async sweep(now: number): Promise<string[]> {
    const expired = this.cache.filter<Registration>((k, v) => Array.isArray(k) && k[0] === 'reg' && v.expiresAt <= now).map(([, v]) => v.id);
    await Promise.all(expired.map((id) => this.remove(id)));
    return expired;
  }

  /** Loads unexpired registration documents into the cache; deletes expired ones. */
  async prime(now: number): Promise<{ loaded: number; expired: number }> {
    const res = await this.store.allDocs(this.db, { includeDocs: true });
    let loaded = 0;
    const stale: Promise<void>[] = [];
    for (const row of res.rows) {
      const doc = row.doc;
      if (!doc || doc._id.startsWith('_design/')) continue;
      this.writer.noteRev(doc._id, doc._rev);
      if (this.adopt(doc, now)) loaded++;
      else stale.push(this.writer.delete(doc._id));
    }
    await Promise.all(stale);
    return { loaded, expired: stale.length };
  }

  private adopt(doc: SavedDoc, now: number): boolean {
    const reg = fromDoc(doc);
    if (reg === undefined || reg.expiresAt <= now) return false;
    this.writer.noteRev(doc._id, doc._rev);
    this.cache.store(regKey(reg.id), reg, FOREVER);
    const ids = this.ids(reg.realm, reg.username);
    if (!ids.includes(reg.id)) this.cache.store(userKey(reg.realm, reg.username), [...ids, reg.id], FOREVER);
    return true;
  }

  private ids(realm: string, username: string): string[] {
    return this.cache.get<string[]>(userKey(realm, username)) ?? [];
  }

  private live(realm: string, username: string, now: number): Registration[] {
    return this.ids(realm, username)
      .map((id) => this.cache.get<Registration>(regKey(id)))
      .filter((r): r is Registration => r !== undefined && r.expiresAt > now);
  }
}

function toDoc(reg: Registration): Doc {
  return { _id: reg.id, pvt_type: 'registration', pvt_expires_at: reg.expiresAt, ...reg.fields, Realm: reg.realm, Username: reg.username };
}

function fromDoc(doc: SavedDoc): Registration | undefined {
  if (doc.pvt_type !== 'registration' || typeof doc.pvt_expires_at !== 'number' || typeof doc.Realm !== 'string' || typeof doc.Username !== 'string') return undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (REG_FIELDS.has(k) || k === 'Bridge-RURI') fields[k] = v;
  return { id: doc._id, realm: doc.Realm.toLowerCase(), username: doc.Username.toLowerCase(), expiresAt: doc.pvt_expires_at, fields };
}

