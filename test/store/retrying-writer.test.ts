/**
 * RetryingWriter against a store that cannot be reached (a CouchDB URL on a closed
 * loopback port): the wait queue is bounded, attempts can be capped, close() rejects what
 * waits, retries wait as the backoff policy says. Its happy paths (write lands after an
 * outage, conflicts merged) are in the outage test and the behaviour suite. Also the
 * CouchStore change feed's retries against the same dead store.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer } from 'node:net';
import { memoryLogger } from '../../src/kernel/log.ts';
import { CouchStore, EmbeddedStore, RetryingWriter, type DocumentStore } from '../../src/store/index.ts';
import { watchedLogger } from '../support/watched-logger.ts';
import { expectStoreError } from './store-contract.ts';

function closedPort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 1));
    });
  });
}

async function deadStore(): Promise<DocumentStore> {
  const port = await closedPort();
  return new CouchStore({
    url: `http://127.0.0.1:${port}`,
    logger: memoryLogger().logger,
    requestTimeoutMs: 1000,
  });
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

describe('RetryingWriter while the store is unreachable', () => {
  it('holds at most maxPending writes and refuses more at once', async () => {
    const store = await deadStore();
    const writer = new RetryingWriter({
      store,
      logger: memoryLogger().logger,
      maxPending: 1,
      backoff: { initialMs: 20, maxMs: 50 },
    });
    open.push(writer, store);
    const held = writer.save('accounts', { _id: 'a1' });
    const err = await expectStoreError(writer.save('accounts', { _id: 'a2' }), 'unavailable');
    expect(err.reason).toBe('retry queue full');
    await writer.close();
    await expectStoreError(held, 'closed');
    expect(writer.pending).toBe(0);
    await expectStoreError(writer.save('accounts', { _id: 'a3' }), 'closed');
  });

  it('gives up with the last error after maxAttempts', async () => {
    const store = await deadStore();
    const { logger, lines } = memoryLogger();
    const writer = new RetryingWriter({
      store,
      logger,
      maxAttempts: 3,
      backoff: { initialMs: 5, maxMs: 10 },
    });
    open.push(writer, store);
    await expectStoreError(writer.save('accounts', { _id: 'a1' }), 'unavailable');
    expect(lines.filter((l) => l.msg === 'write failed; retrying until the store is back')).toHaveLength(1);
  });

  it('waits as its backoff says: initialMs, growing by factor, never above maxMs', async () => {
    const store = await deadStore();
    const { logger, lines } = memoryLogger();
    const writer = new RetryingWriter({
      store,
      logger,
      maxAttempts: 5,
      backoff: { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 },
    });
    open.push(writer, store);
    await expectStoreError(writer.save('accounts', { _id: 'a1' }), 'unavailable');
    const waits = lines
      .filter(
        (l) =>
          l.msg === 'write failed; retrying until the store is back' || l.msg === 'write retry scheduled',
      )
      .map((l) => l.retryInMs);
    expect(waits).toEqual([5, 10, 20, 20]);
  });

  it('refuses a bad backoff when constructed, naming the field', async () => {
    const store = await deadStore();
    open.push(store);
    expect(
      () => new RetryingWriter({ store, logger: memoryLogger().logger, backoff: { factor: 0.5 } }),
    ).toThrow(/backoff\.factor must be a number at least 1/);
  });

  it('does not retry what retrying cannot cure', async () => {
    const store = await deadStore();
    const writer = new RetryingWriter({ store, logger: memoryLogger().logger });
    open.push(writer, store);
    await expectStoreError(writer.save('Bad Name', { _id: 'a1' }), 'invalid');
    await expectStoreError(writer.save('accounts', { _id: '_bad' }), 'invalid');
    expect(writer.pending).toBe(0);
  });
});

describe('CouchStore change feed while the store is unreachable', () => {
  it('reports the failure once and retries as its backoff says', async () => {
    const port = await closedPort();
    const { logger, waitFor } = watchedLogger();
    const store = new CouchStore({
      url: `http://127.0.0.1:${port}`,
      logger,
      requestTimeoutMs: 1000,
      backoff: { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 },
    });
    open.push(store);
    const errors: string[] = [];
    const sub = store.follow('accounts', { onChange: () => undefined, onError: (e) => errors.push(e.code) });
    open.push({ close: () => sub.stop() });
    await sub.ready;
    const retries = await waitFor((l) => l.msg === 'change feed retry scheduled', 3);
    await sub.stop();
    const first = await waitFor((l) => l.msg === 'change feed failed; retrying');
    expect(errors).toEqual(['unavailable']);
    expect([first[0]!.retryInMs, ...retries.slice(0, 3).map((l) => l.retryInMs)]).toEqual([5, 10, 20, 20]);
  });

  it('the adapters refuse a bad backoff when constructed, naming the field', () => {
    const { logger } = memoryLogger();
    expect(() => new CouchStore({ url: 'http://127.0.0.1:1', logger, backoff: { initialMs: 0 } })).toThrow(
      /backoff\.initialMs must be a number of ms above 0/,
    );
    expect(
      () => new EmbeddedStore({ dir: '/nonexistent/never-created', logger, backoff: { jitter: 2 } }),
    ).toThrow(/backoff\.jitter must be a fraction from 0 to 1/);
  });
});
