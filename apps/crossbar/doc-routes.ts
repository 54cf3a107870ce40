/**
 * Users, devices and callflows of an account (`/v2/accounts/{account_id}/{kind}` and
 * `.../{kind}/{id}`), Kazoo's crossbar_doc behaviour:
 *
 * - GET list: the kind's listing fields, paged (listing.ts). PUT: create (201). GET one
 *   (with the kind's `readExtra`: a callflow's `metadata`);
 *   POST: replace the public fields; PATCH: merge, `null` deleting a key; DELETE: the
 *   document goes, its last public form is answered. Every write checks the schema
 *   (400 validation error with every field's problem) and the kind's rules (kinds.ts)
 *   before anything is written.
 * - Ids of another type, deleted or unknown: 404 bad_identifier naming the id.
 * - `If-Match: <revision>` (or `"<revision>"`) not the current revision: 409
 *   datastore_conflict, nothing written; so is a write that loses a race in the store.
 * - Stored documents carry pvt_type, pvt_account_id, pvt_account_db, pvt_created,
 *   pvt_modified, as the registrar and callflow apps read them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accountDbName, isStoreError, newDocId, type SavedDoc, withPvtTimes } from '../../src/store/index.ts';
import { body, params, query, route } from './answer.ts';
import { authenticate, authorizeAccount, type Crossbar } from './context.ts';
import { mergePatch, privateFields, publicDoc, publicInput, requestData } from './docs.ts';
import { badIdentifier, CbError } from './errors.ts';
import type { Kind } from './kinds.ts';
import { listPage } from './listing.ts';
import { withStatus } from './device-status.ts';

type Obj = Record<string, unknown>;

export async function accountScope(
  cb: Crossbar,
  req: FastifyRequest,
): Promise<{ account: SavedDoc; db: string }> {
  const claims = authenticate(cb, req);
  const account = await authorizeAccount(cb, claims, params(req).account_id!);
  const db = accountDbName(account._id, 'encoded');
  await cb.dbs.account(db);
  return { account, db };
}

export function checkRevision(req: FastifyRequest, current: string): void {
  const h = req.headers['if-match'];
  if (typeof h !== 'string' || h === '' || h === '*') return;
  if (h.replace(/^W\//, '').replace(/"/g, '') !== current)
    throw new CbError(409, 'datastore_conflict', {
      message: 'conflicting documents',
      cause: current,
    });
}

/** Store conflicts are the client's stale revision: 409, as Kazoo's datastore_conflict. */
export async function saving<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isStoreError(err, 'conflict'))
      throw new CbError(409, 'datastore_conflict', {
        message: 'conflicting documents',
      });
    throw err;
  }
}

const defined = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The document `id` of pvt_type `type`, not deleted, or 404 bad_identifier. */
export async function loadTyped(cb: Crossbar, type: string, db: string, id: string): Promise<SavedDoc> {
  try {
    const doc = await cb.store.get(db, id);
    if (doc.pvt_type === type && doc.pvt_deleted !== true) return doc;
  } catch (err) {
    if (!isStoreError(err, 'not_found') && !isStoreError(err, 'invalid')) throw err;
  }
  throw badIdentifier(id);
}

export function registerDocRoutes(app: FastifyInstance, cb: Crossbar, kind: Kind): void {
  const base = `/v2/accounts/:account_id/${kind.path}`;

  app.get(
    base,
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const page = await listPage(cb.store, db, kind.listView, query(req), cb.settings.pageSize);
      const data =
        kind.listRows === undefined
          ? page.data
          : await kind.listRows(cb.store, account._id, page.data as Obj[]);
      const rows =
        kind.withStatus === true && query(req).with_status === 'true'
          ? await withStatus(cb, account, db, data as Obj[])
          : data;
      return { data: rows, paging: page.paging };
    }),
  );

  const withBody = body(kind.type, kind.schema);
  app.put(
    base,
    withBody,
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const checked = kind.validate(structuredClone(publicInput(requestData(req.body))));
      const { data, pvt } = await kind.prepare(cb.store, db, checked, undefined);
      const saved = await saving(() =>
        cb.store.save(
          db,
          withPvtTimes(
            defined({
              ...data,
              ...pvt,
              _id: newDocId(),
              pvt_type: kind.type,
              pvt_account_id: account._id,
              pvt_account_db: db,
              pvt_vsn: '1',
            }),
          ),
        ),
      );
      cb.log.info(
        { account_id: account._id, [`${kind.type}_id`]: saved._id },
        `crossbar: ${kind.type} created`,
      );
      return { status: 201, data: publicDoc(saved), revision: saved._rev };
    }),
  );

  app.get(
    `${base}/:id`,
    route(async (req) => {
      const { db } = await accountScope(cb, req);
      const doc = await loadTyped(cb, kind.type, db, params(req).id!);
      const extra = kind.readExtra === undefined ? {} : await kind.readExtra(cb.store, db, doc);
      return { data: { ...publicDoc(doc), ...extra }, revision: doc._rev };
    }),
  );

  const update = (merge: boolean) =>
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const existing = await loadTyped(cb, kind.type, db, params(req).id!);
      checkRevision(req, existing._rev);
      const input = publicInput(requestData(req.body));
      const { id: _id, ...current } = publicDoc(existing);
      const checked = kind.validate(structuredClone(merge ? mergePatch(current, input) : input));
      const { data, pvt } = await kind.prepare(cb.store, db, checked, existing);
      const saved = await saving(() =>
        cb.store.save(
          db,
          withPvtTimes(
            defined({
              ...privateFields(existing),
              ...data,
              ...pvt,
              _id: existing._id,
              _rev: existing._rev,
            }),
          ),
        ),
      );
      cb.log.info(
        { account_id: account._id, [`${kind.type}_id`]: saved._id },
        `crossbar: ${kind.type} edited`,
      );
      return { data: publicDoc(saved), revision: saved._rev };
    });
  app.post(`${base}/:id`, withBody, update(false));
  app.patch(`${base}/:id`, withBody, update(true));

  app.delete(
    `${base}/:id`,
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const existing = await loadTyped(cb, kind.type, db, params(req).id!);
      checkRevision(req, existing._rev);
      await saving(() => cb.store.remove(db, existing._id, existing._rev));
      cb.log.info(
        { account_id: account._id, [`${kind.type}_id`]: existing._id },
        `crossbar: ${kind.type} deleted`,
      );
      return { data: publicDoc(existing), revision: existing._rev };
    }),
  );
}
