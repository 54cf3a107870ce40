/**
 * CouchStore: the DocumentStore on a CouchDB server or cluster (CouchDB 3, BigCouch-style
 * clusters, or anything speaking CouchDB's HTTP API) through nano.
 *
 * Contract (beyond document-ts)
 * - `url` is the server's base URL; `user:password@` in it is used for Basic auth by nano
 *   and never appears in `location`, logs or error messages.
 * - Every request carries a timeout (`requestTimeoutMs`, default 5000): an unreachable or
 *   hung server fails the call with 'unavailable' within that time; a refused connection
 *   fails at once.
 * - `follow` long-polls `_changes` (never a continuous feed, which compressing proxies
 *   buffer) with `pollTimeoutMs` (default 25000) and stops at once on `stop()` by aborting
 *   the request in flight (node:http, not nano: see rawGet), however long it waited.
 * - Attachments are read with node:http too (rawGet), as bytes, within the request timeout.
 *   After a failure it waits on a timer as the kernel's backoff says (`backoff` over
 *   FEED_BACKOFF: 100 ms doubling to 5 s, jittered), and goes on from the last sequence
 *   seen.
 * - Sequences are whatever the server sends (strings on CouchDB 3, numbers on stand-ins),
 *   passed on as strings and handed back unparsed.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import Nano from 'nano';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../kernel/backoff.ts';
import type { Logger } from '../kernel/log.ts';
import { checkAttachmentName, checkAttachmentPut, checkMaxBytes } from './attachments.ts';
import { canonicalDbName, checkDocId } from './db-names.ts';
import { prepareDoc } from './doc-json.ts';
import { StoreError, stripCredentials, toStoreError, type StoreErrorContext } from './store-error.ts';
import { toBulkResults, toChange, toViewResult, viewParams } from './wire-rows.ts';
import type {
  AllDocsQuery,
  Attachment,
  AttachmentStub,
  BulkResult,
  DocInput,
  Change,
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

export interface CouchStoreOptions {
  url: string;
  logger: Logger;
  requestTimeoutMs?: number;
  pollTimeoutMs?: number;
  /** Change-feed retry delays; what is left out comes from FEED_BACKOFF. A bad value throws here. */
  backoff?: Partial<BackoffPolicy>;
  /** Largest attachment putAttachment takes (default DEFAULT_MAX_ATTACHMENT_BYTES, 32 MiB). */
  maxAttachmentBytes?: number;
}

/** Feed errors that retrying cannot cure: the feed ends after reporting them. */
const FINAL = new Set(['not_found', 'invalid', 'unauthorized']);

interface Request {
  db?: string;
  doc?: string;
  path?: string;
  att?: string;
  method?: string;
  qs?: Record<string, unknown>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  dontStringify?: boolean;
}

export class CouchStore implements DocumentStore {
  readonly kind = 'couchdb' as const;
  readonly location: string;
  private readonly nano: Nano.ServerScope;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxAttachmentBytes: number;
  /** For the requests made without nano (attachment reads): base URL without userinfo, and its auth. */
  private readonly plainUrl: string;
  private readonly authHeader: string | undefined;
  private readonly feeds = new Set<ChangeSubscription>();
  private closed = false;

  constructor(opts: CouchStoreOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.url);
    } catch (err) {
      throw new StoreError('invalid', `not a URL: ${stripCredentials(opts.url)}`, { cause: err });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new StoreError('invalid', `CouchDB URL must be http(s), got ${parsed.protocol}`);
    this.location = stripCredentials(parsed.href).replace(/\/$/, '');
    this.nano = Nano({ url: opts.url.replace(/\/$/, '') });
    this.log = opts.logger.child({ store: 'couchdb', url: this.location });
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
    this.pollMs = opts.pollTimeoutMs ?? 25_000;
    this.backoff = backoffPolicy(opts.backoff, FEED_BACKOFF);
    this.maxAttachmentBytes = checkMaxBytes(opts.maxAttachmentBytes);
    this.authHeader =
      parsed.username === ''
        ? undefined
        : `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
    this.plainUrl = parsed.href.replace(/\/$/, '');
  }

  async createDb(db: string): Promise<boolean> {
    const name = this.name(db, 'createDb');
    try {
      await this.call({ db: name, method: 'PUT' }, { op: 'createDb', database: name });
    } catch (err) {
      if ((err as StoreError).status === 412) return false;
      throw err;
    }
    this.log.info({ db: name }, 'database created');
    return true;
  }

  async dbExists(db: string): Promise<boolean> {
    const name = this.name(db, 'dbExists');
    return this.call({ db: name }, { op: 'dbExists', database: name }).then(() => true, notFoundAs(false));
  }

  async deleteDb(db: string): Promise<boolean> {
    const name = this.name(db, 'deleteDb');
    // Ask first: some CouchDB-protocol servers (pouchdb-server) answer 200 for a missing database.
    if (!(await this.dbExists(name))) return false;
    const deleted = await this.call({ db: name, method: 'DELETE' }, { op: 'deleteDb', database: name }).then(
      () => true,
      notFoundAs(false),
    );
    if (deleted) this.log.info({ db: name }, 'database deleted');
    return deleted;
  }

  async listDbs(): Promise<string[]> {
    this.assertOpen('listDbs');
    const names = await this.call<string[]>({ db: '_all_dbs' }, { op: 'listDbs' });
    return [...names].sort();
  }

  async get(db: string, id: string): Promise<SavedDoc> {
    const name = this.name(db, 'get');
    checkDocId(id, name);
    return this.call<SavedDoc>({ db: name, doc: id }, { op: 'get', database: name, id });
  }

  async save(db: string, doc: DocInput): Promise<SavedDoc> {
    const name = this.name(db, 'save');
    const body = prepareDoc(doc, name);
    const res = await this.call<{ rev: string }>(
      { db: name, doc: body._id, method: 'PUT', body },
      { op: 'save', database: name, id: body._id },
    );
    return { ...body, _rev: res.rev };
  }

  async remove(db: string, id: string, rev: string): Promise<SaveResult> {
    const name = this.name(db, 'remove');
    checkDocId(id, name);
    if (typeof rev !== 'string' || rev.length === 0)
      throw new StoreError('invalid', 'remove needs the current _rev', { op: 'remove', database: name, id });
    const res = await this.call<{ id: string; rev: string }>(
      { db: name, doc: id, method: 'DELETE', qs: { rev } },
      { op: 'remove', database: name, id },
    );
    return { id: res.id, rev: res.rev };
  }

  async bulkSave(db: string, docs: DocInput[]): Promise<BulkResult[]> {
    const name = this.name(db, 'bulkSave');
    if (!Array.isArray(docs))
      throw new StoreError('invalid', 'bulkSave takes an array of documents', { database: name });
    const bodies = docs.map((d) => prepareDoc(d, name));
    const raw = await this.call<Array<Record<string, never>>>(
      { db: name, path: '_bulk_docs', method: 'POST', body: { docs: bodies } },
      { op: 'bulkSave', database: name },
    );
    return toBulkResults(raw, bodies, name);
  }

  async putAttachment(
    db: string,
    id: string,
    name: string,
    data: Uint8Array,
    contentType: string,
    rev?: string,
  ): Promise<SaveResult> {
    const dbName = this.name(db, 'putAttachment');
    const att = checkAttachmentPut(
      { database: dbName, id, name, data, contentType, rev },
      this.maxAttachmentBytes,
    );
    const res = await this.call<{ id: string; rev: string }>(
      {
        db: dbName,
        doc: id,
        att: encodeURIComponent(att.name),
        method: 'PUT',
        contentType: att.contentType,
        // nano drops Accept when it sets a content type; without it CouchDB answers text/plain.
        accept: 'application/json',
        body: att.data,
        dontStringify: true,
        qs: rev === undefined ? undefined : { rev },
      },
      { op: 'putAttachment', database: dbName, id },
    );
    return { id, rev: res.rev };
  }

  async getAttachment(db: string, id: string, name: string): Promise<Attachment> {
    const dbName = this.name(db, 'getAttachment');
    checkDocId(id, dbName);
    checkAttachmentName(name, { database: dbName, id });
    const ctx = { op: 'getAttachment', database: dbName, id };
    // Not through nano: it decodes text/* answers as strings, which would corrupt binary data.
    const url = new URL(
      `${this.plainUrl}/${encodeURIComponent(dbName)}/${docPath(id)}/${encodeURIComponent(name)}`,
    );
    const res = await abortAfter(new AbortController(), this.timeoutMs, (signal) =>
      this.rawGet(url, '*/*', signal, ctx),
    );
    if (res.status !== 200) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(res.data.toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { reason: res.data.toString('utf8').slice(0, 200) };
      }
      throw toStoreError({ statusCode: res.status, ...body }, ctx);
    }
    return { data: res.data, contentType: res.contentType ?? 'application/octet-stream' };
  }

  async removeAttachment(db: string, id: string, name: string, rev: string): Promise<SaveResult> {
    const dbName = this.name(db, 'removeAttachment');
    checkDocId(id, dbName);
    checkAttachmentName(name, { database: dbName, id });
    const ctx = { op: 'removeAttachment', database: dbName, id };
    if (typeof rev !== 'string' || rev.length === 0)
      throw new StoreError('invalid', 'removeAttachment needs the current _rev', ctx);
    // Asked first: CouchDB answers 404 for an attachment the document does not have, some
    // CouchDB-protocol servers (pouchdb-server) write a new revision without it instead;
    // the server still checks the rev, so a write in between is a conflict as it should be.
    const doc = await this.get(dbName, id);
    const stubs = doc._attachments as Record<string, AttachmentStub> | undefined;
    // pouchdb-server also answers 404 for a rev it does not know, where CouchDB says 409.
    if (doc._rev !== rev)
      throw new StoreError('conflict', 'Document update conflict.', { ...ctx, status: 409 });
    if (stubs?.[name] === undefined) throw new StoreError('not_found', 'missing', { ...ctx, status: 404 });
    const res = await this.call<{ id: string; rev: string }>(
      { db: dbName, doc: id, att: encodeURIComponent(name), method: 'DELETE', qs: { rev } },
      ctx,
    );
    return { id, rev: res.rev };
  }

  async view(db: string, view: string, query: ViewQuery = {}): Promise<ViewResult> {
    const name = this.name(db, 'view');
    const m = typeof view === 'string' ? /^([^/]+)\/([^/]+)$/.exec(view) : null;
    if (m === null)
      throw new StoreError('invalid', `view must be 'design/view', got ${JSON.stringify(view)}`, {
        op: 'view',
        database: name,
      });
    const path = `_design/${encodeURIComponent(m[1]!)}/_view/${encodeURIComponent(m[2]!)}`;
    return this.query(name, path, viewParams(query, { database: name, view }), 'view');
  }

  async allDocs(db: string, query: AllDocsQuery = {}): Promise<ViewResult> {
    const name = this.name(db, 'allDocs');
    return this.query(name, '_all_docs', viewParams(query, { database: name, view: '_all_docs' }), 'allDocs');
  }

  async changes(db: string, query: ChangesQuery = {}): Promise<ChangesPage> {
    const name = this.name(db, 'changes');
    const qs: Record<string, unknown> = {
      since: query.since ?? '0',
      include_docs: query.includeDocs === true,
    };
    if (query.limit !== undefined) qs.limit = query.limit;
    const raw = await this.call<{ results: never[]; last_seq: unknown }>(
      { db: name, path: '_changes', qs },
      { op: 'changes', database: name },
    );
    return { results: raw.results.map(toChange), lastSeq: String(raw.last_seq) };
  }

  follow(db: string, opts: FollowOptions): ChangeSubscription {
    const name = this.name(db, 'follow');
    const { backoff, feeds, log, pollMs, timeoutMs } = this;
    const get = (
      ac: AbortController,
      ms: number,
      path: string,
      qs?: Record<string, string>,
    ): Promise<unknown> => abortAfter(ac, ms, (signal) => this.feedGet(name, path, qs, signal));
    let since = opts.since ?? 'now';
    let stopped = false;
    let abort: AbortController | undefined;
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const deliver = (change: Change): void => {
      try {
        opts.onChange(change);
      } catch (err) {
        log.error({ err, db: name, id: change.id }, 'change handler threw; feed goes on');
      }
    };
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const loop = async (): Promise<void> => {
      let failures = 0;
      while (!stopped) {
        const ac = (abort = new AbortController());
        try {
          if (since === 'now') {
            // Pin 'now' to the database's update_seq so nothing written after `ready` is missed.
            const info = (await get(ac, timeoutMs, '')) as { update_seq: unknown };
            since = String(info.update_seq);
          }
          markReady();
          const qs = {
            feed: 'longpoll',
            since,
            timeout: String(pollMs),
            include_docs: String(opts.includeDocs === true),
          };
          const raw = (await get(ac, pollMs + timeoutMs, '/_changes', qs)) as {
            results: never[];
            last_seq: unknown;
          };
          if (failures > 0) {
            failures = 0;
            log.info({ db: name }, 'change feed recovered');
            opts.onRecover?.();
          }
          for (const r of raw.results) {
            const change = toChange(r);
            since = change.seq;
            if (!stopped) deliver(change);
          }
          since = String(raw.last_seq);
        } catch (err) {
          if (stopped) break;
          const e = toStoreError(err, { op: 'follow', database: name });
          if (FINAL.has(e.code)) {
            log.warn({ db: name, code: e.code, reason: e.reason }, 'change feed ended');
            opts.onError?.(e);
            markReady();
            return;
          }
          const delay = backoffDelay(failures, backoff);
          if (failures === 0) {
            log.warn(
              { db: name, code: e.code, reason: e.reason, retryInMs: delay },
              'change feed failed; retrying',
            );
            opts.onError?.(e);
            markReady();
          } else {
            log.debug({ db: name, attempt: failures + 1, retryInMs: delay }, 'change feed retry scheduled');
          }
          failures++;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, delay);
          });
        }
      }
    };
    const running = loop();
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
        wake?.();
        abort?.abort();
        await running;
        feeds.delete(sub);
      },
    };
    this.feeds.add(sub);
    return sub;
  }

  /** One GET of a change feed (`/db` for its update_seq, `/db/_changes`): its JSON answer. */
  private async feedGet(
    name: string,
    path: string,
    qs: Record<string, string> | undefined,
    signal: AbortSignal,
  ): Promise<unknown> {
    const ctx = { op: 'follow', database: name };
    const query = qs === undefined ? '' : `?${new URLSearchParams(qs).toString()}`;
    const url = new URL(`${this.plainUrl}/${encodeURIComponent(name)}${path}${query}`);
    const res = await this.rawGet(url, 'application/json', signal, ctx);
    const text = res.data.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new StoreError('failed', `not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`, {
        ...ctx,
        status: res.status,
      });
    }
    if (res.status === 200) return body;
    throw toStoreError({ statusCode: res.status, ...(body as object) }, ctx);
  }

  /**
   * One GET with node:http, not nano or fetch, for the requests that wait long or carry
   * bytes (change feeds, attachments): such a request was found to stop settling once
   * garbage collection ran while it waited. With nano's request an abort no longer reached
   * it (a feed's stop, hence the store's close and the node's stop, waited for ever); with
   * a bare fetch its answer never arrived. node:http's request and response are held by
   * their socket for as long as it is open, and the abort always reaches them. Answers the
   * status, content type and body, whatever the status; rejects with a StoreError when the
   * request fails, is aborted or the answer is cut short.
   */
  private rawGet(
    url: URL,
    accept: string,
    signal: AbortSignal,
    ctx: StoreErrorContext,
  ): Promise<{ status: number; contentType: string | undefined; data: Buffer }> {
    const headers: Record<string, string> = { accept };
    if (this.authHeader !== undefined) headers.authorization = this.authHeader;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown): void => reject(toStoreError(err, ctx));
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { headers, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) return fail(signal.aborted ? signal.reason : new Error('answer cut short'));
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              data: Buffer.concat(chunks),
            });
          });
        },
      );
      req.on('error', fail);
      req.end();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.feeds].map((f) => f.stop()));
    this.log.info('couchdb store closed');
  }

  private async query(
    name: string,
    path: string,
    params: Record<string, unknown>,
    op: string,
  ): Promise<ViewResult> {
    const { keys, ...qs } = params;
    const req: Request =
      keys === undefined ? { db: name, path, qs } : { db: name, path, qs, method: 'POST', body: { keys } };
    return toViewResult(await this.call(req, { op, database: name, id: path }));
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new StoreError('closed', 'the store is closed', { op });
  }

  private name(db: string, op: string): string {
    this.assertOpen(op);
    return canonicalDbName(db);
  }

  /** One request through nano, failing at the timeout whether or not nano's own promise
   *  hears the abort (it does not once garbage collection ran while it waited: see rawGet). */
  private async call<T = unknown>(req: Request, ctx: StoreErrorContext): Promise<T> {
    try {
      return (await abortAfter(new AbortController(), this.timeoutMs, (signal) =>
        Promise.race([
          this.nano.request({ ...req, signal } as Nano.RequestOptions),
          new Promise<never>((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
          ),
        ]),
      )) as T;
    } catch (err) {
      throw toStoreError(err, ctx);
    }
  }
}

/**
 * Runs a request on `ac`'s signal and aborts it after `ms` (a timeout, worded as
 * AbortSignal.timeout words it): one controller, which the feed's `stop()` aborts too.
 */
async function abortAfter<T>(
  ac: AbortController,
  ms: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timer = setTimeout(
    () => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms,
  );
  try {
    return await run(ac.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** A document's path segment: `_design/` stays as it is, the rest is encoded. */
function docPath(id: string): string {
  return id.startsWith('_design/')
    ? `_design/${encodeURIComponent(id.slice('_design/'.length))}`
    : encodeURIComponent(id);
}

function notFoundAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (err instanceof StoreError && err.code === 'not_found') return value;
    throw err;
  };
}
