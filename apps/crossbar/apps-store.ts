/**
 * The apps store's data (Kazoo 4.3's cb_apps_store, cb_apps_util and
 * crossbar_maintenance:init_apps): the browser apps a platform offers live in the master
 * account's database as documents of pvt_type `app` (a client's `metadata/app.json`, its
 * icon and screenshots as attachments); what each account installed lives in the
 * account's own database, document `apps_store`, `apps: {<app id>: {name, allowed_users,
 * users}}`.
 *
 * Contract
 * - `masterAccountId(store)`: the account with no parent, the superduper admin's when
 *   several (Kazoo's master account); undefined when there is none.
 * - `storeApps(store)`: the master database's apps, by name.
 * - `installs(store, db)` / `saveInstalls(...)`: an account's `apps_store` document
 *   (an empty one when none was written).
 * - `initApps(store, dir, {apiUrl})`: registers every `dir/<app>/metadata/app.json`: a
 *   new name becomes a new document (without `source_url`, as Kazoo), a known one gets
 *   the keys that changed; the icon (`metadata/icon/<icon>`, or `icons/`) and each
 *   screenshot (`metadata/screenshots/<name>`) replace the attachments of those names;
 *   `apiUrl` sets every app's `api_url` (without it, the metadata's `api_url` is ignored,
 *   as Kazoo ignores it). Answers what it did per app; an app whose
 *   metadata is missing, not JSON or not valid (appSchema) is reported and skipped, the
 *   others still load; an image file missing is reported, the app kept.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import {
  ACCOUNTS_DB,
  accountDbName,
  isStoreError,
  newDocId,
  type DocumentStore,
  type SavedDoc,
  withPvtTimes,
} from '../../src/store/index.ts';
import { gregorianSeconds } from '../../src/api/time.ts';
import { Databases } from './databases.ts';
import { publicInput } from './docs.ts';
import { CbError } from './errors.ts';
import { appSchema } from './schemas.ts';
import { validator } from './validate.ts';

type Obj = Record<string, unknown>;
export const APPS_STORE_ID = 'apps_store';
const validateApp = validator(appSchema);

export async function masterAccountId(store: DocumentStore): Promise<string | undefined> {
  const rows = (await store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_roots', {})).rows;
  return rows.sort((a, b) => Number(a.key) - Number(b.key) || String(a.id).localeCompare(String(b.id)))[0]
    ?.id;
}

export async function masterDb(store: DocumentStore, dbs: Databases): Promise<string | undefined> {
  const id = await masterAccountId(store);
  if (id === undefined) return undefined;
  const db = accountDbName(id, 'encoded');
  await dbs.account(db);
  return db;
}

export async function storeApps(store: DocumentStore, db: string): Promise<Obj[]> {
  return (await store.view(db, 'crossbar_listings/apps_store', {})).rows.map((r) => r.value as Obj);
}

export async function installs(store: DocumentStore, db: string): Promise<Obj> {
  try {
    return await store.get(db, APPS_STORE_ID);
  } catch (err) {
    if (isStoreError(err, 'not_found')) return { _id: APPS_STORE_ID, pvt_type: 'apps_store', apps: {} };
    throw err;
  }
}

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.webp': 'image/webp',
};

export interface InitAppsReport {
  app: string;
  result: 'created' | 'updated' | 'unchanged' | 'failed';
  id?: string;
  error?: string;
  images?: string[];
  missing?: string[];
}

async function readMetadata(appDir: string): Promise<Obj> {
  const text = await readFile(join(appDir, 'metadata', 'app.json'), 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`metadata/app.json is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('metadata/app.json is not a JSON object');
  try {
    return validateApp(publicInput(json as Obj));
  } catch (err) {
    if (err instanceof CbError)
      throw new Error(`metadata/app.json is not valid: ${JSON.stringify(err.data)}`, { cause: err });
    throw err;
  }
}

async function firstFile(paths: string[]): Promise<Buffer | undefined> {
  for (const p of paths) {
    try {
      return await readFile(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function initApps(
  store: DocumentStore,
  dir: string,
  opts: { apiUrl?: string } = {},
): Promise<InitAppsReport[]> {
  const dbs = new Databases(store);
  await dbs.system();
  const db = await masterDb(store, dbs);
  if (db === undefined) throw new Error('there is no master account yet: create one with `fife account add`');
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
  const known = new Map((await storeApps(store, db)).map((a) => [a.name as string, a.id as string]));
  const out: InitAppsReport[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const appDir = join(dir, e.name);
    let meta: Obj;
    try {
      meta = await readMetadata(appDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // not an app folder
      out.push({ app: e.name, result: 'failed', error: (err as Error).message });
      continue;
    }
    // As Kazoo: without a URL the metadata's own api_url is not used (a stored one stays).
    if (opts.apiUrl !== undefined) meta.api_url = opts.apiUrl;
    else delete meta.api_url;
    const name = meta.name as string;
    const t = gregorianSeconds();
    let doc: SavedDoc;
    let result: InitAppsReport['result'];
    const existingId = known.get(name);
    if (existingId === undefined) {
      const { source_url: _src, ...body } = meta;
      doc = await store.save(
        db,
        withPvtTimes({ ...body, _id: newDocId(), pvt_type: 'app', pvt_account_db: db, pvt_vsn: '1' }, t),
      );
      known.set(name, doc._id);
      result = 'created';
    } else {
      const current = await store.get(db, existingId);
      const changed = Object.entries(meta).filter(([k, v]) => k !== 'source_url' && !sameJson(current[k], v));
      doc =
        changed.length === 0
          ? current
          : await store.save(db, withPvtTimes({ ...current, ...Object.fromEntries(changed) }, t));
      result = changed.length === 0 ? 'unchanged' : 'updated';
    }
    const wanted: Array<[string, string[]]> = [];
    if (typeof meta.icon === 'string')
      wanted.push([
        meta.icon,
        [join(appDir, 'metadata', 'icon', meta.icon), join(appDir, 'metadata', 'icons', meta.icon)],
      ]);
    for (const s of (meta.screenshots as string[] | undefined) ?? [])
      wanted.push([s, [join(appDir, 'metadata', 'screenshots', s)]]);
    const images: string[] = [];
    const missing: string[] = [];
    let rev = doc._rev;
    for (const [file, paths] of wanted) {
      const bytes = await firstFile(paths);
      if (bytes === undefined) {
        missing.push(file);
        continue;
      }
      const type = IMAGE_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      rev = (await store.putAttachment(db, doc._id, file, bytes, type, rev)).rev;
      images.push(file);
    }
    out.push({
      app: name,
      result,
      id: doc._id,
      images,
      ...(missing.length > 0 ? { missing } : {}),
    });
  }
  return out;
}

/**
 * The apps a user of an account may open (Kazoo's `apps` in a user_auth answer, which
 * Monster UI shows): the account's installs whose `allowed_users` is `all`, `admins` for
 * a user with `priv_level: admin`, or `specific` naming the user in `users`; each as
 * `{id, name, api_url, source_url, label, i18n}` (`label` the en-US one) from the master
 * account's app, when it is still there and published.
 */
export async function userApps(store: DocumentStore, dbs: Databases, db: string, user: Obj): Promise<Obj[]> {
  const apps = ((await installs(store, db)).apps ?? {}) as Record<string, Obj>;
  const ids = Object.keys(apps);
  if (ids.length === 0) return [];
  const mdb = await masterDb(store, dbs);
  if (mdb === undefined) return [];
  const offered = new Map((await storeApps(store, mdb)).map((a) => [a.id as string, a]));
  const out: Obj[] = [];
  for (const id of ids) {
    const install = apps[id]!;
    const app = offered.get(id);
    if (app === undefined || app.published === false) continue;
    const who = install.allowed_users;
    const users = Array.isArray(install.users) ? (install.users as Obj[]) : [];
    const allowed =
      who === 'all' ||
      (who === 'admins' && user.priv_level === 'admin') ||
      (who === 'specific' && users.some((u) => u.id === user._id));
    if (!allowed) continue;
    const i18n = (app.i18n ?? {}) as Record<string, Obj>;
    out.push({
      id,
      name: app.name,
      api_url: app.api_url,
      source_url: app.source_url,
      label: i18n['en-US']?.label,
      i18n,
    });
  }
  return out;
}
