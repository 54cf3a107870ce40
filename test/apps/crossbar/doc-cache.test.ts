/**
 * crossbar's document cache (apps/crossbar/doc-cache.ts) on the embedded store: a read is
 * served again from the cache, yet a client reads its own writes at once, a write made by
 * someone else (another app, another node) is seen once its change arrives, and what a
 * caller gets is its own copy.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedStore, storeCacheTotals } from '../../../src/store/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { CrossbarDocCache } from '../../../apps/crossbar/doc-cache.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

const { logger } = memoryLogger();
const backing = new EmbeddedStore({ dir: tmpDir('fife-cb-cache-'), logger });
const docs = new CrossbarDocCache(backing, logger);
afterAll(async () => {
  await docs.close();
  await backing.close();
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("crossbar's document cache", () => {
  it('serves a read again from the cache; own writes are read at once, others once their change arrives', async () => {
    const db = 'account%2Fca%2Fch%2Fe0000000000000000000000000';
    await backing.createDb(db);
    // Written before the feed starts, so no late change of it drops the first read below.
    const saved = await backing.save(db, { _id: 'dev1', pvt_type: 'device', name: 'one' });
    await docs.watch(db);

    expect((await docs.store.get(db, 'dev1')).name).toBe('one');
    const before = storeCacheTotals().hits;
    const again = await docs.store.get(db, 'dev1');
    expect(storeCacheTotals().hits).toBe(before + 1);
    again.name = 'changed by the caller';
    expect((await docs.store.get(db, 'dev1')).name).toBe('one');

    const edited = await docs.store.save(db, { ...saved, name: 'two' });
    expect((await docs.store.get(db, 'dev1')).name).toBe('two');

    await backing.save(db, { ...edited, name: 'three' });
    expect(
      (
        await until(
          () => docs.store.get(db, 'dev1'),
          (d) => d.name === 'three',
        )
      ).name,
    ).toBe('three');

    const current = await docs.store.get(db, 'dev1');
    await docs.store.remove(db, 'dev1', current._rev);
    await expect(docs.store.get(db, 'dev1')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a database not watched is read from the store each time', async () => {
    await backing.createDb('unwatched');
    await backing.save('unwatched', { _id: 'x', n: 1 });
    const before = storeCacheTotals();
    expect((await docs.store.get('unwatched', 'x')).n).toBe(1);
    expect(storeCacheTotals()).toEqual(before);
  });
});
