/**
 * media_mgr bench: a voicemail-sized WAV (1 MiB, about 65 s of 8 kHz 16-bit mono) PUT to
 * the store proxy one after the other, then GET back, on each adapter (embedded in a temp
 * folder; CouchDB adapter on a pouchdb-server process started here, or
 * FIFE_TEST_COUCHDB_URL). Prints round trips per second and MiB/s for each, over about
 * 1 s (bounded count too). Figures are for comparing runs on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Runtime, Supervisor } from '../../src/kernel/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import { CouchStore, EmbeddedStore, type DocumentStore } from '../../src/store/index.ts';
import { startCouchTestServer } from '../../test/support/couchdb-server.ts';
import { mediaMgrTree } from '../../supervisors/media_mgr.sup.ts';
import { mediaBaseUrl, mediaStoreUrl } from '../../apps/media_mgr/media-urls.ts';

const BUDGET_MS = 1000;
const MAX_OPS = 200;
const SIZE = 1024 * 1024;
const logger = createRootLogger({ node: 'bench@localhost', level: 'warn' });

async function timed(label: string, fn: (i: number) => Promise<void>): Promise<void> {
  const start = process.hrtime.bigint();
  let ops = 0;
  let ms = 0;
  while (ms < BUDGET_MS && ops < MAX_OPS) {
    await fn(ops++);
    ms = Number(process.hrtime.bigint() - start) / 1e6;
  }
  const perS = (ops / ms) * 1000;
  console.log(
    `  ${label.padEnd(10)} ${perS.toFixed(1).padStart(7)} /s  ${((perS * SIZE) / 2 ** 20).toFixed(1)} MiB/s`,
  );
}

async function run(label: string, store: DocumentStore): Promise<void> {
  const rt = new Runtime({ node: 'bench@localhost', logger });
  const db = `bench_media_${randomBytes(3).toString('hex')}`;
  await store.createDb(db);
  const r = await Supervisor.start(
    rt,
    mediaMgrTree({ store, config: { settings: { media_mgr: { port: 0 } } } }, {}),
  );
  if (r.type !== 'ok') throw new Error('media_mgr did not start');
  const wav = randomBytes(SIZE) as unknown as BodyInit;
  const url = (i: number): string => mediaStoreUrl(mediaBaseUrl(rt)!, db, `msg${i}`, 'message.wav');
  console.log(`${label}:`);
  let n = 0;
  await timed('PUT', async (i) => {
    const res = await fetch(url(i), { method: 'PUT', headers: { 'content-type': 'audio/x-wav' }, body: wav });
    if (res.status !== 201) throw new Error(`PUT answered ${res.status}`);
    await res.arrayBuffer();
    n = i + 1;
  });
  await timed('GET', async (i) => {
    const res = await fetch(url(i % n));
    if ((await res.arrayBuffer()).byteLength !== SIZE) throw new Error('short GET');
  });
  await rt.shutdown();
  await store.deleteDb(db);
  await store.close();
}

const dir = mkdtempSync(join(tmpdir(), 'fife-bench-media-'));
try {
  await run('embedded', new EmbeddedStore({ dir, logger }));
  const server = await startCouchTestServer();
  try {
    await run('couchdb (pouchdb-server)', new CouchStore({ url: server.url, logger }));
  } finally {
    await server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
