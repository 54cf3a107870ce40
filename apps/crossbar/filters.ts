/**
 * Kazoo 4.3's listing filters (crossbar_filter), tested on each listed row's whole stored
 * document, before paging:
 *
 * - `filter_<key>=v`: the value at `key` (dots name nested keys: `filter_sip.username`)
 *   as text equals `v` (a number or boolean compares as its text, a missing key as ""),
 *   or `v` is a JSON list holding that value (`filter_name=["a","b"]`);
 *   `filter_not_<key>=v` is its negation.
 * - `has_key=k` / `key_missing=k`: `k` is (not) set; `has_value=k`: set and not empty
 *   ("", [], {}).
 * - `created_from` / `created_to` / `modified_from` / `modified_to`: `pvt_created` /
 *   `pvt_modified` at or after / at or before the bound, both in Gregorian seconds as
 *   Kazoo stores them and Monster sends them (kz_time:now_s). A stored value below
 *   GREGORIAN_OFFSET_S is an earlier Fife's Unix seconds and is converted before the
 *   comparison; so is such a bound (read as Gregorian it would be a date before 1970, which
 *   no document has).
 *
 * `docFilter(query)` answers undefined when the query names no filter (Kazoo's
 * is_defined), else the predicate: every filter must hold; a filter that cannot be
 * applied (a value that is an object, a bad number) excludes the document.
 */
import { asGregorianSeconds } from '../../src/api/time.ts';

type Obj = Record<string, unknown>;

const FILTER_KEY =
  /^(filter_|has_key|key_missing|has_value|created_from$|created_to$|modified_from$|modified_to$)/;

function valueAt(doc: unknown, dotted: string): unknown {
  let v: unknown = doc;
  for (const k of dotted.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Obj)[k];
  }
  return v;
}

function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function matches(doc: Obj, key: string, wanted: string): boolean {
  const have = asText(valueAt(doc, key));
  if (have === undefined) return false;
  if (have === wanted) return true;
  try {
    const list: unknown = JSON.parse(wanted);
    return Array.isArray(list) && list.some((x) => asText(x) === have && x !== null);
  } catch {
    return false;
  }
}

const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

function bound(doc: Obj, field: string, given: string, lower: boolean): boolean {
  const limit = asGregorianSeconds(given);
  const at = asGregorianSeconds(doc[field]);
  if (limit === undefined || at === undefined) return false;
  return lower ? at >= limit : at <= limit;
}

function holds(doc: Obj, key: string, value: string): boolean {
  if (key.startsWith('filter_not_')) return !matches(doc, key.slice('filter_not_'.length), value);
  if (key.startsWith('filter_')) return matches(doc, key.slice('filter_'.length), value);
  switch (key) {
    case 'has_key':
      return valueAt(doc, value) !== undefined;
    case 'key_missing':
      return valueAt(doc, value) === undefined;
    case 'has_value':
      return !isEmpty(valueAt(doc, value));
    case 'created_from':
      return bound(doc, 'pvt_created', value, true);
    case 'created_to':
      return bound(doc, 'pvt_created', value, false);
    case 'modified_from':
      return bound(doc, 'pvt_modified', value, true);
    case 'modified_to':
      return bound(doc, 'pvt_modified', value, false);
    default:
      return true;
  }
}

export function docFilter(query: Record<string, unknown>): ((doc: Obj) => boolean) | undefined {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(query)) {
    if (!FILTER_KEY.test(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) pairs.push([k, String(one)]);
  }
  if (pairs.length === 0) return undefined;
  return (doc) => pairs.every(([k, v]) => holds(doc, k, v));
}
