/**
 * Logging in (Kazoo's cb_user_auth, cb_api_auth, cb_token_auth):
 *
 * - PUT /v2/user_auth `{data: {credentials, method?, account_name | account_realm (or
 *   realm) | phone_number}}`: `credentials` is hex md5 (default) or sha1 (`method: "sha"`,
 *   Kazoo's name; "sha1" too) of `username:password`; the account is found by name
 *   (compared as Kazoo normalizes it: lower-case letters and digits only) or realm; the
 *   user by the hash among that account's users. One enabled user: 201 with a token in
 *   `auth_token` and `{account_id, owner_id, account_name, is_reseller, is_master_account,
 *   reseller_id, language, apps}` (`apps`: the account's installed apps this user may
 *   open, apps-store.ts `userApps`); a disabled account 423 `locked`; anything else 401
 *   invalid_credentials (which part failed is logged, not told). With `phone_number`
 *   (Kazoo's lookup of the number's owner), the account is the one whose callflow routes
 *   that number, written as given, as its digits, or as `+` and its digits (each
 *   account's callflows_by_number view is asked; a number in several accounts' callflows
 *   names them all, and the credentials must match in exactly one).
 * - PUT /v2/api_auth `{data: {api_key}}`: the account with that key; 201 with a token
 *   (a disabled account: 423).
 * - POST /v2/auth/tokeninfo `{data: {token}}` (or the request's own token): the token's
 *   claims; 401 for a token this cluster did not sign or that expired.
 */
import type { FastifyInstance } from 'fastify';
import { ACCOUNTS_DB, accountDbName, isAccountId, type SavedDoc } from '../../src/store/index.ts';
import { body, route } from './answer.ts';
import { findAccount, tokenOf, type Crossbar } from './context.ts';
import { requestData } from './docs.ts';
import { CbError, invalidCredentials, validationError } from './errors.ts';
import { validator } from './validate.ts';
import { userApps } from './apps-store.ts';

const userAuthSchema = {
  type: 'object',
  required: ['credentials'],
  properties: {
    credentials: { type: 'string', minLength: 1, maxLength: 64 },
    method: { type: 'string', enum: ['md5', 'sha', 'sha1'], default: 'md5' },
    account_name: { type: 'string', minLength: 1 },
    account_realm: { type: 'string', minLength: 4, maxLength: 253 },
    realm: { type: 'string', minLength: 4, maxLength: 253 },
    phone_number: { type: 'string', minLength: 1 },
  },
};
const checkUserAuth = validator(userAuthSchema);
const apiAuthSchema = {
  type: 'object',
  required: ['api_key'],
  properties: { api_key: { type: 'string', minLength: 1 } },
};
const checkApiAuth = validator(apiAuthSchema);
const tokeninfoSchema = { type: 'object', properties: { token: { type: 'string' } } };

/** Kazoo's answer for a disabled account: 423 `locked`, a validation error on `account`. */
const accountDisabled = (): CbError =>
  new CbError(423, 'locked', { account: { disabled: { message: 'account disabled' } } });

const normalizeName = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');
const enabled = (doc: SavedDoc): boolean => doc.enabled !== false && doc.pvt_enabled !== false;

async function candidateAccounts(cb: Crossbar, data: Record<string, unknown>): Promise<string[]> {
  if (typeof data.account_name === 'string') {
    const rows = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_name', {
      key: normalizeName(data.account_name),
    });
    return rows.rows.map((r) => r.id!);
  }
  if (typeof data.account_realm === 'string') {
    const rows = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_realm', {
      key: data.account_realm.toLowerCase(),
    });
    return rows.rows.map((r) => r.id!);
  }
  if (typeof data.phone_number === 'string') return accountsByNumber(cb, data.phone_number);
  return [];
}

/** The accounts whose callflows route `number` (as given, its digits, or + and its digits). */
async function accountsByNumber(cb: Crossbar, number: string): Promise<string[]> {
  const digits = number.replace(/[^0-9]/g, '');
  const keys = [...new Set([number, digits, `+${digits}`].filter((k) => k !== '' && k !== '+'))];
  const found: string[] = [];
  for (const row of (await cb.store.allDocs(ACCOUNTS_DB)).rows) {
    const id = row.id;
    if (typeof id !== 'string' || !isAccountId(id)) continue;
    const db = accountDbName(id, 'encoded');
    await cb.dbs.account(db);
    const hits = await cb.store.view(db, 'crossbar_listings/callflows_by_number', { keys });
    if (hits.rows.length > 0) found.push(id);
  }
  return found;
}

function loginData(account: SavedDoc, ownerId: string | undefined, apps: unknown[] = []) {
  const tree = (account.pvt_tree as string[] | undefined) ?? [];
  return {
    account_id: account._id,
    owner_id: ownerId,
    account_name: account.name,
    is_reseller: account.pvt_reseller === true || account.pvt_superduper_admin === true,
    is_master_account: tree.length === 0,
    reseller_id: tree[0] ?? account._id,
    language: typeof account.language === 'string' ? account.language : 'en-us',
    apps,
  };
}

export function registerAuthRoutes(app: FastifyInstance, cb: Crossbar): void {
  app.put(
    '/v2/user_auth',
    body('user_auth', userAuthSchema, { tokenFree: true }),
    route(async (req) => {
      const data = checkUserAuth(requestData(req.body));
      data.account_realm ??= data.realm;
      if (
        data.account_name === undefined &&
        data.account_realm === undefined &&
        data.phone_number === undefined
      )
        throw validationError({
          account_name: {
            required: { message: 'one of account_name, account_realm or phone_number is required' },
          },
        });
      const creds = (data.credentials as string).toLowerCase();
      const view = data.method === 'md5' ? 'users_by_md5' : 'users_by_sha1';
      const found: Array<{ account: SavedDoc; user: SavedDoc }> = [];
      for (const id of await candidateAccounts(cb, data)) {
        const account = await findAccount(cb, id);
        if (account === undefined) continue;
        const db = accountDbName(id, 'encoded');
        await cb.dbs.account(db);
        const rows = await cb.store.view(db, `crossbar_listings/${view}`, { key: creds, includeDocs: true });
        for (const r of rows.rows) if (r.doc) found.push({ account, user: r.doc });
      }
      if (found.length !== 1 || found[0]!.user.enabled === false) {
        cb.log.info({ matches: found.length }, 'crossbar: user_auth refused');
        throw invalidCredentials();
      }
      const { account, user } = found[0]!;
      if (!enabled(account)) {
        cb.log.info({ account_id: account._id }, 'crossbar: user_auth refused: account disabled');
        throw accountDisabled();
      }
      const token = cb.keys.sign(
        { account_id: account._id, owner_id: user._id, method: 'cb_user_auth' },
        cb.settings.tokenTtlS,
      );
      req.cbMeta.authToken = token;
      cb.log.info({ account_id: account._id, owner_id: user._id }, 'crossbar: user_auth');
      const apps = await userApps(cb.store, cb.dbs, accountDbName(account._id, 'encoded'), user);
      return { status: 201, data: loginData(account, user._id, apps) };
    }),
  );

  app.put(
    '/v2/api_auth',
    body('api_auth', apiAuthSchema, { tokenFree: true }),
    route(async (req) => {
      const data = checkApiAuth(requestData(req.body));
      const rows = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_api_key', {
        key: data.api_key,
      });
      const account = rows.rows.length === 1 ? await findAccount(cb, rows.rows[0]!.id!) : undefined;
      if (account === undefined) {
        cb.log.info({ matches: rows.rows.length }, 'crossbar: api_auth refused');
        throw invalidCredentials();
      }
      if (!enabled(account)) {
        cb.log.info({ account_id: account._id }, 'crossbar: api_auth refused: account disabled');
        throw accountDisabled();
      }
      const token = cb.keys.sign({ account_id: account._id, method: 'cb_api_auth' }, cb.settings.tokenTtlS);
      req.cbMeta.authToken = token;
      cb.log.info({ account_id: account._id }, 'crossbar: api_auth');
      return { status: 201, data: loginData(account, undefined) };
    }),
  );

  app.post(
    '/v2/auth/tokeninfo',
    body('tokeninfo', tokeninfoSchema),
    route(async (req) => {
      const data = requestData(req.body);
      const token = typeof data.token === 'string' ? data.token : tokenOf(req);
      const claims = token === undefined ? undefined : cb.keys.verify(token);
      if (claims === undefined || token === undefined) throw invalidCredentials();
      req.cbMeta.authToken = token;
      return { data: claims };
    }),
  );
}
