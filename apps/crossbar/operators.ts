/**
 * What `fife user add` runs (the app's `add_user` operation, app.ts): a user who can log
 * in to the REST API, in the account of that name.
 *
 * Contract
 * - `addUser(store, {account, username, password, admin?, firstName?, lastName?})`
 *   answers `{id, account_id}`. The account is found by name as user_auth finds it (no
 *   such account: 'not_found'; several: 'conflict', naming them); the username is
 *   lower-cased and must be free in the account ('conflict'); an empty username or
 *   password is 'invalid'. `admin` makes `priv_level: "admin"`.
 * - The password is stored only as pvt_md5_auth / pvt_sha1_auth; nothing logs it.
 */
import {
  ACCOUNTS_DB,
  accountDbName,
  newDocId,
  type DocumentStore,
  withPvtTimes,
} from '../../src/store/index.ts';
import { Databases } from './databases.ts';
import { credentialHashes } from './kinds.ts';

export class OperatorError extends Error {
  constructor(
    readonly code: 'invalid' | 'conflict' | 'not_found',
    message: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

export interface UserInput {
  account: string;
  username: string;
  password: string;
  admin?: boolean;
  firstName?: string;
  lastName?: string;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export async function addUser(
  store: DocumentStore,
  input: UserInput,
): Promise<{ id: string; account_id: string }> {
  if (!nonEmpty(input.account) || !nonEmpty(input.username) || !nonEmpty(input.password))
    throw new OperatorError('invalid', 'a user needs --account, --username and --password (none empty)');
  const dbs = new Databases(store);
  await dbs.system();
  const key = input.account.toLowerCase().replace(/[^a-z0-9]/g, '');
  const rows = (await store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_name', { key })).rows;
  if (rows.length === 0)
    throw new OperatorError(
      'not_found',
      `no account is named ${JSON.stringify(input.account)}; create it with 'fife account add'`,
    );
  if (rows.length > 1)
    throw new OperatorError(
      'conflict',
      `several accounts are named ${JSON.stringify(input.account)}: ${rows.map((r) => r.id).join(', ')}`,
    );
  const accountId = rows[0]!.id!;
  const db = accountDbName(accountId, 'encoded');
  await dbs.account(db);
  const username = input.username.trim().toLowerCase();
  if ((await store.view(db, 'crossbar_listings/users_by_username', { key: username })).rows.length > 0)
    throw new OperatorError('conflict', `username ${username} already exists in account ${input.account}`);
  const saved = await store.save(
    db,
    withPvtTimes({
      _id: newDocId(),
      first_name: input.firstName ?? username,
      last_name: input.lastName ?? (input.admin ? 'Admin' : 'User'),
      username,
      priv_level: input.admin ? 'admin' : 'user',
      enabled: true,
      ...credentialHashes(username, input.password),
      pvt_type: 'user',
      pvt_account_id: accountId,
      pvt_account_db: db,
      pvt_vsn: '1',
    }),
  );
  return { id: saved._id, account_id: accountId };
}
