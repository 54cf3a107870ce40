/**
 * `/v2/accounts/{A}/apps_store` (Kazoo 4.3's cb_apps_store): the master account's apps
 * (apps-store.ts) as one account sees them, and that account's installs.
 *
 * - `GET .../apps_store`: every published app, `{id, name, i18n, tags, api_url,
 *   source_url, account_id (the master's), masqueradable}`, plus `allowed_users` and
 *   `users` where the account installed it.
 * - `GET .../apps_store/{app}`: the app's public fields, `account_id`, and the account's
 *   install fields; unknown or unpublished: 404 bad_identifier.
 * - `PUT .../apps_store/{app}` `{allowed_users: all|specific|admins, users: [{id}]}`:
 *   installs it for the account (201, the install `{name, allowed_users, users}`); an app
 *   installed already: 400 `Application already installed`. `POST`: changes an install
 *   (200; not installed: 400 `Application is not installed`). `DELETE`: uninstalls
 *   (200, `{}`; not installed: 400).
 * - `GET .../apps_store/{app}/icon`, `.../screenshot/{n}` (n from 0): the image as a
 *   download; no token needed (Kazoo serves them to `<img>` tags); none: 404.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { body, params, route, tokenFree } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope, saving } from './doc-routes.ts';
import { publicDoc, publicInput, requestData } from './docs.ts';
import { badIdentifier, CbError } from './errors.ts';
import { APPS_STORE_ID, installs, masterAccountId, masterDb } from './apps-store.ts';
import { sendAttachment } from './media-routes.ts';
import { appInstallSchema } from './schemas.ts';
import { validator } from './validate.ts';
import { accountDbName, isStoreError, type SavedDoc, withPvtTimes } from '../../src/store/index.ts';

type Obj = Record<string, unknown>;
const validateInstall = validator(appInstallSchema);

async function loadApp(cb: Crossbar, id: string): Promise<{ db: string; app: SavedDoc }> {
  await cb.dbs.system();
  const db = await masterDb(cb.store, cb.dbs);
  if (db !== undefined) {
    try {
      const app = await cb.store.get(db, id);
      if (app.pvt_type === 'app' && app.pvt_deleted !== true && app.published !== false) return { db, app };
    } catch (err) {
      if (!isStoreError(err, 'not_found') && !isStoreError(err, 'invalid')) throw err;
    }
  }
  throw badIdentifier(id);
}

const installFields = (entry: unknown): Obj => {
  if (typeof entry !== 'object' || entry === null) return {};
  const e = entry as Obj;
  return { allowed_users: e.allowed_users, users: e.users ?? [] };
};

export function registerAppsStoreRoutes(app: FastifyInstance, cb: Crossbar): void {
  const base = '/v2/accounts/:account_id/apps_store';

  app.get(
    base,
    route(async (req) => {
      const { db } = await accountScope(cb, req);
      await cb.dbs.system();
      const mdb = await masterDb(cb.store, cb.dbs);
      const masterId = await masterAccountId(cb.store);
      if (mdb === undefined) return { data: [] };
      const installed = ((await installs(cb.store, db)).apps ?? {}) as Obj;
      const rows = (await cb.store.view(mdb, 'crossbar_listings/apps_store', {})).rows
        .map((r) => r.value as Obj)
        .filter((a) => a.published !== false)
        .map(({ published: _p, phase: _ph, ...a }) => ({
          ...a,
          account_id: masterId,
          ...installFields(installed[a.id as string]),
        }));
      return { data: rows };
    }),
  );

  app.get(
    `${base}/:app_id`,
    route(async (req) => {
      const { db } = await accountScope(cb, req);
      const { app: doc } = await loadApp(cb, params(req).app_id!);
      const installed = ((await installs(cb.store, db)).apps ?? {}) as Obj;
      return {
        data: {
          ...publicDoc(doc),
          account_id: await masterAccountId(cb.store),
          ...installFields(installed[doc._id]),
        },
      };
    }),
  );

  const change = (mode: 'install' | 'update' | 'uninstall') =>
    route(async (req: FastifyRequest) => {
      const { account, db } = await accountScope(cb, req);
      const { app: doc } = await loadApp(cb, params(req).app_id!);
      const store = await installs(cb.store, db);
      const apps = { ...((store.apps ?? {}) as Obj) };
      const there = apps[doc._id] !== undefined;
      if (mode === 'install' && there) throw new CbError(400, 'Application already installed');
      if (mode !== 'install' && !there) throw new CbError(400, 'Application is not installed');
      if (mode === 'uninstall') delete apps[doc._id];
      else apps[doc._id] = { ...validateInstall(publicInput(requestData(req.body))), name: doc.name };
      await saving(() =>
        cb.store.save(
          db,
          withPvtTimes({
            ...store,
            _id: APPS_STORE_ID,
            apps,
            pvt_type: 'apps_store',
            pvt_account_id: account._id,
            pvt_account_db: accountDbName(account._id, 'encoded'),
          }),
        ),
      );
      cb.log.info({ account_id: account._id, app_id: doc._id, app: doc.name }, `crossbar: app ${mode}ed`);
      return { status: mode === 'install' ? 201 : 200, data: mode === 'uninstall' ? {} : apps[doc._id] };
    });
  app.put(`${base}/:app_id`, body('app_install', appInstallSchema), change('install'));
  app.post(`${base}/:app_id`, body('app_install', appInstallSchema), change('update'));
  app.delete(`${base}/:app_id`, change('uninstall'));

  const image = async (id: string, name: unknown) => {
    const { db, app: doc } = await loadApp(cb, id);
    const atts = (doc._attachments ?? {}) as Obj;
    if (typeof name !== 'string' || atts[name] === undefined) return undefined;
    return { name, att: await cb.store.getAttachment(db, doc._id, name) };
  };
  app.get(`${base}/:app_id/icon`, tokenFree, async (req, reply) => {
    const { app_id: id } = params(req);
    const found = await image(id!, (await loadApp(cb, id!)).app.icon);
    if (found === undefined) throw badIdentifier(id!);
    return sendAttachment(reply, found.att, found.name);
  });
  app.get(`${base}/:app_id/screenshot/:n`, tokenFree, async (req, reply) => {
    const { app_id: id, n } = params(req);
    const shots = (await loadApp(cb, id!)).app.screenshots;
    const i = Number(n);
    const name = Array.isArray(shots) && Number.isInteger(i) && i >= 0 ? shots[i] : undefined;
    const found = await image(id!, name);
    if (found === undefined) throw badIdentifier(`screenshot/${n}`);
    return sendAttachment(reply, found.att, found.name);
  });
}
