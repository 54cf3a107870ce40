/**
 * DocumentStore: the one interface both adapters (CouchDB through nano, embedded PouchDB)
 * implement, with CouchDB's semantics. The behaviour suite in test/store runs against both.
 *
 * Contract
 * - Database names are CouchDB names (`accounts`, `account/ab/cd/ef...`); the URL-encoded
 *   form Kazoo passes around (`account%2Fab%2Fcd%2Fef...`) is accepted too and means the
 *   same database. A name CouchDB would refuse rejects with StoreError 'invalid' before
 *   any I/O. A call on a database that does not exist rejects with 'not_found'
 *   (reason 'no_db_file'): no adapter creates a database implicitly.
 * - Databases: `createDb` resolves true when it created the database, false when it was
 *   already there; `deleteDb` true when it deleted one, false when there was none;
 *   `dbExists`; `listDbs` (the server's system databases `_users`/`_replicator` may appear).
 * - Documents: `get` resolves the current revision or rejects 'not_found' (reason
 *   'missing' or 'deleted'). `save` writes a document: a new id needs no `_rev`; an existing
 *   one needs its current `_rev`, otherwise 'conflict' and nothing is written. It resolves
 *   the saved document with its new `_rev`. `remove(db, id, rev)` deletes with the same rule.
 *   `bulkSave` writes many and answers per document, in order (a conflict on one does not
 *   stop the others). Document ids are non-empty strings; ids starting with `_` are
 *   refused ('invalid') except `_design/<name>`.
 * - Views: `view(db, 'ddoc/view', query)` queries a map (and optional reduce) view of a
 *   design document. Query options follow CouchDB (key, keys, startkey, endkey,
 *   inclusiveEnd, descending, limit, skip, includeDocs, reduce, group, groupLevel).
 *   A view with a reduce answers reduced rows unless `reduce: false`. Rows keep CouchDB's
 *   collation order. `allDocs(db, query)` is the built-in `_all_docs` view; with `keys`,
 *   unknown ids come back as rows with `error: 'not_found'`.
 * - Changes: `changes(db, {since, includeDocs, limit})` answers one page of the change
 *   feed after `since` ('0' = from the start, 'now' = nothing yet) and `lastSeq` to go on
 *   from. Sequences are opaque strings: store and pass them back, never parse or compare
 *   them. `follow(db, opts)` delivers changes as they happen until `stop()` (after
 *   `ready` resolves none is missed, including with since 'now'); when the
 *   store becomes unreachable it reports the error once through `onError`, keeps retrying
 *   with the kernel's backoff (FEED_BACKOFF unless the adapter's `backoff` option
 *   overrides it), and on recovery goes on from the last sequence it saw (no change lost).
 *   On a database that does not exist (or is deleted while followed) it reports
 *   'not_found' through `onError` and ends.
 * - Attachments (CouchDB's `PUT/GET/DELETE /db/doc/name`): `putAttachment(db, id, name,
 *   data, contentType, rev?)` stores bytes under a document and resolves its new revision.
 *   Without `rev` it creates the document (`{_id}` and the attachment) when there is none;
 *   a missing or stale `rev` on an existing document is 'conflict', nothing written; a
 *   `rev` for a document that does not exist is 'conflict' too. `getAttachment(db, id,
 *   name)` resolves `{data, contentType}` of the current revision, 'not_found' for a
 *   missing document or attachment. `removeAttachment(db, id, name, rev)` takes one away
 *   ('conflict' on a stale rev, 'not_found' when it is not there). Documents read back
 *   (get, include_docs, changes with docs) carry `_attachments` stubs `{content_type,
 *   length, digest ('md5-<base64>'), stub: true, revpos}`; saving a document keeps the
 *   attachments whose stubs it carries and drops the others (CouchDB's rule). Bad names,
 *   non-binary data, data over the adapter's `maxAttachmentBytes` and bad content types
 *   fail 'invalid' before any I/O (attachments.ts); so does `_attachments` in a saved
 *   document holding anything but stubs.
 * - Every failure is a StoreError (see store-error.ts). When the store is unreachable a
 *   call fails within the adapter's request timeout with code 'unavailable'.
 * - `close()` is idempotent; afterwards every call rejects with 'closed'.
 */
import type { BackoffPolicy } from '../kernel/backoff.ts';

export type Seq = string;

export interface Doc {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  [field: string]: unknown;
}

/** A document to write: `_id` may be left out (a new id is made). */
export interface DocInput {
  _id?: string;
  _rev?: string;
  _deleted?: boolean;
  [field: string]: unknown;
}

export interface SavedDoc extends Doc {
  _rev: string;
}

export interface SaveResult {
  readonly id: string;
  readonly rev: string;
}

export type BulkResult =
  | { readonly id: string; readonly ok: true; readonly rev: string }
  | { readonly id: string; readonly ok: false; readonly error: import('./store-error.ts').StoreError };

export interface ViewQuery {
  key?: unknown;
  keys?: unknown[];
  startkey?: unknown;
  endkey?: unknown;
  inclusiveEnd?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  includeDocs?: boolean;
  reduce?: boolean;
  group?: boolean;
  groupLevel?: number;
}

export type AllDocsQuery = Omit<ViewQuery, 'reduce' | 'group' | 'groupLevel'>;

export interface ViewRow {
  id?: string;
  key: unknown;
  value: unknown;
  doc?: SavedDoc | null;
  error?: string;
}

export interface ViewResult {
  rows: ViewRow[];
  totalRows?: number;
  offset?: number;
}

export interface Change {
  seq: Seq;
  id: string;
  rev: string;
  deleted: boolean;
  doc?: SavedDoc;
}

export interface ChangesQuery {
  since?: Seq;
  includeDocs?: boolean;
  limit?: number;
}

export interface ChangesPage {
  results: Change[];
  lastSeq: Seq;
}

export interface FollowOptions {
  since?: Seq;
  includeDocs?: boolean;
  onChange(change: Change): void;
  onError?(err: import('./store-error.ts').StoreError): void;
  /** Called once when the feed is running again after an error. */
  onRecover?(): void;
}

/** Retries of a failed change feed: 100 ms doubling to 5 s, up to 20 % taken off at random. */
export const FEED_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };

export interface ChangeSubscription {
  /** The last sequence delivered (or the starting point). */
  readonly lastSeq: Seq;
  /**
   * Resolves once the feed is established: 'now' has been pinned to a sequence, so every
   * change made after this resolves will be delivered. Also resolves when the feed first
   * fails (after onError was called) and on stop(). Never rejects.
   */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** What a document read back says of one attachment (CouchDB's stub). */
export interface AttachmentStub {
  content_type: string;
  length: number;
  digest: string;
  stub: true;
  revpos?: number;
}

export interface Attachment {
  data: Buffer;
  contentType: string;
}

export interface DesignDoc extends Doc {
  language?: string;
  views: Record<string, { map: string; reduce?: string }>;
}

export interface DocumentStore {
  readonly kind: 'couchdb' | 'embedded';
  /** Where the data is, safe to log: no credentials. */
  readonly location: string;

  createDb(db: string): Promise<boolean>;
  dbExists(db: string): Promise<boolean>;
  deleteDb(db: string): Promise<boolean>;
  listDbs(): Promise<string[]>;

  get(db: string, id: string): Promise<SavedDoc>;
  save(db: string, doc: DocInput): Promise<SavedDoc>;
  remove(db: string, id: string, rev: string): Promise<SaveResult>;
  bulkSave(db: string, docs: DocInput[]): Promise<BulkResult[]>;

  putAttachment(
    db: string,
    id: string,
    name: string,
    data: Uint8Array,
    contentType: string,
    rev?: string,
  ): Promise<SaveResult>;
  getAttachment(db: string, id: string, name: string): Promise<Attachment>;
  removeAttachment(db: string, id: string, name: string, rev: string): Promise<SaveResult>;

  view(db: string, view: string, query?: ViewQuery): Promise<ViewResult>;
  allDocs(db: string, query?: AllDocsQuery): Promise<ViewResult>;

  changes(db: string, query?: ChangesQuery): Promise<ChangesPage>;
  follow(db: string, opts: FollowOptions): ChangeSubscription;

  close(): Promise<void>;
}
