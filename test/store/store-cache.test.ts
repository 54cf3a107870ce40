/**
 * StoreCache, clause by clause: expiry, fetch-through, erase/filter, invalidation by
 * document, type and database (from feeds or bus messages), the memory bound, close.
 * Time is a fake clock: nothing here waits.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../src/kernel/log.ts';
import {
  EmbeddedStore,
  StoreCache,
  accountDbName,
  docChangeFromConfMessage,
  isStoreError,
  type DocChange,
} from '../../src/store/index.ts';

const ACCT = '4fe69c5b61015084f1fe5684abc6e502';
const caches: StoreCache[] = [];
function cache(opts: ConstructorParameters<typeof StoreCache>[0] = {}): {
  c: StoreCache;
  clock: { t: number };
} {
  const clock = { t: 1_000_000 };
  const c = new StoreCache({ now: () => clock.t, ...opts });
  caches.push(c);
  return { c, clock };
}
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
});

const edit = (database: string, id: string, type?: string): DocChange => ({
  database,
  id,
  action: 'edited',
  scope: 'doc',
  ...(type ? { type } : {}),
});

describe('get / store with expiry', () => {
  it('answers a stored value until its ttl passes, then misses', () => {
    const { c, clock } = cache({ defaultTtlMs: 1000 });
    c.store('a', { v: 1 });
    c.store(['dev', 'x'], 'short', { ttlMs: 10 });
    expect(c.get('a')).toEqual({ v: 1 });
    expect(c.get(['dev', 'x'])).toBe('short');
    clock.t += 10;
    expect(c.get(['dev', 'x'])).toBeUndefined();
    expect(c.get('a')).toEqual({ v: 1 });
    clock.t += 990;
    expect(c.get('a')).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 3, misses: 2, expirations: 2, size: 0 });
  });

  it('compares array keys by value and keeps them apart from string keys', () => {
    const { c } = cache();
    const keys = [
      ['a', 1],
      '["a",1]',
      ['a', 'b'],
      'a\u0000b',
      '\u0001a\u0000b',
      [],
      [''],
      '',
      ['1'],
      [1],
      [null],
      ['null'],
    ] as const;
    keys.forEach((k, i) => c.store(k, i));
    keys.forEach((k, i) => expect(c.get(k)).toBe(i));
    expect(c.get(['a', 1].slice())).toBe(0);
    expect(c.size).toBe(keys.length);
  });

  it('sweeps expired entries without being read', () => {
    const { c, clock } = cache();
    c.store('a', 1, { ttlMs: 5 });
    c.store('b', 2, { ttlMs: Infinity });
    clock.t += 5;
    expect(c.sweep()).toBe(1);
    expect(c.size).toBe(1);
  });
});

describe('memory bound', () => {
  it('keeps at most maxEntries, evicting the least recently used', () => {
    const { c } = cache({ maxEntries: 3 });
    c.store('a', 1);
    c.store('b', 2);
    c.store('c', 3);
    expect(c.get('a')).toBe(1);
    c.store('d', 4);
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    expect(
      c
        .filter(() => true)
        .map(([k]) => k)
        .sort(),
    ).toEqual(['a', 'c', 'd']);
    expect(c.stats().evictions).toBe(1);
  });
});

describe('fetch-through', () => {
  it('loads once on a miss for all concurrent callers, stores, then hits', async () => {
    const { c } = cache();
    let loads = 0;
    const loader = async (): Promise<string> => {
      loads++;
      return 'loaded';
    };
    const [a, b] = await Promise.all([c.fetch('k', loader), c.fetch('k', loader)]);
    expect([a, b, loads]).toEqual(['loaded', 'loaded', 1]);
    expect(await c.fetch('k', loader)).toBe('loaded');
    expect(loads).toBe(1);
  });

  it('passes a loader failure to the callers and stores nothing', async () => {
    const { c } = cache();
    await expect(
      c.fetch('k', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(c.get('k')).toBeUndefined();
  });

  it('does not store a value whose origin changed while it was loading', async () => {
    const { c } = cache();
    let release: (v: string) => void = () => {};
    const loading = c.fetch(
      'k',
      () =>
        new Promise<string>((r) => {
          release = r;
        }),
      { origins: [{ database: 'accounts', id: 'a1' }] },
    );
    c.onDocChange(edit('accounts', 'a1'));
    release('old value');
    expect(await loading).toBe('old value');
    expect(c.get('k')).toBeUndefined();
  });

  it('openDoc reads a document through the cache and drops it when the document changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fife-cache-'));
    const store = new EmbeddedStore({ dir, logger: memoryLogger().logger });
    try {
      const db = accountDbName(ACCT);
      await store.createDb(db);
      const v1 = await store.save(db, { _id: 'dev1', name: 'one' });
      const { c } = cache();
      expect((await c.openDoc(store, db, 'dev1')).name).toBe('one');
      await store.save(db, { ...v1, name: 'two' });
      expect((await c.openDoc(store, db, 'dev1')).name).toBe('one');
      expect(c.onDocChange(edit(accountDbName(ACCT, 'unencoded'), 'dev1'))).toBe(1);
      expect((await c.openDoc(store, db, 'dev1')).name).toBe('two');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('erase and filter', () => {
  it('erases one key, filters and erases by predicate, flushes', () => {
    const { c } = cache();
    c.store(['device', 'd1'], 1);
    c.store(['device', 'd2'], 2);
    c.store(['user', 'u1'], 3);
    expect(c.erase(['device', 'd1'])).toBe(true);
    expect(c.erase(['device', 'd1'])).toBe(false);
    expect(c.filter((k) => Array.isArray(k) && k[0] === 'user')).toEqual([[['user', 'u1'], 3]]);
    expect(c.eraseWhere((_k, v: number) => v >= 2)).toBe(2);
    c.store('x', 1);
    c.flush();
    expect(c.size).toBe(0);
  });
});

describe('invalidation by origin', () => {
  const db = accountDbName(ACCT);

  it('drops entries of the changed document, in any spelling of the database name', () => {
    const { c } = cache();
    c.store('dev1', 1, { origins: [{ database: db, id: 'dev1' }] });
    c.store('dev2', 2, { origins: [{ database: db, id: 'dev2' }] });
    c.store('both', 3, {
      origins: [
        { database: db, id: 'dev1' },
        { database: db, id: 'dev2' },
      ],
    });
    expect(c.onDocChange(edit(accountDbName(ACCT, 'unencoded'), 'dev1'))).toBe(2);
    expect(c.get('dev1')).toBeUndefined();
    expect(c.get('both')).toBeUndefined();
    expect(c.get('dev2')).toBe(2);
  });

  it('drops type origins for a change of that type, and all type origins when the type is unknown', () => {
    const { c } = cache();
    c.store('devices', [1], { origins: [{ database: db, type: 'device' }] });
    c.store('users', [2], { origins: [{ database: db, type: 'user' }] });
    expect(c.onDocChange(edit(db, 'anything', 'device'))).toBe(1);
    expect(c.get('users')).toEqual([2]);
    expect(c.onDocChange({ database: db, id: 'gone', action: 'deleted', scope: 'doc' })).toBe(1);
    expect(c.get('users')).toBeUndefined();
  });

  it('drops database origins on any change there, and everything of a database on a db event', () => {
    const { c } = cache();
    c.store('listing', 1, { origins: [{ database: 'offnet' }] });
    c.store('doc', 2, { origins: [{ database: 'offnet', id: 'r1' }] });
    c.store('other', 3, { origins: [{ database: 'accounts', id: 'r1' }] });
    expect(c.onDocChange(edit('offnet', 'zzz'))).toBe(1);
    expect(c.onDocChange({ database: 'offnet', id: 'offnet', action: 'deleted', scope: 'db' })).toBe(1);
    expect(c.get('doc')).toBeUndefined();
    expect(c.get('other')).toBe(3);
  });

  it('takes a bus doc_edited message straight into onDocChange and tells its listeners', () => {
    const { c } = cache();
    const heard: number[] = [];
    c.onInvalidate((e) => heard.push(e.erased));
    c.store(['device', 'dev1'], 1, { origins: [{ database: db, id: 'dev1' }] });
    const msg = docChangeFromConfMessage({
      'Event-Category': 'configuration',
      'Event-Name': 'doc_edited',
      ID: 'dev1',
      Database: db,
      Type: 'device',
    });
    expect(msg.kind).toBe('change');
    if (msg.kind === 'change') c.onDocChange(msg.change);
    expect(c.get(['device', 'dev1'])).toBeUndefined();
    expect(heard).toEqual([1]);
    expect(c.stats().invalidations).toBe(1);
  });
});

describe('close', () => {
  it('is idempotent, drops everything, and refuses later stores', async () => {
    const { c } = cache();
    c.store('a', 1);
    c.close();
    c.close();
    expect(c.get('a')).toBeUndefined();
    let err: unknown;
    try {
      c.store('a', 1);
    } catch (e) {
      err = e;
    }
    expect(isStoreError(err, 'closed')).toBe(true);
    await expect(c.fetch('a', async () => 1)).rejects.toMatchObject({ code: 'closed' });
  });

  it('refuses a maxEntries below 1', () => {
    expect(() => new StoreCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
