/**
 * StoreCache: the node-local cache every WhApp reads documents through (Kazoo's
 * kz_cache / wh_cache). A plain class with its own timer; a gen_server wrapper may own it.
 *
 * Contract
 * - Keys are strings or arrays of scalars (`['device', accountDb, id]`); arrays compare by
 *   value. Values are kept by reference: do not mutate what you store or get.
 * - `store(key, value, {ttlMs, origins})` keeps a value until it expires (default ttl
 *   `defaultTtlMs`, 1 hour; `ttlMs: Infinity` never expires) or until one of its origins
 *   changes. An origin names where the value came from:
 *   {database, id} one document; {database, type} any document of that pvt_type;
 *   {database} anything in that database.
 * - `get(key)` answers the value, or undefined on a miss or an expired entry (which is
 *   dropped). A hit counts as a use for eviction (see the memory bound).
 * - `fetch(key, loader, opts)` is fetch-through: a hit answers at once; on a miss the loader
 *   runs once however many callers ask meanwhile, its value is stored with `opts` and
 *   answered to all; a rejection is passed to all and nothing is stored. If an origin of
 *   the value changes while the loader runs, the value is answered but not stored (it may
 *   be stale). `openDoc(store, db, id)` is fetch-through for one document, with the
 *   document as its origin.
 * - `erase(key)`; `filter(pred)` lists live entries as [key, value]; `eraseWhere(pred)`
 *   drops the matching ones and answers how many; `flush()` drops everything.
 * - `onDocChange(change)` drops every entry whose origin the change touches and answers how
 *   many it dropped. A doc change touches origins {database, id}, {database} and
 *   {database, type} for the change's type; when the change carries no type (a feed entry
 *   without the document, a deletion) every {database, type} origin of that database is
 *   dropped, since the lost document may have been of any type. A 'db' change touches
 *   every entry from that database. Database names match in any Kazoo spelling
 *   (`account%2F..` = `account/..`). Listeners registered with `onInvalidate` hear of each
 *   change that dropped something (tests and metrics wait on this, not on time).
 * - Memory is bounded: at most `maxEntries` entries (default 10,000); storing past that
 *   evicts the least recently used (LRU-ish, below). Expired entries are dropped on read and by a sweep
 *   every `sweepIntervalMs` (default 60 s; the timer does not keep the process alive).
 *   Value sizes are not measured: cache documents, not blobs.
 * - `stats()` counts hits, misses, stores, evictions, expirations and invalidations;
 *   `storeCacheTotals()` the hits and misses of every cache of the OS process (metrics).
 * - `close()` stops the sweep and drops everything; it is idempotent. Afterwards `get`
 *   misses, and `store` / `fetch` fail with StoreError 'closed'.
 * - Recency is LRU-ish: a hit moves an entry to the young end only when more than
 *   maxEntries/2 stores or moves happened since it was last placed there, so hot entries
 *   cost no re-insertion; eviction takes the entry at the old end.
 */
import type { Logger } from '../kernel/log.ts';
import { plainDbName } from './db-names.ts';
import { StoreError } from './store-error.ts';
import type { DocChange } from './doc-change.ts';
import type { DocumentStore, SavedDoc } from './document-store.ts';

export type CacheKey = string | ReadonlyArray<string | number | boolean | null>;
export type CacheOrigin =
  { database: string; id: string } | { database: string; type: string } | { database: string };

export interface CacheStoreOptions {
  ttlMs?: number;
  origins?: readonly CacheOrigin[];
}

export interface StoreCacheOptions {
  maxEntries?: number;
  defaultTtlMs?: number;
  sweepIntervalMs?: number;
  logger?: Logger;
  /** The clock, for tests; default Date.now. */
  now?: () => number;
}

const cacheTotals = { hits: 0, misses: 0 };
/** Hits and misses of every StoreCache of this OS process since it started. */
export const storeCacheTotals = (): { hits: number; misses: number } => ({ ...cacheTotals });

export interface CacheStats {
  size: number;
  hits: number;
  misses: number;
  stores: number;
  evictions: number;
  expirations: number;
  invalidations: number;
}

export interface InvalidationEvent {
  change: DocChange;
  erased: number;
}

interface Entry {
  key: CacheKey;
  /** Recency stamp: the cache's use counter when stored or last moved to the young end. */
  used: number;
  value: unknown;
  expiresAt: number;
  index: string[];
}

interface InFlight {
  promise: Promise<unknown>;
  index: string[];
  stale: boolean;
}

const SEP = '\u0000';

/**
 * One string per key, injective: plain strings as they are (those starting with a control
 * prefix get escaped), arrays of plain strings joined by NUL (the hot path: no JSON),
 * any other array as JSON.
 */
function internalKey(key: CacheKey): string {
  if (typeof key === 'string') return key.charCodeAt(0) > 3 || key.length === 0 ? key : `\u0003${key}`;
  if (key.length === 0) return '\u0002[]';
  let out = '\u0001';
  for (let i = 0; i < key.length; i++) {
    const part = key[i];
    if (typeof part !== 'string' || part.includes('\u0000')) return `\u0002${JSON.stringify(key)}`;
    out += i === 0 ? part : `\u0000${part}`;
  }
  return out;
}

function indexKeys(origins: readonly CacheOrigin[] | undefined): string[] {
  if (origins === undefined) return [];
  const out = new Set<string>();
  for (const o of origins) {
    const db = plainDbName(o.database);
    out.add(`*${SEP}${db}`);
    if ('id' in o) out.add(`d${SEP}${db}${SEP}${o.id}`);
    else if ('type' in o) {
      out.add(`t${SEP}${db}${SEP}${o.type}`);
      out.add(`T${SEP}${db}`);
    } else out.add(`b${SEP}${db}`);
  }
  return [...out];
}

function touchedKeys(change: DocChange): string[] {
  const db = plainDbName(change.database);
  if (change.scope === 'db') return [`*${SEP}${db}`];
  const keys = [`d${SEP}${db}${SEP}${change.id}`, `b${SEP}${db}`];
  keys.push(change.type === undefined ? `T${SEP}${db}` : `t${SEP}${db}${SEP}${change.type}`);
  return keys;
}

export class StoreCache {
  private readonly entries = new Map<string, Entry>();
  private readonly index = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, InFlight>();
  private readonly listeners = new Set<(e: InvalidationEvent) => void>();
  private readonly maxEntries: number;
  private readonly defaultTtlMs: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private readonly youngSpan: number;
  private useCounter = 0;
  private closed = false;
  private counts = { hits: 0, misses: 0, stores: 0, evictions: 0, expirations: 0, invalidations: 0 };

  constructor(opts: StoreCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.defaultTtlMs = opts.defaultTtlMs ?? 3_600_000;
    this.youngSpan = Math.floor(this.maxEntries / 2);
    this.now = opts.now ?? Date.now;
    this.log = opts.logger?.child({ cache: 'store' });
    if (!(this.maxEntries >= 1))
      throw new StoreError('invalid', `maxEntries must be at least 1, got ${opts.maxEntries}`);
    this.sweeper = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  get<T = unknown>(key: CacheKey): T | undefined {
    const k = internalKey(key);
    const entry = this.entries.get(k);
    if (entry === undefined) {
      this.counts.misses++;
      cacheTotals.misses++;
      return undefined;
    }
    if (entry.expiresAt <= this.now()) {
      this.remove(k, entry);
      this.counts.expirations++;
      this.counts.misses++;
      cacheTotals.misses++;
      return undefined;
    }
    if (this.useCounter - entry.used > this.youngSpan) {
      // Only entries in the older half move to the young end: a hit on a young entry
      // costs no re-insertion (LRU-ish, as documented above).
      this.entries.delete(k);
      this.entries.set(k, entry);
      entry.used = ++this.useCounter;
    }
    this.counts.hits++;
    cacheTotals.hits++;
    return entry.value as T;
  }

  store(key: CacheKey, value: unknown, opts: CacheStoreOptions = {}): void {
    this.assertOpen('store');
    const k = internalKey(key);
    const old = this.entries.get(k);
    if (old !== undefined) this.remove(k, old);
    const ttl = opts.ttlMs ?? this.defaultTtlMs;
    const entry: Entry = {
      key,
      value,
      used: ++this.useCounter,
      expiresAt: this.now() + ttl,
      index: indexKeys(opts.origins),
    };
    this.entries.set(k, entry);
    for (const ix of entry.index) {
      let set = this.index.get(ix);
      if (set === undefined) this.index.set(ix, (set = new Set()));
      set.add(k);
    }
    this.counts.stores++;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest, this.entries.get(oldest)!);
      this.counts.evictions++;
    }
  }

  async fetch<T>(key: CacheKey, loader: () => Promise<T>, opts: CacheStoreOptions = {}): Promise<T> {
    this.assertOpen('fetch');
    const hit = this.get<T>(key);
    if (hit !== undefined) return hit;
    const k = internalKey(key);
    const running = this.inflight.get(k);
    if (running !== undefined) return running.promise as Promise<T>;
    const flight: InFlight = { promise: Promise.resolve(), index: indexKeys(opts.origins), stale: false };
    flight.promise = (async () => {
      try {
        const value = await loader();
        if (!flight.stale && !this.closed) this.store(key, value, opts);
        return value;
      } finally {
        this.inflight.delete(k);
      }
    })();
    this.inflight.set(k, flight);
    return flight.promise as Promise<T>;
  }

  openDoc(
    store: DocumentStore,
    database: string,
    id: string,
    opts: { ttlMs?: number } = {},
  ): Promise<SavedDoc> {
    return this.fetch(['doc', plainDbName(database), id], () => store.get(database, id), {
      ttlMs: opts.ttlMs,
      origins: [{ database, id }],
    });
  }

  erase(key: CacheKey): boolean {
    const k = internalKey(key);
    const entry = this.entries.get(k);
    if (entry === undefined) return false;
    this.remove(k, entry);
    return true;
  }

  filter<T = unknown>(pred: (key: CacheKey, value: T) => boolean): Array<[CacheKey, T]> {
    const now = this.now();
    const out: Array<[CacheKey, T]> = [];
    for (const e of this.entries.values())
      if (e.expiresAt > now && pred(e.key, e.value as T)) out.push([e.key, e.value as T]);
    return out;
  }

  eraseWhere<T = unknown>(pred: (key: CacheKey, value: T) => boolean): number {
    let n = 0;
    for (const [k, e] of [...this.entries]) {
      if (pred(e.key, e.value as T)) {
        this.remove(k, e);
        n++;
      }
    }
    return n;
  }

  flush(): void {
    this.entries.clear();
    this.index.clear();
    for (const f of this.inflight.values()) f.stale = true;
  }

  onDocChange(change: DocChange): number {
    const touched = touchedKeys(change);
    for (const f of this.inflight.values()) if (f.index.some((ix) => touched.includes(ix))) f.stale = true;
    let erased = 0;
    for (const ix of touched) {
      const keys = this.index.get(ix);
      if (keys === undefined) continue;
      for (const k of [...keys]) {
        const entry = this.entries.get(k);
        if (entry !== undefined) {
          this.remove(k, entry);
          erased++;
        }
      }
    }
    if (erased > 0) {
      this.counts.invalidations += erased;
      this.log?.debug(
        { db: change.database, id: change.id, action: change.action, erased },
        'cache entries invalidated',
      );
      for (const l of this.listeners) l({ change, erased });
    }
    return erased;
  }

  /** Calls `listener` after each change that dropped entries; answers an unsubscribe. */
  onInvalidate(listener: (e: InvalidationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.entries.size;
  }

  stats(): CacheStats {
    return { size: this.entries.size, ...this.counts };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.flush();
    this.listeners.clear();
  }

  /** Drops expired entries; the timer calls it, tests may too. Answers how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const [k, e] of [...this.entries]) {
      if (e.expiresAt <= now) {
        this.remove(k, e);
        n++;
      }
    }
    this.counts.expirations += n;
    return n;
  }

  private remove(k: string, entry: Entry): void {
    this.entries.delete(k);
    for (const ix of entry.index) {
      const set = this.index.get(ix);
      if (set === undefined) continue;
      set.delete(k);
      if (set.size === 0) this.index.delete(ix);
    }
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new StoreError('closed', 'the cache is closed', { op });
  }
}
