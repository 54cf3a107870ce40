/**
 * Kazoo's private timestamps on documents, as kz_doc:update_pvt_parameters and
 * crossbar_doc's add_pvt_created / add_pvt_modified set them: Gregorian seconds
 * (kz_time:now_s/0), `pvt_created` when the document is new, `pvt_modified` on every write.
 *
 * Contract
 * - `withPvtTimes(doc, now?)`: the document with `pvt_modified` = now (Gregorian seconds,
 *   default this second) and `pvt_created` = now when it has no `_rev` (a new document),
 *   else its own `pvt_created` read by `createdSeconds` (so a Unix value an earlier Fife
 *   stored is rewritten in Gregorian seconds on the next write), or now when it has none.
 *   Writers call it on the document they are about to save; the store itself stamps nothing
 *   (as Kazoo's kz_datamgr:save_doc does not).
 * - `createdSeconds(doc)` / `modifiedSeconds(doc)`: the document's `pvt_created` /
 *   `pvt_modified` in Gregorian seconds, a value below GREGORIAN_OFFSET_S taken as Unix
 *   seconds (an earlier Fife's); undefined when missing or not a number.
 */
import { asGregorianSeconds, gregorianSeconds } from '../api/time.ts';
import type { DocInput } from './document-store.ts';

export const createdSeconds = (doc: Readonly<Record<string, unknown>>): number | undefined =>
  asGregorianSeconds(doc.pvt_created);

export const modifiedSeconds = (doc: Readonly<Record<string, unknown>>): number | undefined =>
  asGregorianSeconds(doc.pvt_modified);

export function withPvtTimes<T extends DocInput>(
  doc: T,
  now: number = gregorianSeconds(),
): T & { pvt_created: number; pvt_modified: number } {
  const created = doc._rev === undefined ? now : (createdSeconds(doc) ?? now);
  return { ...doc, pvt_created: created, pvt_modified: now };
}
