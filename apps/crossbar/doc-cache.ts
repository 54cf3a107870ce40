/**
 * crossbar's document cache: what Kazoo's crossbar gets from kz_datamgr's cached opens,
 * so a request does not read the same account and document from the store each time.
 *
 * Contract
 * - `new CrossbarDocCache(store, log)`; `.store` is `store` with `get(db, id)` served
 *   through a StoreCache for the databases being watched (`watch(db)`; others read the
 *   store). Every answer is a copy the caller may change.
 * - `watch(db)` follows the database's change feed (ChangeFollower) and resolves once the
 *   feed is established, before anything of it is cached: a write made after a read, by
 *   any node or app, drops that read when its change arrives.
 * - Writes through `.store` (save, bulkSave, remove, putAttachment, removeAttachment,
 *   deleteDb) drop what they touch as soon as they settle (also when they fail), without
 *   waiting for the feed: a client reads its own writes. A database deleted through it is
 *   no longer followed.
 * - `close()` stops the feeds and empties the cache.
 */
import type { Logger } from '../../src/kernel/index.ts';
import {
  ChangeFollower,
  StoreCache,
  plainDbName,
  type DocChange,
  type DocumentStore,
} from '../../src/store/index.ts';

export class CrossbarDocCache {
  readonly store: DocumentStore;
  private readonly cache: StoreCache;
  private readonly follower: ChangeFollower;
  private readonly watched = new Set<string>();

  constructor(backing: DocumentStore, log: Logger) {
    this.cache = new StoreCache({ logger: log });
    this.follower = new ChangeFollower({ store: backing, cache: this.cache, logger: log });
    this.store = this.wrap(backing);
  }

  async watch(db: string): Promise<void> {
    await this.follower.watch(db);
    this.watched.add(plainDbName(db));
  }

  async close(): Promise<void> {
    await this.follower.close();
    this.cache.close();
  }

  private dropped(database: string, id: string, scope: DocChange['scope'] = 'doc'): void {
    this.cache.onDocChange({ database, id, action: 'edited', scope });
  }

  private wrap(backing: DocumentStore): DocumentStore {
    const after = async <T>(run: () => Promise<T>, drop: () => void): Promise<T> => {
      try {
        return await run();
      } finally {
        drop();
      }
    };
    const own: Partial<DocumentStore> = {
      get: async (db, id) =>
        this.watched.has(plainDbName(db))
          ? structuredClone(await this.cache.openDoc(backing, db, id))
          : backing.get(db, id),
      save: (db, doc) =>
        after(
          () => backing.save(db, doc),
          () => typeof doc._id === 'string' && this.dropped(db, doc._id),
        ),
      bulkSave: (db, docs) =>
        after(
          () => backing.bulkSave(db, docs),
          () => docs.forEach((d) => typeof d._id === 'string' && this.dropped(db, d._id)),
        ),
      remove: (db, id, rev) =>
        after(
          () => backing.remove(db, id, rev),
          () => this.dropped(db, id),
        ),
      putAttachment: (db, id, ...rest) =>
        after(
          () => backing.putAttachment(db, id, ...rest),
          () => this.dropped(db, id),
        ),
      removeAttachment: (db, id, name, rev) =>
        after(
          () => backing.removeAttachment(db, id, name, rev),
          () => this.dropped(db, id),
        ),
      deleteDb: async (db) => {
        // Its feed stops first: a feed that ends with its database is logged as an error.
        this.watched.delete(plainDbName(db));
        await this.follower.unwatch(db);
        return after(
          () => backing.deleteDb(db),
          () => this.dropped(db, '', 'db'),
        );
      },
    };
    return new Proxy(backing, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && Object.hasOwn(own, prop)) return own[prop as keyof DocumentStore];
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}
