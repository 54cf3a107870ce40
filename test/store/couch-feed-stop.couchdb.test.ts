/**
 * CouchDB requests end when they should, whatever happened while they waited: a change
 * feed whose long poll was held across garbage collection (as on a loaded node, where a
 * soak with store outages found nodes that never finished stopping: the store's close
 * waited on a feed whose request never settled, aborted or not) stops when told, and the
 * store's close with it; a request whose answer the server holds fails at the request
 * timeout. On a pouchdb-server this file starts, and on a stand-in that answers headers
 * and never the body.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryLogger } from '../../src/kernel/log.ts';
import { CouchStore, StoreError } from '../../src/store/index.ts';
import { serviceGate } from '../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../support/couchdb-server.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: CouchTestServer | undefined;
const gate = await serviceGate('pouchdb-server (feed stop test)', async () => {
  server = await startCouchTestServer({ spawn: true });
});
afterAll(async () => server?.close());

describe.skipIf(!gate.available)('CouchDB change feed stop', () => {
  it('a feed whose long poll waited through garbage collection still follows, stops when told, and the store closes', async () => {
    const { logger, lines } = memoryLogger();
    const store = new CouchStore({ url: server!.url, logger });
    const db = 'feed_stop_probe';
    await store.createDb(db);
    const seen: string[] = [];
    let onSeen: () => void = () => undefined;
    const subs = [
      store.follow(db, {
        onChange: (c) => {
          seen.push(c.id);
          onSeen();
        },
      }),
      store.follow(db, { onChange: () => undefined }),
    ];
    await Promise.all(subs.map((s) => s.ready));
    // The long polls are out and the server has answered their headers (pouchdb-server does
    // at once, then holds the body until a change or its timeout): a setup wait, not a timing.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    // Told to stop, one stops (its request aborted).
    await subs[1]!.stop();
    // The other still follows: a change made now is seen.
    const delivered = new Promise<void>((resolve) => {
      onSeen = () => seen.includes('after-gc') && resolve();
    });
    await store.save(db, { _id: 'after-gc', pvt_type: 'probe' });
    await delivered;
    await subs[0]!.stop();
    await store.close();
    expect(lines.some((l) => l.msg === 'couchdb store closed')).toBe(true);
  });

  it('a request whose answer the server holds fails unavailable at its timeout, garbage collection or not', async () => {
    // Headers at once, then a body that never comes: a hung server mid-answer.
    const held: Array<() => void> = [];
    const hung: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"_id":');
      held.push(() => res.destroy());
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as { port: number }).port;
    const store = new CouchStore({
      url: `http://127.0.0.1:${port}`,
      logger: memoryLogger().logger,
      requestTimeoutMs: 500,
    });
    try {
      // A document read (through nano) and an attachment read (its own request).
      const reads = [
        () => store.get('somedb', 'doc'),
        () => store.getAttachment('somedb', 'doc', 'greeting.wav'),
      ];
      for (const read of reads) {
        const before = held.length;
        const got = read().then(
          () => undefined,
          (err: unknown) => err,
        );
        while (held.length === before) await new Promise((r) => setImmediate(r));
        for (let i = 0; i < 5; i++) {
          gc();
          await new Promise((r) => setImmediate(r));
        }
        const err = await got;
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('unavailable');
      }
    } finally {
      for (const end of held) end();
      await store.close();
      await new Promise((r) => hung.close(r));
    }
  });
});
