/**
 * Accounts (`/v2/accounts/{account_id}` and below), Kazoo's cb_accounts:
 *
 * - GET: the account, with `created` (its pvt_created in Gregorian seconds, as Kazoo's
 *   cb_accounts leaks it; read-only, dropped from a request). PUT: create a child of it
 *   (201): `pvt_tree` is the parent's tree plus the parent, so the parent's tokens act on
 *   it; its database is created; it gets a `pvt_api_key` (GET .../api_key shows it; PUT /v2/api_auth logs in with it). POST
 *   replaces, PATCH merges (null deletes); DELETE removes an account with no children
 *   (one with children: Kazoo's 500 account_has_descendants) and its database.
 * - `realm` (a SIP domain) is unique across accounts (400 validation error
 *   `realm.unique`); a child created without one gets a generated `<8 hex>.<parent
 *   realm>` (Kazoo generates one too).
 * - GET .../children (paged `{id, name, realm, descendants_count, flags}`), .../descendants
 *   (paged `{id, name, realm, tree, flags}`), .../parents (the ancestors the token may
 *   see, root first); the fields of Kazoo's listing_by_children / listing_by_descendants.
 * - The document is kept in `accounts` and in the account's own database (the registrar
 *   reads the first); the revision answered is the one in `accounts`.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  ACCOUNTS_DB,
  accountDbName,
  newDocId,
  type DocumentStore,
  type SavedDoc,
  createdSeconds,
  withPvtTimes,
} from '../../src/store/index.ts';
import { body, params, query, route } from './answer.ts';
import { authenticate, authorizeAccount, findAccount, isSuperduper, type Crossbar } from './context.ts';
import { checkRevision, saving } from './doc-routes.ts';
import { mergePatch, privateFields, publicDoc, publicInput, requestData } from './docs.ts';
import { CbError, fieldError } from './errors.ts';
import { listPage } from './listing.ts';
import { accountSchema } from './schemas.ts';
import { validator } from './validate.ts';

type Obj = Record<string, unknown>;
const validateAccount = validator(accountSchema);

async function realmOwner(store: DocumentStore, realm: string): Promise<string | undefined> {
  const row = (
    await store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_realm', { key: realm.toLowerCase() })
  ).rows[0];
  return row?.id;
}

async function checkRealm(store: DocumentStore, data: Obj, self: string | undefined): Promise<void> {
  if (typeof data.realm !== 'string') return;
  data.realm = data.realm.toLowerCase();
  const owner = await realmOwner(store, data.realm as string);
  if (owner !== undefined && owner !== self)
    throw fieldError('realm', 'unique', 'Account realm already in use', { cause: data.realm });
}

/** Writes the account to `accounts` and to its own database; answers the `accounts` copy. */
async function writeAccount(cb: Crossbar, doc: Obj): Promise<SavedDoc> {
  const id = doc._id as string;
  const db = accountDbName(id, 'encoded');
  const saved = await saving(() => cb.store.save(ACCOUNTS_DB, { ...doc, _id: id }));
  const { _rev: _r, ...body } = saved;
  let own: SavedDoc | undefined;
  try {
    own = await cb.store.get(db, id);
  } catch {
    own = undefined;
  }
  await cb.store.save(db, own === undefined ? body : { ...body, _rev: own._rev });
  return saved;
}

/** The account as Kazoo's cb_accounts answers it: its public fields and `created`, its
 * pvt_created in Gregorian seconds (leak_pvt_created). */
const accountView = (doc: Obj): Obj => ({ ...publicDoc(doc), created: createdSeconds(doc) });

/** The request's account fields; `created` is read-only (answered, never stored). */
function accountInput(body: unknown): Obj {
  const { created: _created, ...input } = publicInput(requestData(body));
  return input;
}

export function registerAccountRoutes(app: FastifyInstance, cb: Crossbar): void {
  const one = '/v2/accounts/:account_id';
  const scope = async (req: Parameters<typeof authenticate>[1]) => {
    const claims = authenticate(cb, req);
    return { claims, account: await authorizeAccount(cb, claims, params(req).account_id!) };
  };

  app.get(
    one,
    route(async (req) => {
      const { account } = await scope(req);
      return { data: accountView(account), revision: account._rev };
    }),
  );

  app.get(
    `${one}/api_key`,
    route(async (req) => {
      const { account } = await scope(req);
      return { data: { api_key: account.pvt_api_key } };
    }),
  );

  app.put(
    one,
    body('account', accountSchema),
    route(async (req) => {
      const { account: parent } = await scope(req);
      const data = validateAccount(structuredClone(accountInput(req.body)));
      const id = newDocId();
      if (typeof data.realm !== 'string')
        data.realm = `${randomBytes(4).toString('hex')}.${typeof parent.realm === 'string' ? parent.realm : 'sip.fife.local'}`;
      await checkRealm(cb.store, data, undefined);
      const db = accountDbName(id, 'encoded');
      await cb.dbs.account(db);
      const tree = [...((parent.pvt_tree as string[] | undefined) ?? []), parent._id];
      const saved = await writeAccount(
        cb,
        withPvtTimes({
          ...data,
          _id: id,
          pvt_type: 'account',
          pvt_db_name: db,
          pvt_account_id: id,
          pvt_account_db: db,
          pvt_tree: tree,
          pvt_api_key: randomBytes(32).toString('hex'),
          pvt_enabled: true,
          pvt_vsn: '1',
        }),
      );
      cb.log.info({ account_id: id, parent_id: parent._id }, 'crossbar: account created');
      return { status: 201, data: accountView(saved), revision: saved._rev };
    }),
  );

  const update = (merge: boolean) =>
    route(async (req) => {
      const { account } = await scope(req);
      checkRevision(req, account._rev);
      const input = accountInput(req.body);
      const { id: _id, ...current } = publicDoc(account);
      const data = validateAccount(structuredClone(merge ? mergePatch(current, input) : input));
      if (data.realm === undefined && typeof account.realm === 'string') data.realm = account.realm;
      await checkRealm(cb.store, data, account._id);
      const saved = await writeAccount(cb, withPvtTimes({ ...privateFields(account), ...data }));
      cb.log.info({ account_id: account._id }, 'crossbar: account edited');
      return { data: accountView(saved), revision: saved._rev };
    });
  app.post(one, body('account', accountSchema), update(false));
  app.patch(one, body('account', accountSchema), update(true));

  app.delete(
    one,
    route(async (req) => {
      const { account } = await scope(req);
      checkRevision(req, account._rev);
      const children = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_children', {
        startkey: [account._id, ''],
        endkey: [account._id, {}],
        limit: 1,
      });
      if (children.rows.length > 0)
        // Kazoo's status for this refusal is 500 (cb_context:add_system_error); so is Fife's.
        throw new CbError(500, 'account_has_descendants', { message: 'account has descendants' });
      await saving(() => cb.store.remove(ACCOUNTS_DB, account._id, account._rev));
      await cb.store.deleteDb(accountDbName(account._id, 'encoded'));
      cb.log.info({ account_id: account._id }, 'crossbar: account deleted');
      return { data: publicDoc(account) };
    }),
  );

  for (const [path, view] of [
    ['children', 'crossbar_accounts/listing_by_children'],
    ['descendants', 'crossbar_accounts/listing_by_descendants'],
  ] as const) {
    app.get(
      `${one}/${path}`,
      route(async (req) => {
        const { account } = await scope(req);
        const page = await listPage(
          cb.store,
          ACCOUNTS_DB,
          view,
          query(req),
          cb.settings.pageSize,
          account._id,
        );
        if (path === 'descendants') return { data: page.data, paging: page.paging };
        // Children carry how many accounts are below each (Kazoo's descendants_count).
        const rows = page.data as Obj[];
        const counts = new Map<unknown, unknown>();
        if (rows.length > 0) {
          const r = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/descendants_count', {
            keys: rows.map((c) => c.id),
            group: true,
          });
          for (const row of r.rows) counts.set(row.key, row.value);
        }
        const data = rows.map((c) => ({ ...c, descendants_count: counts.get(c.id) ?? 0 }));
        return { data, paging: page.paging };
      }),
    );
  }

  app.get(
    `${one}/parents`,
    route(async (req) => {
      const { claims, account } = await scope(req);
      const tree = (account.pvt_tree as string[] | undefined) ?? [];
      const all = await isSuperduper(cb, claims);
      const seen = all ? tree : tree.slice(Math.max(0, tree.indexOf(claims.account_id)));
      const data: Obj[] = [];
      for (const id of seen) {
        const a = await findAccount(cb, id);
        if (a !== undefined) data.push({ id, name: a.name });
      }
      return { data };
    }),
  );

  app.put(
    '/v2/accounts',
    route(async () => {
      throw new CbError(400, 'invalid request', {
        message: 'create an account as the child of one: PUT /v2/accounts/{parent_account_id}',
      });
    }),
  );
}
