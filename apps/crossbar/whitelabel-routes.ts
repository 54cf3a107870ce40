/**
 * An account's whitelabel (Kazoo's cb_whitelabel): the branding its browser clients show.
 *
 * - `GET /v2/whitelabel/{domain}` (no token, as Kazoo: the login page asks before anyone
 *   logs in): the whitelabel whose `domain` is that one (case-insensitive), with
 *   `account_id`; none: 404 bad_identifier naming the domain.
 * - `GET/PUT/POST/DELETE /v2/accounts/{A}/whitelabel`: the account's document (`_id`
 *   `whitelabel` in its database); PUT creates (201; one already there: 400 `unique`),
 *   POST replaces, DELETE removes; none: 404 bad_identifier `whitelabel`. `domain` is
 *   unique across accounts (400 `domain.unique`); it is copied to the account document's
 *   `pvt_whitelabel_domain` (view `crossbar_accounts/listing_by_whitelabel_domain`) so the
 *   unauthenticated lookup is one view query.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ACCOUNTS_DB,
  accountDbName,
  isStoreError,
  type SavedDoc,
  withPvtTimes,
} from '../../src/store/index.ts';
import { body, params, route, tokenFree } from './answer.ts';
import { findAccount, type Crossbar } from './context.ts';
import { accountScope, checkRevision, saving } from './doc-routes.ts';
import { publicDoc, publicInput, requestData } from './docs.ts';
import { badIdentifier, fieldError } from './errors.ts';
import { whitelabelSchema } from './schemas.ts';
import { validator } from './validate.ts';

const ID = 'whitelabel';
const validate = validator(whitelabelSchema);

async function current(cb: Crossbar, db: string): Promise<SavedDoc | undefined> {
  try {
    const doc = await cb.store.get(db, ID);
    return doc.pvt_deleted === true ? undefined : doc;
  } catch (err) {
    if (isStoreError(err, 'not_found')) return undefined;
    throw err;
  }
}

async function domainOwner(cb: Crossbar, domain: string): Promise<string | undefined> {
  const rows = await cb.store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_whitelabel_domain', {
    key: domain.toLowerCase(),
  });
  return rows.rows[0]?.id ?? undefined;
}

/** Keeps `pvt_whitelabel_domain` of the account document in `accounts` and its own database. */
async function markDomain(cb: Crossbar, accountId: string, domain: string | undefined): Promise<void> {
  for (const db of [ACCOUNTS_DB, accountDbName(accountId, 'encoded')]) {
    let doc: SavedDoc;
    try {
      doc = await cb.store.get(db, accountId);
    } catch (err) {
      if (isStoreError(err, 'not_found')) continue;
      throw err;
    }
    if (doc.pvt_whitelabel_domain === domain) continue;
    const { pvt_whitelabel_domain: _old, ...rest } = doc;
    await cb.store.save(db, domain === undefined ? rest : { ...rest, pvt_whitelabel_domain: domain });
  }
}

export function registerWhitelabelRoutes(app: FastifyInstance, cb: Crossbar): void {
  app.get(
    '/v2/whitelabel/:domain',
    tokenFree,
    route(async (req) => {
      await cb.dbs.system();
      const domain = params(req).domain!;
      const owner = await domainOwner(cb, domain);
      const account = owner === undefined ? undefined : await findAccount(cb, owner);
      const doc =
        account === undefined ? undefined : await current(cb, accountDbName(account._id, 'encoded'));
      if (account === undefined || doc === undefined) throw badIdentifier(domain);
      return { data: { ...publicDoc(doc), account_id: account._id }, revision: doc._rev };
    }),
  );

  const one = '/v2/accounts/:account_id/whitelabel';
  app.get(
    one,
    route(async (req) => {
      const { db } = await accountScope(cb, req);
      const doc = await current(cb, db);
      if (doc === undefined) throw badIdentifier(ID);
      return { data: publicDoc(doc), revision: doc._rev };
    }),
  );

  const write = (create: boolean) =>
    route(async (req: FastifyRequest) => {
      const { account, db } = await accountScope(cb, req);
      const existing = await current(cb, db);
      if (create && existing !== undefined)
        throw fieldError('id', 'unique', 'the account has a whitelabel already; POST changes it', {
          cause: ID,
        });
      if (!create && existing === undefined) throw badIdentifier(ID);
      if (existing !== undefined) checkRevision(req, existing._rev);
      const data = validate(structuredClone(publicInput(requestData(req.body))));
      if (typeof data.domain === 'string') {
        data.domain = data.domain.toLowerCase();
        const owner = await domainOwner(cb, data.domain as string);
        if (owner !== undefined && owner !== account._id)
          throw fieldError('domain', 'unique', 'Whitelabel domain already in use', { cause: data.domain });
      }
      const saved = await saving(() =>
        cb.store.save(
          db,
          withPvtTimes({
            ...data,
            _id: ID,
            ...(existing === undefined ? {} : { _rev: existing._rev }),
            pvt_type: 'whitelabel',
            pvt_account_id: account._id,
            pvt_account_db: db,
            ...(existing === undefined ? {} : { pvt_created: existing.pvt_created }),
          }),
        ),
      );
      await markDomain(cb, account._id, data.domain as string | undefined);
      cb.log.info({ account_id: account._id, domain: data.domain }, 'crossbar: whitelabel saved');
      return { status: create ? 201 : 200, data: publicDoc(saved), revision: saved._rev };
    });
  app.put(one, body('whitelabel', whitelabelSchema), write(true));
  app.post(one, body('whitelabel', whitelabelSchema), write(false));

  app.delete(
    one,
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const existing = await current(cb, db);
      if (existing === undefined) throw badIdentifier(ID);
      checkRevision(req, existing._rev);
      await saving(() => cb.store.remove(db, ID, existing._rev));
      await markDomain(cb, account._id, undefined);
      cb.log.info({ account_id: account._id }, 'crossbar: whitelabel deleted');
      return { data: publicDoc(existing), revision: existing._rev };
    }),
  );
}
