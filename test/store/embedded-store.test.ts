/**
 * The DocumentStore behaviour suite against the embedded adapter (PouchDB on LevelDB in a
 * temporary folder). Runs on every test run: it needs nothing installed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { memoryLogger } from '../../src/kernel/log.ts';
import { EmbeddedStore } from '../../src/store/index.ts';
import { describeStoreContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'fife-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract('embedded', async () => new EmbeddedStore({ dir, logger: memoryLogger().logger }));
