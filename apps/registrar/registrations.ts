/**
 * Registrations: the live registrations in two kernel tables owned by reg_server, and in
 * the registrations database, as Whistle's registrar kept them.
 *
 * Contract
 * - Tables (named, protected, kept across reg_server's restarts by the registrar's
 *   TableKeeper): `registrar_registrations` id -> Registration, and `registrar_reg_users`
 *   `realm\0username` -> ids. Every process (and reg_authn's responders, through a
 *   reader) reads them without a message; only reg_server writes them.
 * - `RegistrationView` (any handle that can read): `live(realm, username, now)`,
 *   `all(now, realm?)`, `size`.
 * - `RegistrationTable` (reg_server's own handles, so only reg_server can build one that
 *   writes): `apply(regSuccess, now)`: the contact is cleaned and hashed into the
 *   registration's id. Expires 0 (or Status Unregistered) removes that registration.
 *   Otherwise, if the id is known, the entry is updated; if not, the user's older
 *   registrations (realm + username) are removed first, from tables and database, and
 *   the new document's write is marked `supersede`: reg_store also deletes the user's
 *   other documents that this node never held (stored through another node). Then
 *   the registration and the user's id list are written. Answers what happened (stored |
 *   updated | removed | rejected with a reason) and `writes`, the database writes it
 *   implies, which reg_server hands to reg_store (reg-store.ts). The table part is
 *   synchronous, so the order of reg_server's mailbox decides; this module does no I/O
 *   but `prime`'s read.
 * - `drop(id)` forgets a registration whose document another node deleted (reg_server
 *   hears it on the database's change feed), without a write.
 * - `adopt(docs, now)` takes registrations another node stored (found by a reg_query in
 *   the database) and answers their revisions; `sweep(now)` drops expired registrations
 *   from the tables and answers the deletes; `prime(now)` reads every registration
 *   document (at a start with empty tables), loads the unexpired ones and answers the
 *   revisions read and the deletes of the expired ones.
 * - `fromDoc` reads a registration document (reg_query's database fall-back).
 * - Realms and usernames are compared lower-cased. Expiry times are ms since the epoch.
 */
import type { Table } from '../../src/kernel/index.ts';
import { REG_SUCCESS_FIELDS } from '../../src/api/index.ts';
import type { Doc, DocumentStore, SavedDoc } from '../../src/store/index.ts';
import { cleanContact, registrationId } from './contact.ts';
import { isUnregister, regExpires } from '../../src/api/contact.ts';
import type { RegWrite } from './reg-store.ts';

export const REGS_TABLE = 'registrar_registrations';
export const REG_USERS_TABLE = 'registrar_reg_users';
/** reg_server's place in the registrations database's change feed (`seq`). */
export const REG_FEED_TABLE = 'registrar_reg_feed';

export interface Registration {
  id: string;
  realm: string;
  username: string;
  expiresAt: number;
  /** The reg_success headers as received, plus Bridge-RURI: what reg_query answers from. */
  fields: Record<string, unknown>;
}

export type ApplyOutcome =
  | { result: 'stored' | 'updated' | 'removed'; id: string; writes: RegWrite[] }
  | { result: 'rejected'; reason: string };

const REG_FIELDS = new Set(REG_SUCCESS_FIELDS);

export type RegsTable = Table<string, Registration>;
export type RegUsersTable = Table<string, readonly string[]>;

const userKey = (realm: string, username: string): string => `${realm}\u0000${username}`;

/** Reads of the registration tables. */
export class RegistrationView {
  constructor(
    protected readonly regs: RegsTable,
    protected readonly users: RegUsersTable,
  ) {}

  live(realm: string, username: string, now: number): Registration[] {
    return this.ids(realm.toLowerCase(), username.toLowerCase())
      .map((id) => this.regs.lookup(id))
      .filter((r): r is Registration => r !== undefined && r.expiresAt > now);
  }

  all(now: number, realm?: string): Registration[] {
    const r = realm?.toLowerCase();
    return this.regs.match((v) => v.expiresAt > now && (r === undefined || v.realm === r)).map(([, v]) => v);
  }

  get size(): number {
    return this.regs.size;
  }

  protected ids(realm: string, username: string): readonly string[] {
    return this.users.lookup(userKey(realm, username)) ?? [];
  }
}

/** reg_server's side: the writes (its own table handles). */
export class RegistrationTable extends RegistrationView {
  constructor(
    regs: RegsTable,
    users: RegUsersTable,
    private readonly store: DocumentStore,
    private readonly db: string,
  ) {
    super(regs, users);
  }

  apply(msg: Record<string, unknown>, now: number): ApplyOutcome {
    const contact = cleanContact(msg.Contact);
    if (contact === undefined)
      return { result: 'rejected', reason: `malformed Contact ${JSON.stringify(msg.Contact)}` };
    const expires = regExpires(msg.Expires);
    if (expires === undefined)
      return { result: 'rejected', reason: `bad Expires ${JSON.stringify(msg.Expires)}` };
    const realm = String(msg.Realm).toLowerCase();
    const username = String(msg.Username).toLowerCase();
    const id = registrationId(contact);
    if (isUnregister(msg, expires)) return { result: 'removed', id, writes: [this.remove(id)] };
    const fields: Record<string, unknown> = { 'Bridge-RURI': contact };
    for (const [k, v] of Object.entries(msg)) if (REG_FIELDS.has(k)) fields[k] = v;
    const reg: Registration = { id, realm, username, expiresAt: now + expires * 1000, fields };
    const known = this.regs.member(id);
    const removals = known
      ? []
      : this.ids(realm, username)
          .filter((old) => old !== id)
          .map((old) => this.remove(old));
    this.keep(reg);
    const write: RegWrite = known ? { id, doc: toDoc(reg) } : { id, doc: toDoc(reg), supersede: true };
    return { result: known ? 'updated' : 'stored', id, writes: [...removals, write] };
  }

  /** Forgets a registration whose document is gone (deleted by another node); answers if it was held. */
  drop(id: string): boolean {
    if (!this.regs.member(id)) return false;
    this.remove(id);
    return true;
  }

  remove(id: string): RegWrite {
    const reg = this.regs.take(id);
    if (reg !== undefined) {
      const rest = this.ids(reg.realm, reg.username).filter((x) => x !== id);
      if (rest.length === 0) this.users.delete(userKey(reg.realm, reg.username));
      else this.users.insert(userKey(reg.realm, reg.username), rest);
    }
    return { id, doc: null };
  }

  /** Registrations found in the database (another node stored them): kept if live. */
  adopt(docs: readonly SavedDoc[], now: number): Array<[string, string]> {
    return docs.filter((doc) => this.adoptOne(doc, now)).map((doc) => [doc._id, doc._rev]);
  }

  /** Drops expired registrations from the tables; answers the database deletes. */
  sweep(now: number): RegWrite[] {
    return this.regs.match((v) => v.expiresAt <= now).map(([id]) => this.remove(id));
  }

  /** Loads unexpired registration documents into the tables; expired ones are to delete. */
  async prime(now: number): Promise<{ loaded: number; revs: Array<[string, string]>; deletes: RegWrite[] }> {
    const res = await this.store.allDocs(this.db, { includeDocs: true });
    let loaded = 0;
    const revs: Array<[string, string]> = [];
    const deletes: RegWrite[] = [];
    for (const row of res.rows) {
      const doc = row.doc;
      if (!doc || doc._id.startsWith('_design/')) continue;
      revs.push([doc._id, doc._rev]);
      if (this.adoptOne(doc, now)) loaded++;
      else deletes.push({ id: doc._id, doc: null });
    }
    return { loaded, revs, deletes };
  }

  private adoptOne(doc: SavedDoc, now: number): boolean {
    const reg = fromDoc(doc);
    if (reg === undefined || reg.expiresAt <= now) return false;
    this.keep(reg);
    return true;
  }

  private keep(reg: Registration): void {
    this.regs.insert(reg.id, reg);
    const ids = this.ids(reg.realm, reg.username);
    if (!ids.includes(reg.id)) this.users.insert(userKey(reg.realm, reg.username), [...ids, reg.id]);
  }
}

function toDoc(reg: Registration): Doc {
  return {
    _id: reg.id,
    pvt_type: 'registration',
    pvt_expires_at: reg.expiresAt,
    ...reg.fields,
    Realm: reg.realm,
    Username: reg.username,
  };
}

export function fromDoc(doc: SavedDoc): Registration | undefined {
  if (
    doc.pvt_type !== 'registration' ||
    typeof doc.pvt_expires_at !== 'number' ||
    typeof doc.Realm !== 'string' ||
    typeof doc.Username !== 'string'
  )
    return undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (REG_FIELDS.has(k) || k === 'Bridge-RURI') fields[k] = v;
  return {
    id: doc._id,
    realm: doc.Realm.toLowerCase(),
    username: doc.Username.toLowerCase(),
    expiresAt: doc.pvt_expires_at,
    fields,
  };
}
