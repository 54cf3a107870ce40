/**
 * Store outage: the CouchDB-protocol server (a pouchdb-server process this file starts) is
 * killed mid-run by its pid. Cached reads go on; direct reads and writes fail at once with
 * 'unavailable'; a RetryingWriter holds its write; the server is started again on the same
 * port with the same data, the held write lands, and the change feed resumes so the cache
 * is invalidated again. Always uses its own server, even when FIFE_TEST_COUCHDB_URL is set.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { memoryLogger } from '../../src/kernel/log.ts';
import {
  ChangeFollower,
  CouchStore,
  RetryingWriter,
  StoreCache,
  type InvalidationEvent,
} from '../../src/store/index.ts';
import { serviceGate } from '../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../support/couchdb-server.ts';
import { expectStoreError } from './store-contract.ts';

let server: CouchTestServer | undefined;
const gate = await serviceGate('pouchdb-server (outage test)', async () => {
  server = await startCouchTestServer({ spawn: true });
});
afterAll(async () => server?.close());

describe.skipIf(!gate.available)('store outage and recovery', () => {
  it('serves cached reads, fails direct calls clearly, holds a retried write, and recovers', async () => {
    const { logger, lines } = memoryLogger();
    const store = new CouchStore({
      url: server!.url,
      logger,
      requestTimeoutMs: 2000,
      backoff: { initialMs: 50, maxMs: 400 },
    });
    const cache = new StoreCache({ logger });
    const follower = new ChangeFollower({ store, cache, logger });
    const writer = new RetryingWriter({ store, logger, backoff: { initialMs: 50, maxMs: 400 } });
    const db = 'system_config';
    try {
      await store.createDb(db);
      const v1 = await store.save(db, {
        _id: 'ecallmgr',
        pvt_type: 'config',
        default: { fs_nodes: ['fs1'] },
      });
      expect((await cache.openDoc(store, db, 'ecallmgr')).default).toEqual({ fs_nodes: ['fs1'] });
      await follower.watch(db);

      await server!.stop();

      expect((await cache.openDoc(store, db, 'ecallmgr'))._rev).toBe(v1._rev);
      const readErr = await expectStoreError(store.get(db, 'ecallmgr'), 'unavailable');
      expect(readErr.message).toMatch(/store unavailable \(get system_config ecallmgr\)/);
      await expectStoreError(cache.openDoc(store, db, 'not-cached'), 'unavailable');
      await expectStoreError(store.save(db, { _id: 'x' }), 'unavailable');

      const held = writer.save(db, { _id: 'cdr-1', pvt_type: 'cdr', duration: 42 });
      expect(writer.pending).toBe(1);

      await server!.start();

      const landed = await held;
      expect(landed._rev).toMatch(/^1-/);
      expect(writer.pending).toBe(0);
      expect((await store.get(db, 'cdr-1')).duration).toBe(42);
      expect(lines.some((l) => l.msg === 'write failed; retrying until the store is back')).toBe(true);

      const invalidated = new Promise<InvalidationEvent>((resolve) => cache.onInvalidate(resolve));
      await store.save(db, { ...v1, default: { fs_nodes: ['fs1', 'fs2'] } });
      expect((await invalidated).change.id).toBe('ecallmgr');
      expect((await cache.openDoc(store, db, 'ecallmgr')).default).toEqual({ fs_nodes: ['fs1', 'fs2'] });
      expect(
        lines.some((l) => l.msg === 'change feed interrupted; cached entries are served until it resumes'),
      ).toBe(true);
      expect(lines.some((l) => l.msg === 'change feed resumed')).toBe(true);
    } finally {
      await writer.close();
      await follower.close();
      cache.close();
      await store.close();
    }
  });
});
