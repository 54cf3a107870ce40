/**
 * RetryingWriter against a store that cannot be reached (a CouchDB URL on a closed
 * loopback port): the wait queue is bounded, attempts can be capped, close() rejects what
 * waits. Its happy paths (write lands after an outage, conflicts merged) are in the outage
 * test and the behaviour suite.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer } from 'node:net';
import { memoryLogger } from '../../src/kernel/log.ts';
import { CouchStore, RetryingWriter, type DocumentStore } from '../../src/store/index.ts';
import { expectStoreError } from './store-contract.ts';

async function deadStore(): Promise<DocumentStore> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 1));
    });
  });
  return new CouchStore({ url: `http://127.0.0.1:${port}`, logger: memoryLogger().logger, requestTimeoutMs: 1000 });
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

describe('RetryingWriter while the store is unreachable', () => {
  it('holds at most maxPending writes and refuses more at once', async () => {
    const store = await deadStore();
    const writer = new RetryingWriter({ store, logger: memoryLogger().logger, maxPending: 1, backoff: { initialMs: 20, maxMs: 50 } });
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
    const writer = new RetryingWriter({ store, logger, maxAttempts: 3, backoff: { initialMs: 5, maxMs: 10 } });
    open.push(writer, store);
    await expectStoreError(writer.save('accounts', { _id: 'a1' }), 'unavailable');
    expect(lines.filter((l) => l.msg === 'write failed; retrying until the store is back')).toHaveLength(1);
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
