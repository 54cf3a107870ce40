/**
 * Design documents an app brings, loaded or updated when the app starts (as Kazoo apps
 * refresh their views from priv/couchdb/views), and the system databases a node needs.
 *
 * Contract
 * - `readDesignDocs(folder)` reads every `*.json` file of a folder as a design document
 *   and checks its shape: `_id` is `_design/<name>`, `views` maps view names to
 *   {map: string, reduce?: string}. A bad file throws StoreError 'invalid' naming the file.
 * - `ensureDesignDocs(store, db, docs)` makes each design document in `db` equal to the
 *   given one: creates it when missing, replaces it when its views or language differ,
 *   leaves it alone otherwise (so an unchanged app start does not rebuild views). When
 *   another node updates the same document at the same moment (conflict) it re-reads and
 *   compares again, a few times, then fails with the conflict. It answers the ids it
 *   created, updated and left unchanged. The database must exist ('not_found' otherwise).
 * - `ensureSystemDbs(store, names = SYSTEM_DBS)` creates the system databases that are
 *   missing and answers the names it created.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEM_DBS } from './db-names.ts';
import { StoreError, isStoreError } from './store-error.ts';
import type { DesignDoc, DocumentStore, SavedDoc } from './document-store.ts';

export interface DesignDocReport {
  created: string[];
  updated: string[];
  unchanged: string[];
}

const ATTEMPTS = 3;

export function checkDesignDoc(doc: unknown, source: string): DesignDoc {
  const bad = (why: string): StoreError => new StoreError('invalid', `design document ${source}: ${why}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d._id !== 'string' || !/^_design\/[^/]+$/.test(d._id))
    throw bad(`_id must be "_design/<name>", got ${JSON.stringify(d._id)}`);
  if (typeof d.views !== 'object' || d.views === null || Array.isArray(d.views))
    throw bad('views must be an object');
  for (const [name, v] of Object.entries(d.views as Record<string, unknown>)) {
    const view = v as Record<string, unknown> | null;
    if (typeof view !== 'object' || view === null || typeof view.map !== 'string')
      throw bad(`view ${name} needs a map function as a string`);
    if (view.reduce !== undefined && typeof view.reduce !== 'string')
      throw bad(`view ${name}: reduce must be a string`);
  }
  return d as DesignDoc;
}

export function readDesignDocs(folder: string): DesignDoc[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(join(folder, f), 'utf8'));
      } catch (err) {
        throw new StoreError('invalid', `design document ${f}: not JSON (${(err as Error).message})`, {
          cause: err,
        });
      }
      return checkDesignDoc(parsed, f);
    });
}

function sameDesign(current: SavedDoc, wanted: DesignDoc): boolean {
  const lang = (d: Record<string, unknown>): unknown => d.language ?? 'javascript';
  return lang(current) === lang(wanted) && JSON.stringify(current.views) === JSON.stringify(wanted.views);
}

async function current(store: DocumentStore, db: string, id: string): Promise<SavedDoc | undefined> {
  try {
    return await store.get(db, id);
  } catch (err) {
    if (isStoreError(err, 'not_found') && err.reason !== 'no_db_file') return undefined;
    throw err;
  }
}

export async function ensureDesignDocs(
  store: DocumentStore,
  db: string,
  docs: readonly DesignDoc[],
): Promise<DesignDocReport> {
  if (!(await store.dbExists(db)))
    throw new StoreError('not_found', 'no_db_file', { op: 'ensureDesignDocs', database: db, status: 404 });
  const report: DesignDocReport = { created: [], updated: [], unchanged: [] };
  for (const raw of docs) {
    const wanted = checkDesignDoc(raw, raw._id);
    for (let attempt = 1; ; attempt++) {
      const now = await current(store, db, wanted._id);
      if (now !== undefined && sameDesign(now, wanted)) {
        report.unchanged.push(wanted._id);
        break;
      }
      const { _rev: _ignored, ...body } = wanted;
      try {
        await store.save(db, now === undefined ? body : { ...body, _rev: now._rev });
        (now === undefined ? report.created : report.updated).push(wanted._id);
        break;
      } catch (err) {
        if (!isStoreError(err, 'conflict') || attempt >= ATTEMPTS) throw err;
      }
    }
  }
  return report;
}

export async function ensureSystemDbs(
  store: DocumentStore,
  names: readonly string[] = SYSTEM_DBS,
): Promise<string[]> {
  const created: string[] = [];
  for (const name of names) if (await store.createDb(name)) created.push(name);
  return created;
}
