/**
 * ChangeFollower: keeps a StoreCache true to the store by following the change feeds of
 * the databases it is told to watch. A plain class; a gen_server wrapper may own it.
 *
 * Contract
 * - `watch(db)` starts following `db` from 'now' and resolves once the feed is established
 *   (a change made after that is seen); watching a database twice is a no-op. Every change
 *   becomes `cache.onDocChange(docChangeFromFeed(db, change))`; the feed asks for the
 *   documents so that type origins ({database, type}) are matched by the document's pvt_type.
 *   Watching a database that does not exist rejects with 'not_found'; a feed that ends
 *   later (database deleted, credentials refused) is logged at error and forgotten.
 * - A feed that fails (store unreachable) is logged once, retried by the adapter with
 *   backoff, and resumes from its last sequence: changes made during the outage still
 *   invalidate once the store is back. Meanwhile the cache keeps serving what it has.
 * - `unwatch(db)` stops one feed; `watching()` lists the databases followed.
 * - `close()` stops every feed; it is idempotent. `watch` after close fails 'closed'.
 */
import type { Logger } from '../kernel/log.ts';
import { canonicalDbName } from './db-names.ts';
import { docChangeFromFeed } from './doc-change.ts';
import { StoreError } from './store-error.ts';
import type { ChangeSubscription, DocumentStore } from './document-store.ts';
import type { StoreCache } from './store-cache.ts';

export interface ChangeFollowerOptions {
  store: DocumentStore;
  cache: StoreCache;
  logger: Logger;
}

export class ChangeFollower {
  private readonly feeds = new Map<string, ChangeSubscription>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: ChangeFollowerOptions) {
    this.log = opts.logger.child({ proc: 'change_follower' });
  }

  async watch(db: string): Promise<void> {
    if (this.closed)
      throw new StoreError('closed', 'the change follower is closed', { op: 'watch', database: db });
    const name = canonicalDbName(db);
    if (this.feeds.has(name)) return;
    let ended: StoreError | undefined;
    const sub = this.opts.store.follow(name, {
      includeDocs: true,
      onChange: (change) => this.opts.cache.onDocChange(docChangeFromFeed(name, change)),
      onError: (err) => {
        if (err.code === 'unavailable' || err.code === 'failed') {
          this.log.warn(
            { db: name, code: err.code, reason: err.reason },
            'change feed interrupted; cached entries are served until it resumes',
          );
        } else {
          ended = err;
          this.feeds.delete(name);
          this.log.error(
            { db: name, code: err.code, reason: err.reason },
            'change feed ended; entries from this database are no longer invalidated by it',
          );
        }
      },
      onRecover: () => this.log.info({ db: name }, 'change feed resumed'),
    });
    this.feeds.set(name, sub);
    await sub.ready;
    if (ended !== undefined) throw ended;
  }

  async unwatch(db: string): Promise<void> {
    const name = canonicalDbName(db);
    const sub = this.feeds.get(name);
    if (sub === undefined) return;
    this.feeds.delete(name);
    await sub.stop();
  }

  watching(): string[] {
    return [...this.feeds.keys()].sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subs = [...this.feeds.values()];
    this.feeds.clear();
    const results = await Promise.allSettled(subs.map((s) => s.stop()));
    for (const r of results)
      if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'stopping a change feed failed');
  }
}
