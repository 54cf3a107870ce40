/**
 * Kazoo's paged listings over a view: `page_size` rows (default from settings, Kazoo's
 * 50), from `start_key`; the envelope gets `page_size` (rows answered), `start_key` and,
 * when more rows follow, `next_start_key` to ask for the next page. `paginate=false`
 * answers every row, without paging keys.
 *
 * Views are keyed by the listed document's id, or by `[prefix, id]` (an account's
 * children / descendants); the keys clients see are the ids.
 *
 * Kazoo's listing filters (`filter_<key>`, `has_key`, ..., filters.ts) are tested on each
 * row's whole stored document before paging: a page holds `page_size` rows that pass.
 */
import type { DocumentStore } from '../../src/store/index.ts';
import { fieldError } from './errors.ts';
import { docFilter } from './filters.ts';

export interface Page {
  data: unknown[];
  paging: Record<string, unknown>;
}

export async function listPage(
  store: DocumentStore,
  db: string,
  view: string,
  query: Record<string, unknown>,
  defaultSize: number,
  prefix?: string,
): Promise<Page> {
  const paginate = query.paginate !== 'false';
  let size = defaultSize;
  if (query.page_size !== undefined) {
    size = Number(query.page_size);
    if (!Number.isInteger(size) || size < 1)
      throw fieldError('page_size', 'minimum', 'page_size must be a positive integer', {
        value: query.page_size,
        target: 1,
      });
  }
  const start = typeof query.start_key === 'string' ? query.start_key : undefined;
  const from = start ?? (prefix === undefined ? undefined : '');
  const keep = docFilter(query);
  const found = (
    await store.view(db, view, {
      ...(from === undefined ? {} : { startkey: prefix === undefined ? from : [prefix, from] }),
      ...(prefix === undefined ? {} : { endkey: [prefix, {}] }),
      ...(paginate && keep === undefined ? { limit: size + 1 } : {}),
      ...(keep === undefined ? {} : { includeDocs: true }),
    })
  ).rows;
  const rows =
    keep === undefined
      ? found
      : found.filter((r) => r.doc !== undefined && r.doc !== null && keep(r.doc as Record<string, unknown>));
  const keyOf = (k: unknown): unknown => (prefix === undefined ? k : (k as unknown[])[1]);
  const page = paginate ? rows.slice(0, size) : rows;
  const data = page.map((r) => r.value);
  if (!paginate) return { data, paging: {} };
  const paging: Record<string, unknown> = { page_size: page.length };
  if (start !== undefined) paging.start_key = start;
  else if (page.length > 0) paging.start_key = keyOf(page[0]!.key);
  if (rows.length > size) paging.next_start_key = keyOf(rows[size]!.key);
  return { data, paging };
}
