/**
 * Translation between the store interface's camelCase shapes and CouchDB's wire shapes,
 * shared by both adapters (PouchDB takes and answers the same shapes as CouchDB's HTTP API).
 *
 * Contract
 * - `viewParams(query)` gives CouchDB query parameters (include_docs, inclusive_end,
 *   group_level, ...) with undefined options left out; unknown or ill-typed options throw
 *   StoreError 'invalid' (limit/skip must be non-negative integers).
 * - `toViewResult(raw)` and `toChange(raw)` normalise answers: sequences become strings,
 *   rows keep id/key/value/doc/error, `totalRows`/`offset` are kept when the server sent them.
 * - `toBulkResults(raw, docs)` pairs each per-document answer with its StoreError.
 */
import { StoreError, toStoreError } from './store-error.ts';
import type { BulkResult, Change, Doc, SavedDoc, ViewQuery, ViewResult, ViewRow } from './document-store.ts';

const PARAMS: Record<keyof ViewQuery, string> = {
  key: 'key',
  keys: 'keys',
  startkey: 'startkey',
  endkey: 'endkey',
  inclusiveEnd: 'inclusive_end',
  descending: 'descending',
  limit: 'limit',
  skip: 'skip',
  includeDocs: 'include_docs',
  reduce: 'reduce',
  group: 'group',
  groupLevel: 'group_level',
};

const BOOLEAN_OPTS = new Set(['inclusiveEnd', 'descending', 'includeDocs', 'reduce', 'group']);
const COUNT_OPTS = new Set(['limit', 'skip', 'groupLevel']);

export function viewParams(
  query: ViewQuery,
  context: { database: string; view: string },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const param = PARAMS[name as keyof ViewQuery];
    const bad = (why: string): StoreError =>
      new StoreError('invalid', `view option ${name} ${why}`, {
        op: 'view',
        database: context.database,
        id: context.view,
      });
    if (param === undefined) throw bad('is not a known option');
    if (BOOLEAN_OPTS.has(name) && typeof value !== 'boolean') throw bad('must be a boolean');
    if (COUNT_OPTS.has(name) && !(Number.isInteger(value) && (value as number) >= 0))
      throw bad('must be a non-negative integer');
    if (name === 'keys' && !Array.isArray(value)) throw bad('must be an array');
    out[param] = value;
  }
  return out;
}

interface RawRow {
  id?: string;
  key: unknown;
  value: unknown;
  doc?: SavedDoc | null;
  error?: string;
}

export function toViewResult(raw: { rows?: RawRow[]; total_rows?: number; offset?: number }): ViewResult {
  const rows: ViewRow[] = (raw.rows ?? []).map((r) => {
    const row: ViewRow = { key: r.key, value: r.value };
    if (r.id !== undefined) row.id = r.id;
    if (r.doc !== undefined) row.doc = r.doc;
    if (r.error !== undefined) row.error = r.error;
    return row;
  });
  const out: ViewResult = { rows };
  if (typeof raw.total_rows === 'number') out.totalRows = raw.total_rows;
  if (typeof raw.offset === 'number') out.offset = raw.offset;
  return out;
}

interface RawChange {
  seq: unknown;
  id: string;
  changes?: Array<{ rev: string }>;
  deleted?: boolean;
  doc?: SavedDoc;
}

export function toChange(raw: RawChange): Change {
  const change: Change = {
    seq: String(raw.seq),
    id: raw.id,
    rev: raw.changes?.[0]?.rev ?? '',
    deleted: raw.deleted === true,
  };
  if (raw.doc !== undefined && raw.doc !== null) change.doc = raw.doc;
  return change;
}

interface RawBulk {
  id?: string;
  rev?: string;
  ok?: boolean;
  error?: unknown;
  reason?: string;
  status?: number;
  name?: string;
  message?: string;
}

export function toBulkResults(raw: RawBulk[], docs: Doc[], database: string): BulkResult[] {
  return inRequestOrder(raw, docs).map((r, i) => {
    const id = r.id ?? docs[i]?._id ?? '';
    if (r.error === undefined && typeof r.rev === 'string') return { id, ok: true as const, rev: r.rev };
    const status = r.status ?? (r.error === 'conflict' ? 409 : r.error === 'not_found' ? 404 : 400);
    const error = toStoreError(
      {
        statusCode: status,
        error: typeof r.error === 'string' ? r.error : r.name,
        reason: r.reason ?? r.message,
      },
      { op: 'bulkSave', database, id },
    );
    return { id, ok: false as const, error };
  });
}

/**
 * CouchDB answers _bulk_docs rows in request order; pouchdb-server does not always (a
 * conflict row can come last). Rows are put back in the order of the documents sent,
 * matched by id (every document sent has one); a row that cannot be matched keeps its
 * position.
 */
function inRequestOrder(raw: RawBulk[], docs: Doc[]): RawBulk[] {
  if (raw.length !== docs.length || raw.every((r, i) => r.id === docs[i]!._id)) return raw;
  const byId = new Map<string, RawBulk[]>();
  for (const r of raw) if (r.id !== undefined) (byId.get(r.id) ?? byId.set(r.id, []).get(r.id)!).push(r);
  return docs.map((d, i) => byId.get(d._id)?.shift() ?? raw[i]!);
}
