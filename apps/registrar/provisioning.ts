/**
 * Accounts and SIP devices, created the way Kazoo lays them out: the account document in
 * `accounts` and in its own account database; the device document (pvt_type device,
 * sip.username / sip.password or sip.a1_hash / sip.realm) in the account database. What
 * `fife account add` and `fife device add` run, directly on a store or through a running
 * node (the app's `add_account` / `add_device` operations, app.ts).
 *
 * Contract
 * - `addAccount(store, {name, realm})` answers the new account id (32 hex). A realm
 *   already taken is a ProvisionError 'conflict'; a missing name or realm 'invalid'. The
 *   first account of the store gets `pvt_superduper_admin: true` (its tokens act on every
 *   account in crossbar, Kazoo's superduper admin).
 * - `addDevice(store, {realm, username, password | a1Hash, name?, ownerId?})` answers the
 *   device id. No account for the realm: 'not_found'; the username taken in that account:
 *   'conflict'; neither or both of password / a1Hash, or an a1Hash that is not 32 hex:
 *   'invalid'. Realms and usernames are stored lower-cased.
 * - Input is checked before anything is written, each refusal an 'invalid' naming the
 *   field: a realm must be a SIP domain name and a username a SIP user part, both within
 *   length limits (sip-names.ts); a password given empty is refused as empty.
 * - Neither logs a secret.
 */
import { randomBytes } from 'node:crypto';
import { ACCOUNTS_DB, accountDbName, withPvtTimes, type DocumentStore } from '../../src/store/index.ts';
import { ensureAccountDb, ensureRegistrarDbs } from './databases.ts';
import { realmProblem, usernameProblem } from './sip-names.ts';

export class ProvisionError extends Error {
  constructor(
    readonly code: 'invalid' | 'conflict' | 'not_found',
    message: string,
  ) {
    super(message);
    this.name = 'ProvisionError';
  }
}

export interface AccountInput {
  name: string;
  realm: string;
}

export interface DeviceInput {
  realm: string;
  username: string;
  password?: string;
  a1Hash?: string;
  name?: string;
  ownerId?: string;
}

const newId = (): string => randomBytes(16).toString('hex');
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

function checkedRealm(v: unknown): string {
  const realm = typeof v === 'string' ? v.trim().toLowerCase() : '';
  const problem = realmProblem(realm);
  if (problem !== undefined) throw new ProvisionError('invalid', `invalid realm: ${problem}`);
  return realm;
}

function checkedUsername(v: unknown): string {
  const username = typeof v === 'string' ? v.trim().toLowerCase() : '';
  const problem = usernameProblem(username);
  if (problem !== undefined) throw new ProvisionError('invalid', `invalid username: ${problem}`);
  return username;
}

async function accountByRealm(
  store: DocumentStore,
  realm: string,
): Promise<{ id: string; db: string } | undefined> {
  const row = (await store.view(ACCOUNTS_DB, 'accounts/listing_by_realm', { key: realm })).rows[0];
  const v = row?.value as { account_id?: string; account_db?: string } | undefined;
  return v?.account_id && v.account_db ? { id: v.account_id, db: v.account_db } : undefined;
}

export async function addAccount(store: DocumentStore, input: AccountInput): Promise<string> {
  if (!nonEmpty(input.name) || !nonEmpty(input.realm))
    throw new ProvisionError('invalid', 'an account needs --name and --realm');
  const realm = checkedRealm(input.realm);
  await ensureRegistrarDbs(store);
  if ((await accountByRealm(store, realm)) !== undefined)
    throw new ProvisionError('conflict', `realm ${realm} already belongs to an account`);
  // The first account of a platform is its superduper admin's (Kazoo's pvt_superduper_admin).
  const first = (await store.view(ACCOUNTS_DB, 'accounts/listing_by_realm', { limit: 1 })).rows.length === 0;
  const id = newId();
  const db = accountDbName(id, 'encoded');
  const doc = withPvtTimes({
    ...(first ? { pvt_superduper_admin: true } : {}),
    _id: id,
    name: input.name.trim(),
    realm,
    enabled: true,
    pvt_type: 'account',
    pvt_db_name: db,
    pvt_account_id: id,
    pvt_tree: [],
  });
  await ensureAccountDb(store, db);
  await store.save(db, doc);
  await store.save(ACCOUNTS_DB, doc);
  return id;
}

export async function addDevice(store: DocumentStore, input: DeviceInput): Promise<string> {
  if (!nonEmpty(input.realm) || !nonEmpty(input.username))
    throw new ProvisionError('invalid', 'a device needs --realm and --username');
  const realm = checkedRealm(input.realm);
  const username = checkedUsername(input.username);
  if (typeof input.password === 'string' && !nonEmpty(input.password) && input.a1Hash === undefined)
    throw new ProvisionError(
      'invalid',
      'invalid password: it is empty (a device needs a password, or --a1-hash)',
    );
  if (nonEmpty(input.password) === nonEmpty(input.a1Hash))
    throw new ProvisionError('invalid', 'give exactly one of --password or --a1-hash');
  if (nonEmpty(input.a1Hash) && !/^[0-9a-f]{32}$/i.test(input.a1Hash))
    throw new ProvisionError(
      'invalid',
      '--a1-hash must be MD5(username:realm:password) as 32 hex characters',
    );
  await ensureRegistrarDbs(store);
  const account = await accountByRealm(store, realm);
  if (account === undefined)
    throw new ProvisionError(
      'not_found',
      `no account has realm ${realm}: create it with 'fife account add --name NAME --realm ${realm}'`,
    );
  await ensureAccountDb(store, account.db);
  const taken = (await store.view(account.db, 'devices/sip_credentials', { key: username })).rows.length > 0;
  if (taken) throw new ProvisionError('conflict', `username ${username} already exists in realm ${realm}`);
  const id = newId();
  const sip = nonEmpty(input.a1Hash)
    ? { username, realm, method: 'password', invite_format: 'contact', a1_hash: input.a1Hash.toLowerCase() }
    : { username, realm, method: 'password', invite_format: 'contact', password: input.password };
  await store.save(
    account.db,
    withPvtTimes({
      _id: id,
      name: input.name ?? `${username}@${realm}`,
      device_type: 'sip_device',
      enabled: true,
      owner_id: input.ownerId,
      sip,
      pvt_type: 'device',
      pvt_account_id: account.id,
      pvt_account_db: account.db,
    }),
  );
  return id;
}
