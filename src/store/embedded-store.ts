/**
 * EmbeddedStore: the DocumentStore of a single node with nothing installed (the default of
 * `fife start`). It rests on PouchDB (LevelDB on disk, map/reduce views, change feed), which
 * already has CouchDB's document semantics: revisions, 409 on a stale revision, design-doc
 * views with CouchDB collation, _all_docs, sequences.
 *
 * Contract (beyond document-ts)
 * - Data lives under `dir`: one LevelDB folder per database, named by the URL-encoded
 *   database name (`account%2Fab%2Fcd%2F...`), plus PouchDB's `<name>-mrview-<hash>` view
 *   indexes. Everything survives a restart of the process.
 * - A database exists when its folder exists; PouchDB's habit of creating a database on
 *   first open is fenced off, so a call on a missing database fails 'not_found' like CouchDB.
 * - One process owns a folder at a time (LevelDB takes a lock); a second opener gets
 *   'unavailable' with LevelDB's lock message. Operator commands go through the running node.
 * - Sequences are PouchDB's counters turned into strings; treat them as opaque.
 * - Views are built on first query and updated incrementally, as in CouchDB. Grouping or
 *   reduce=true on a map-only view fails 'invalid' as on CouchDB (PouchDB would ignore it).
 * - A live feed that errors is restarted from its last sequence after the kernel's backoff
 *   (`backoff` over FEED_BACKOFF); the delays start again from the first once a change
 *   comes through.
 * - `close()` closes every open database; it is idempotent.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../kernel/backoff.ts';
import type { Logger } from '../kernel/log.ts';
import { checkAttachmentName, checkAttachmentPut, checkMaxBytes } from './attachments.ts';
import { canonicalDbName, checkDocId } from './db-names.ts';
import { prepareDoc } from './doc-json.ts';
import { StoreError, toStoreError } from './store-error.ts';
import { pouchDb, type PouchChangesFeed, type PouchDatabase } from './pouch-loader.ts';
import { toBulkResults, toChange, toViewResult, viewParams } from './wire-rows.ts';
import type {
  AllDocsQuery,
  Attachment,
  AttachmentStub,
  BulkResult,
  DocInput,
  ChangeSubscription,
  ChangesPage,
  ChangesQuery,
  DocumentStore,
  FollowOptions,
  SaveResult,
  SavedDoc,
  ViewQuery,
  ViewResult,
} from './document-store.ts';
import { FEED_BACKOFF } from './document-store.ts';

const MRVIEW = /-mrview-[0-9a-f]{32}$/;

export interface EmbeddedStoreOptions {
  dir: string;
  logger: Logger;
  /** Change-feed restart delays; what is left out comes from FEED_BACKOFF. A bad value throws here. */
  backoff?: Partial<BackoffPolicy>;
  /** Largest attachment putAttachment takes (default DEFAULT_MAX_ATTACHMENT_BYTES, 32 MiB). */
  maxAttachmentBytes?: number;
}

export class EmbeddedStore implements DocumentStore {
  readonly kind = 'embedded' as const;
  readonly location: string;
  private readonly dir: string;
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly maxAttachmentBytes: number;
  private readonly open = new Map<string, PouchDatabase>();
  private readonly feeds = new Set<ChangeSubscription>();
  private closed = false;

  constructor(opts: EmbeddedStoreOptions) {
    this.dir = opts.dir;
    this.location = opts.dir;
    this.log = opts.logger.child({ store: 'embedded' });
    this.backoff = backoffPolicy(opts.backoff, FEED_BACKOFF);
    this.maxAttachmentBytes = checkMaxBytes(opts.maxAttachmentBytes);
    mkdirSync(this.dir, { recursive: true });
  }

  async createDb(db: string): Promise<boolean> {
    const name = this.name(db, 'createDb');
    if (this.exists(name)) return false;
    await this.run('createDb', { database: name }, () => this.handle(name).info());
    this.log.info({ db: name }, 'database created');
    return true;
  }

  async dbExists(db: string): Promise<boolean> {
    return this.exists(this.name(db, 'dbExists'));
  }

  async deleteDb(db: string): Promise<boolean> {
    const name = this.name(db, 'deleteDb');
    if (!this.exists(name)) return false;
    const handle = this.handle(name);
    this.open.delete(name);
    await this.run('deleteDb', { database: name }, () => handle.destroy());
    this.log.info({ db: name }, 'database deleted');
    return true;
  }

  async listDbs(): Promise<string[]> {
    this.assertOpen('listDbs');
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !MRVIEW.test(e.name))
      .map((e) => decodeURIComponent(e.name))
      .sort();
  }

  async get(db: string, id: string): Promise<SavedDoc> {
    const ctx = { op: 'get', database: db, id };
    const pouch = this.existing(db, 'get');
    checkDocId(id, db);
    return (await this.run('get', ctx, () => pouch.get(id))) as SavedDoc;
  }

  async save(db: string, doc: DocInput): Promise<SavedDoc> {
    const pouch = this.existing(db, 'save');
    const body = prepareDoc(doc, db);
    const res = await this.run('save', { database: db, id: body._id }, () => pouch.put(body));
    return { ...body, _rev: res.rev };
  }

  async remove(db: string, id: string, rev: string): Promise<SaveResult> {
    const pouch = this.existing(db, 'remove');
    checkDocId(id, db);
    if (typeof rev !== 'string' || rev.length === 0)
      throw new StoreError('invalid', 'remove needs the current _rev', { op: 'remove', database: db, id });
    const res = await this.run('remove', { database: db, id }, () => pouch.remove(id, rev));
    return { id: res.id, rev: res.rev };
  }

  async bulkSave(db: string, docs: DocInput[]): Promise<BulkResult[]> {
    const pouch = this.existing(db, 'bulkSave');
    if (!Array.isArray(docs))
      throw new StoreError('invalid', 'bulkSave takes an array of documents', { database: db });
    const bodies = docs.map((d) => prepareDoc(d, db));
    const raw = await this.run('bulkSave', { database: db }, () => pouch.bulkDocs(bodies));
    return toBulkResults(raw, bodies, db);
  }

  async putAttachment(
    db: string,
    id: string,
    name: string,
    data: Uint8Array,
    contentType: string,
    rev?: string,
  ): Promise<SaveResult> {
    const att = checkAttachmentPut(
      { database: this.name(db, 'putAttachment'), id, name, data, contentType, rev },
      this.maxAttachmentBytes,
    );
    const pouch = this.existing(db, 'putAttachment');
    const ctx = { database: db, id };
    return this.run('putAttachment', ctx, async () => {
      const current = await currentDoc(pouch, id);
      // PouchDB's own putAttachment would create a document for a rev it does not have; CouchDB refuses.
      if (current === undefined ? rev !== undefined : current._rev !== rev)
        throw new StoreError('conflict', 'Document update conflict.', { ...ctx, status: 409 });
      const doc = current ?? { _id: id };
      const atts = (doc._attachments ?? {}) as Record<string, unknown>;
      doc._attachments = { ...atts, [att.name]: { content_type: att.contentType, data: att.data } };
      const res = await pouch.put(doc);
      return { id, rev: res.rev };
    });
  }

  async getAttachment(db: string, id: string, name: string): Promise<Attachment> {
    checkDocId(id, this.name(db, 'getAttachment'));
    checkAttachmentName(name, { database: db, id });
    const pouch = this.existing(db, 'getAttachment');
    const ctx = { database: db, id };
    return this.run('getAttachment', ctx, async () => {
      const doc = await pouch.get(id);
      const stub = stubOf(doc, name, { op: 'getAttachment', ...ctx });
      const data = await pouch.getAttachment(id, name, { rev: doc._rev as string });
      return { data: Buffer.isBuffer(data) ? data : Buffer.from(data), contentType: stub.content_type };
    });
  }

  async removeAttachment(db: string, id: string, name: string, rev: string): Promise<SaveResult> {
    checkDocId(id, this.name(db, 'removeAttachment'));
    checkAttachmentName(name, { database: db, id });
    const pouch = this.existing(db, 'removeAttachment');
    const ctx = { database: db, id };
    if (typeof rev !== 'string' || rev.length === 0)
      throw new StoreError('invalid', 'removeAttachment needs the current _rev', ctx);
    return this.run('removeAttachment', ctx, async () => {
      const doc = await pouch.get(id);
      if (doc._rev !== rev)
        throw new StoreError('conflict', 'Document update conflict.', { ...ctx, status: 409 });
      stubOf(doc, name, { op: 'removeAttachment', ...ctx });
      const { [name]: _gone, ...rest } = doc._attachments as Record<string, unknown>;
      if (Object.keys(rest).length === 0) delete doc._attachments;
      else doc._attachments = rest;
      const res = await pouch.put(doc);
      return { id, rev: res.rev };
    });
  }

  async view(db: string, view: string, query: ViewQuery = {}): Promise<ViewResult> {
    const pouch = this.existing(db, 'view');
    if (typeof view !== 'string' || !/^[^/]+\/[^/]+$/.test(view)) {
      throw new StoreError('invalid', `view must be 'design/view', got ${JSON.stringify(view)}`, {
        op: 'view',
        database: db,
      });
    }
    const params = viewParams(query, { database: db, view });
    if (query.group === true || query.groupLevel !== undefined || query.reduce === true)
      await this.assertReduce(pouch, db, view);
    const raw = await this.run('view', { database: db, id: view }, () => pouch.query(view, params));
    return toViewResult(raw);
  }

  async allDocs(db: string, query: AllDocsQuery = {}): Promise<ViewResult> {
    const pouch = this.existing(db, 'allDocs');
    const params = viewParams(query, { database: db, view: '_all_docs' });
    const raw = await this.run('allDocs', { database: db }, () => pouch.allDocs(params));
    return toViewResult(raw);
  }

  async changes(db: string, query: ChangesQuery = {}): Promise<ChangesPage> {
    const pouch = this.existing(db, 'changes');
    const opts: Record<string, unknown> = {
      since: pouchSeq(query.since ?? '0'),
      include_docs: query.includeDocs === true,
    };
    if (query.limit !== undefined) opts.limit = query.limit;
    const raw = await this.run('changes', { database: db }, () => pouch.changes(opts));
    return { results: raw.results.map((r) => toChange(r as never)), lastSeq: String(raw.last_seq) };
  }

  follow(db: string, opts: FollowOptions): ChangeSubscription {
    const name = this.name(db, 'follow');
    if (!this.exists(name))
      return endedFeed(
        new StoreError('not_found', 'no_db_file', { op: 'follow', database: name, status: 404 }),
        opts,
      );
    const pouch = this.handle(name);
    const { backoff, feeds, log } = this;
    let since = opts.since ?? 'now';
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    let feed: PouchChangesFeed | undefined;
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const start = (): void => {
      const live = pouch.changes({
        live: true,
        since: pouchSeq(since),
        include_docs: opts.includeDocs === true,
      });
      feed = live;
      live.on('change', (raw: Record<string, unknown>) => {
        const change = toChange(raw as never);
        since = change.seq;
        failures = 0;
        try {
          opts.onChange(change);
        } catch (err) {
          log.error({ err, db: name, id: change.id }, 'change handler threw; feed goes on');
        }
      });
      live.on('error', (err: unknown) => {
        if (stopped) return;
        opts.onError?.(toStoreError(err, { op: 'follow', database: name }));
        timer = setTimeout(
          () => {
            if (!stopped) {
              start();
              opts.onRecover?.();
            }
          },
          backoffDelay(failures++, backoff),
        );
      });
    };
    // Pin 'now' to a sequence first, so that nothing written after `ready` is missed.
    const pinned =
      since === 'now'
        ? pouch.info().then((i) => {
            since = String(i.update_seq);
          })
        : Promise.resolve();
    pinned.then(
      () => {
        if (!stopped) start();
        markReady();
      },
      (err: unknown) => {
        opts.onError?.(toStoreError(err, { op: 'follow', database: name }));
        markReady();
      },
    );
    const sub: ChangeSubscription = {
      get lastSeq() {
        return since;
      },
      ready,
      async stop() {
        if (stopped) return;
        stopped = true;
        markReady();
        clearTimeout(timer);
        feed?.cancel();
        feeds.delete(sub);
      },
    };
    this.feeds.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.feeds].map((f) => f.stop()));
    const handles = [...this.open.values()];
    this.open.clear();
    const results = await Promise.allSettled(handles.map((h) => h.close()));
    for (const r of results)
      if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'closing a database failed');
    this.log.info({ dir: this.dir }, 'embedded store closed');
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new StoreError('closed', 'the store is closed', { op });
  }

  private name(db: string, op: string): string {
    this.assertOpen(op);
    return canonicalDbName(db);
  }

  private exists(name: string): boolean {
    return this.open.has(name) || existsSync(join(this.dir, encodeURIComponent(name)));
  }

  private handle(name: string): PouchDatabase {
    let h = this.open.get(name);
    if (h === undefined) {
      h = pouchDb(encodeURIComponent(name), this.dir);
      this.open.set(name, h);
    }
    return h;
  }

  private existing(db: string, op: string): PouchDatabase {
    const name = this.name(db, op);
    if (!this.exists(name))
      throw new StoreError('not_found', 'no_db_file', { op, database: name, status: 404 });
    return this.handle(name);
  }

  /** CouchDB refuses grouping or reduce=true on a map-only view; PouchDB ignores them. Match CouchDB. */
  private async assertReduce(pouch: PouchDatabase, db: string, view: string): Promise<void> {
    const [ddoc, name] = view.split('/') as [string, string];
    const design = await this.run('view', { database: db, id: view }, () => pouch.get(`_design/${ddoc}`));
    const views = design.views as Record<string, { reduce?: unknown }> | undefined;
    if (views?.[name] !== undefined && views[name]!.reduce === undefined) {
      throw new StoreError(
        'invalid',
        `group, group_level and reduce=true are invalid for the map-only view ${view}`,
        { op: 'view', database: db, id: view, status: 400 },
      );
    }
  }

  private async run<T>(
    op: string,
    ctx: { database?: string; id?: string },
    fn: () => Promise<T>,
  ): Promise<T> {
    this.assertOpen(op);
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err, { op, ...ctx });
    }
  }
}

/** A feed on a database that is not there: reports not_found once and ends, as CouchStore's does. */
function endedFeed(err: StoreError, opts: FollowOptions): ChangeSubscription {
  const since = opts.since ?? 'now';
  const ready = Promise.resolve().then(() => opts.onError?.(err));
  return { lastSeq: since, ready, stop: async () => {} };
}

/** The current document, or undefined when there is none (never written, or deleted). */
async function currentDoc(pouch: PouchDatabase, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await pouch.get(id);
  } catch (err) {
    if ((err as { status?: unknown }).status === 404) return undefined;
    throw err;
  }
}

function stubOf(
  doc: Record<string, unknown>,
  name: string,
  ctx: { op: string; database: string; id: string },
): AttachmentStub {
  const stub = (doc._attachments as Record<string, AttachmentStub> | undefined)?.[name];
  if (stub === undefined) throw new StoreError('not_found', 'missing', { ...ctx, status: 404 });
  return stub;
}

function pouchSeq(seq: string): string | number {
  return /^\d+$/.test(seq) ? Number(seq) : seq;
}
