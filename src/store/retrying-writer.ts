/**
 * RetryingWriter: for the writes that must not be lost when the store is briefly away
 * (a registration record, a CDR). Plain DocumentStore calls fail fast; this one waits.
 *
 * Contract
 * - `save(db, doc, {onConflict})` resolves with the saved document once it is written.
 *   While the store answers 'unavailable' (or a 5xx 'failed') the write is retried on a
 *   timer as the kernel's backoff says (`backoff` over WRITE_BACKOFF: 200 ms doubling to
 *   10 s, jittered; a bad value throws in the constructor), at most `maxAttempts` times
 *   (default unlimited) after which it rejects with the last error. A conflict round
 *   starts the delays again from the first.
 * - A conflict is never overwritten blindly. Without `onConflict` it rejects with the
 *   conflict. With it, the writer reads the current document (undefined when there is none)
 *   and calls `onConflict(current, wanted)`: the document it answers is saved on top of the
 *   current revision; undefined gives up with the conflict (so does a tenth round).
 * - A document without `_id` is given one before the first attempt, so a retry never
 *   writes it twice under two ids.
 * - 'invalid', 'not_found' and 'closed' reject at once: retrying will not help.
 * - At most `maxPending` writes wait at a time (default 1,000); past that `save` rejects at
 *   once with 'unavailable' ("retry queue full"), so memory stays bounded during a long outage.
 * - The first failure of a write is logged at warn, each later retry at debug (both with
 *   `retryInMs`), its eventual success at info.
 * - `close()` cancels the timers and rejects every waiting write with 'closed'; idempotent.
 */
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../kernel/backoff.ts';
import type { Logger } from '../kernel/log.ts';
import { StoreError, isStoreError } from './store-error.ts';
import { newDocId } from './doc-json.ts';
import type { DocInput, DocumentStore, SavedDoc } from './document-store.ts';

export type ConflictResolver = (current: SavedDoc | undefined, wanted: DocInput) => DocInput | undefined;

export interface RetryingWriterOptions {
  store: DocumentStore;
  logger: Logger;
  /** Retry delays; what is left out comes from WRITE_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  maxAttempts?: number;
  maxPending?: number;
}

/** 200 ms doubling to 10 s; up to 20 % of each wait is taken off at random. */
export const WRITE_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** Conflict-resolution rounds before giving up (another writer keeps winning). */
const MAX_ROUNDS = 10;

interface Waiting {
  timer: NodeJS.Timeout | undefined;
  reject(err: StoreError): void;
}

export class RetryingWriter {
  private readonly waiting = new Set<Waiting>();
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private closed = false;

  constructor(private readonly opts: RetryingWriterOptions) {
    this.log = opts.logger.child({ proc: 'retrying_writer' });
    this.backoff = backoffPolicy(opts.backoff, WRITE_BACKOFF);
  }

  get pending(): number {
    return this.waiting.size;
  }

  save(db: string, doc: DocInput, opts: { onConflict?: ConflictResolver } = {}): Promise<SavedDoc> {
    if (this.closed)
      return Promise.reject(new StoreError('closed', 'the writer is closed', { op: 'save', database: db }));
    if (this.waiting.size >= (this.opts.maxPending ?? 1000)) {
      return Promise.reject(
        new StoreError('unavailable', 'retry queue full', { op: 'save', database: db, id: doc._id }),
      );
    }
    // Fix the id now: a write that landed but whose answer was lost must not be repeated
    // under a second id.
    const body: DocInput = doc._id === undefined ? { ...doc, _id: newDocId() } : doc;
    return new Promise<SavedDoc>((resolve, reject) => {
      const w: Waiting = { timer: undefined, reject };
      this.waiting.add(w);
      const done = (err: StoreError | undefined, saved?: SavedDoc): void => {
        this.waiting.delete(w);
        if (err === undefined) resolve(saved!);
        else reject(err);
      };
      void this.attempt(db, body, opts.onConflict, w, 1, 0, done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.reject(
        new StoreError('closed', 'the writer was closed before the write could be made', { op: 'save' }),
      );
    }
    this.waiting.clear();
  }

  private async attempt(
    db: string,
    doc: DocInput,
    onConflict: ConflictResolver | undefined,
    w: Waiting,
    n: number,
    retries: number,
    done: (err: StoreError | undefined, saved?: SavedDoc) => void,
  ): Promise<void> {
    if (!this.waiting.has(w)) return;
    let err: StoreError;
    try {
      const saved = await this.opts.store.save(db, doc);
      if (n > 1) this.log.info({ db, id: saved._id, attempts: n }, 'delayed write landed');
      return done(undefined, saved);
    } catch (e) {
      err = isStoreError(e) ? e : new StoreError('failed', String(e), { op: 'save', database: db, cause: e });
    }
    if (err.code === 'conflict' && onConflict !== undefined && n < MAX_ROUNDS) {
      const next = await this.resolve(db, doc, onConflict).catch((e: unknown) => e as StoreError);
      if (next instanceof StoreError) err = next;
      else if (next === undefined) return done(err);
      else return this.attempt(db, next, onConflict, w, n + 1, 0, done);
    }
    if (err.code !== 'unavailable' && err.code !== 'failed') return done(err);
    if (n >= (this.opts.maxAttempts ?? Infinity)) return done(err);
    const wait = backoffDelay(retries, this.backoff);
    if (n === 1)
      this.log.warn(
        { db, id: doc._id, code: err.code, reason: err.reason, retryInMs: wait },
        'write failed; retrying until the store is back',
      );
    else this.log.debug({ db, id: doc._id, attempt: n, retryInMs: wait }, 'write retry scheduled');
    w.timer = setTimeout(() => void this.attempt(db, doc, onConflict, w, n + 1, retries + 1, done), wait);
  }

  private async resolve(
    db: string,
    wanted: DocInput,
    onConflict: ConflictResolver,
  ): Promise<DocInput | undefined> {
    let current: SavedDoc | undefined;
    try {
      current = await this.opts.store.get(db, wanted._id!);
    } catch (err) {
      if (!isStoreError(err, 'not_found')) throw err;
    }
    const merged = onConflict(current, wanted);
    if (merged === undefined) return undefined;
    const out: DocInput = { ...merged, _id: wanted._id };
    if (current === undefined) delete out._rev;
    else out._rev = current._rev;
    return out;
  }
}
