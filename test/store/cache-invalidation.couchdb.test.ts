/**
 * Cache invalidation from the change feed: a document cached by this node is edited by
 * another process (another node's crossbar, here a separate Node process using nano)
 * on the CouchDB-protocol server; the ChangeFollower sees the change and the cache drops
 * the entry, so the next read answers the new value. Waits on the cache's invalidation
 * event, never on time.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { memoryLogger } from '../../src/kernel/log.ts';
import {
  ChangeFollower,
  CouchStore,
  StoreCache,
  accountDbName,
  type InvalidationEvent,
} from '../../src/store/index.ts';
import { serviceGate } from '../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../support/couchdb-server.ts';
import { runNode } from './fixtures/run-node.ts';

let server: CouchTestServer | undefined;
const gate = await serviceGate('CouchDB-protocol server', async () => {
  server = await startCouchTestServer();
});
afterAll(async () => server?.close());

describe.skipIf(!gate.available)('cache invalidation by a change made in another process', () => {
  it('drops the cached document when another process edits it, then reads the new value', async () => {
    const { logger } = memoryLogger();
    const store = new CouchStore({ url: server!.url, logger });
    const cache = new StoreCache({ logger });
    const follower = new ChangeFollower({ store, cache, logger });
    const db = accountDbName(randomBytes(16).toString('hex'));
    try {
      await store.createDb(db);
      await store.save(db, { _id: 'dev1', pvt_type: 'device', name: 'before' });
      await store.save(db, { _id: 'dev2', pvt_type: 'device', name: 'untouched' });
      expect((await cache.openDoc(store, db, 'dev1')).name).toBe('before');
      expect((await cache.openDoc(store, db, 'dev2')).name).toBe('untouched');
      cache.store(['devices', db], ['dev1', 'dev2'], { origins: [{ database: db, type: 'device' }] });
      await follower.watch(db);
      expect(follower.watching()).toEqual([accountDbName(db, 'unencoded')]);

      const invalidated = new Promise<InvalidationEvent>((resolve) => cache.onInvalidate(resolve));
      const editor = fileURLToPath(new URL('./fixtures/couch-editor.ts', import.meta.url));
      await runNode(editor, [server!.url, accountDbName(db, 'unencoded'), 'dev1', 'name', 'after']);
      const event = await invalidated;

      expect(event.change).toMatchObject({ id: 'dev1', action: 'edited', type: 'device' });
      expect(event.erased).toBe(2);
      expect(cache.get(['devices', db])).toBeUndefined();
      expect((await cache.openDoc(store, db, 'dev1')).name).toBe('after');
      expect(cache.stats().invalidations).toBe(2);
      expect(cache.filter(() => true).length).toBe(2);
    } finally {
      await follower.close();
      cache.close();
      await store.deleteDb(db);
      await store.close();
    }
  });
});
