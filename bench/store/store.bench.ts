/**
 * Store bench: for each adapter (embedded PouchDB/LevelDB in a temp folder; CouchDB adapter
 * against a pouchdb-server process on loopback started here, or FIFE_TEST_COUCHDB_URL),
 * prints operations per second for
 *   - cache hit:       StoreCache.get on a cached document (and openDoc, the async hit path),
 *   - plain Map:       Map.get on the same keys, measured in the same run (the baseline),
 *   - uncached read:   store.get,
 *   - write:           store.save of new documents, one at a time,
 *   - view query:      store.view by key on a built index,
 * with the cache-hit / Map ratio. Each figure runs for about 0.4 s (bounded count too), so
 * the whole bench takes a few seconds. Figures are for comparing runs on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootLogger } from '../../src/kernel/log.ts';
import { CouchStore, EmbeddedStore, StoreCache, type DocumentStore } from '../../src/store/index.ts';
import { startCouchTestServer } from '../../test/support/couchdb-server.ts';

const BUDGET_MS = 400;
const DOCS = 200;
const logger = createRootLogger({ node: 'bench@localhost', level: 'warn' });

async function rate(fn: (i: number) => unknown, maxOps: number, batch = 1): Promise<number> {
  const start = process.hrtime.bigint();
  let ops = 0;
  for (;;) {
    for (let j = 0; j < batch; j++) {
      const r = fn(ops);
      if (r instanceof Promise) await r;
      ops++;
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= BUDGET_MS || ops >= maxOps) return (ops / ms) * 1000;
  }
}

function fmt(n: number): string {
  return n >= 1e6
    ? `${(n / 1e6).toFixed(2)} M/s`
    : n >= 1e3
      ? `${(n / 1e3).toFixed(1)} k/s`
      : `${n.toFixed(0)} /s`;
}

async function benchAdapter(label: string, store: DocumentStore): Promise<void> {
  const db = `bench_${Date.now().toString(36)}`;
  await store.createDb(db);
  await store.save(db, {
    _id: '_design/b',
    views: { by_n: { map: 'function (doc) { if (doc.n !== undefined) emit(doc.n % 50, null); }' } },
  });
  await store.bulkSave(
    db,
    Array.from({ length: DOCS }, (_, i) => ({ _id: `d${i}`, n: i, pvt_type: 'device', name: `device ${i}` })),
  );
  await store.view(db, 'b/by_n', { limit: 1 });

  const cache = new StoreCache({ logger });
  const map = new Map<string, unknown>();
  for (let i = 0; i < DOCS; i++) {
    const doc = await cache.openDoc(store, db, `d${i}`);
    map.set(`d${i}`, doc);
  }
  const keys = Array.from({ length: DOCS }, (_, i) => ['doc', db, `d${i}`] as const);
  const mapKeys = Array.from({ length: DOCS }, (_, i) => `d${i}`);
  globalThis.gc?.();
  let sink = 0;
  const mapRate = await rate(
    (i) => {
      if (map.get(mapKeys[i % DOCS]!) !== undefined) sink++;
    },
    20_000_000,
    1000,
  );
  const hitRate = await rate(
    (i) => {
      if (cache.get(keys[i % DOCS]!) !== undefined) sink++;
    },
    20_000_000,
    1000,
  );
  const openRate = await rate((i) => cache.openDoc(store, db, `d${i % DOCS}`), 5_000_000, 1000);
  const readRate = await rate((i) => store.get(db, `d${i % DOCS}`), 50_000);
  const writeRate = await rate((i) => store.save(db, { _id: `w${i}`, n: i }), 50_000);
  const refreshStart = process.hrtime.bigint();
  await store.view(db, 'b/by_n', { key: 0 });
  const refreshMs = Number(process.hrtime.bigint() - refreshStart) / 1e6;
  const viewRate = await rate((i) => store.view(db, 'b/by_n', { key: i % 50 }), 50_000);
  if (sink === 0) throw new Error('bench optimised away');

  const row = (what: string, r: number, note = ''): string =>
    `  ${what.padEnd(26)} ${fmt(r).padStart(11)}  ${note}\n`;
  process.stdout.write(`\n${label} (${store.location})\n`);
  process.stdout.write(row('plain Map.get (baseline)', mapRate));
  process.stdout.write(
    row('cache hit: get', hitRate, `${(mapRate / hitRate).toFixed(1)}x slower than Map.get`),
  );
  process.stdout.write(
    row('cache hit: openDoc (async)', openRate, `${(mapRate / openRate).toFixed(1)}x slower than Map.get`),
  );
  process.stdout.write(
    row('uncached read: get', readRate, `cache hit is ${(hitRate / readRate).toFixed(0)}x faster`),
  );
  process.stdout.write(row('write: save (sequential)', writeRate));
  process.stdout.write(
    row('view query by key', viewRate, `(index refresh after the writes: ${refreshMs.toFixed(0)} ms)`),
  );
  cache.close();
  await store.deleteDb(db);
}

const dir = mkdtempSync(join(tmpdir(), 'fife-bench-store-'));
const server = await startCouchTestServer();
try {
  await benchAdapter('embedded (PouchDB + LevelDB)', new EmbeddedStore({ dir, logger }));
  await benchAdapter(
    server.external ? 'couchdb (FIFE_TEST_COUCHDB_URL)' : 'couchdb adapter -> pouchdb-server on loopback',
    new CouchStore({ url: server.url, logger }),
  );
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
