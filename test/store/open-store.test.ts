/**
 * openStore picks the adapter from FIFE_STORE_URL's value, and credentials in a CouchDB
 * URL never reach a log line or an error message.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { memoryLogger } from '../../src/kernel/log.ts';
import { openStore, stripCredentials } from '../../src/store/index.ts';
import { expectStoreError } from './store-contract.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'fife-open-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 1));
    });
  });
}

describe('openStore', () => {
  it('opens the embedded store under <dataDir>/store for "embedded" or nothing', async () => {
    for (const url of ['embedded', undefined, '']) {
      const store = openStore(url, { dataDir, logger: memoryLogger().logger });
      expect(store.kind).toBe('embedded');
      expect(store.location).toBe(join(dataDir, 'store'));
      await store.close();
    }
  });

  it('opens the embedded store in a given folder or file:// URL', async () => {
    const folder = join(dataDir, 'elsewhere');
    for (const url of [folder, pathToFileURL(folder).href]) {
      const store = openStore(url, { logger: memoryLogger().logger });
      expect(store.location).toBe(folder);
      await store.close();
    }
  });

  it('refuses an embedded store without a folder, and unknown schemes, saying what to set', () => {
    expect(() => openStore('embedded', { logger: memoryLogger().logger })).toThrow(/FIFE_STORE_URL/);
    expect(() => openStore('amqp://guest:guest@localhost', { logger: memoryLogger().logger })).toThrow(
      /unsupported store URL scheme/,
    );
  });

  it('opens CouchDB for http(s) URLs and never logs or reports the credentials', async () => {
    const port = await closedPort();
    const { logger, lines } = memoryLogger();
    const store = openStore(`http://admin:s3cr3t-pw@127.0.0.1:${port}/`, { logger, requestTimeoutMs: 1000 });
    expect(store.kind).toBe('couchdb');
    expect(store.location).toBe(`http://127.0.0.1:${port}`);
    const err = await expectStoreError(store.get('accounts', 'a'), 'unavailable');
    await expectStoreError(store.createDb('accounts'), 'unavailable');
    await store.close();
    expect(JSON.stringify(lines)).not.toMatch(/s3cr3t|admin:/);
    expect(`${err.message} ${err.reason}`).not.toMatch(/s3cr3t/);
    expect(lines.some((l) => l.msg === 'document store opened' && l.store === 'couchdb')).toBe(true);
  });

  it('strips userinfo from any URL in a text', () => {
    expect(stripCredentials('GET https://u:p@db.example:6984/x and http://a@b/')).toBe(
      'GET https://db.example:6984/x and http://b/',
    );
  });
});
