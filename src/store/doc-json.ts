/**
 * Input checks for documents, shared by both adapters so that they refuse the same things.
 *
 * Contract
 * - `prepareDoc(doc, db)` returns a deep JSON copy of a document that is safe to write:
 *   a plain object (not an array, not null), JSON-serialisable (no cycles, no BigInt), with
 *   a valid id (checkDocId). A document without `_id` gets a new 32-hex id, as CouchDB
 *   would give it. `_rev`, when present, must be a string; `_attachments`, when present,
 *   only stubs (attachments.ts). Anything else: StoreError 'invalid'.
 * - `newDocId()` makes such an id.
 */
import { randomUUID } from 'node:crypto';
import { checkAttachmentStubs } from './attachments.ts';
import { checkDocId } from './db-names.ts';
import { StoreError } from './store-error.ts';
import type { Doc } from './document-store.ts';

export function newDocId(): string {
  return randomUUID().replace(/-/g, '');
}

export function prepareDoc(doc: unknown, database: string): Doc {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new StoreError(
      'invalid',
      `a document must be a JSON object, got ${Array.isArray(doc) ? 'an array' : typeof doc}`,
      { database },
    );
  }
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(doc));
  } catch (err) {
    throw new StoreError('invalid', `document is not JSON-serialisable: ${(err as Error).message}`, {
      database,
      cause: err,
    });
  }
  const out = copy as Doc;
  if (out._id === undefined) out._id = newDocId();
  checkDocId(out._id, database);
  if (out._rev !== undefined && typeof out._rev !== 'string') {
    throw new StoreError('invalid', `_rev must be a string, got ${JSON.stringify(out._rev)}`, {
      database,
      id: out._id,
    });
  }
  checkAttachmentStubs(out, database);
  return out;
}
