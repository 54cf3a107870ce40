/**
 * Restart persistence of the embedded store: a separate node process writes documents and
 * a design view into a data folder and exits; a new store opened on the same folder (as a
 * restarted node would) finds the documents, their revision history, and the view.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryLogger } from '../../src/kernel/log.ts';
import { accountDbName, openStore } from '../../src/store/index.ts';
import { runNode } from './fixtures/run-node.ts';
import { expectStoreError } from './store-contract.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'fife-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('embedded store across a node restart', () => {
  it('keeps documents, revisions and design views written by a node that has exited', async () => {
    const folder = join(dataDir, 'store');
    const out = await runNode(fileURLToPath(new URL('./fixtures/embedded-node.ts', import.meta.url)), [
      folder,
    ]);
    const { firstRev } = JSON.parse(out) as { firstRev: string };

    const store = openStore('embedded', { dataDir, logger: memoryLogger().logger });
    try {
      const db = accountDbName('4fe69c5b61015084f1fe5684abc6e502');
      expect(await store.dbExists(db)).toBe(true);
      const dev1 = await store.get(db, 'dev1');
      expect(dev1).toMatchObject({ name: 'desk phone', owner_id: 'u1' });
      expect(dev1._rev).toMatch(/^2-/);
      await expectStoreError(store.save(db, { _id: 'dev1', _rev: firstRev, name: 'stale' }), 'conflict');
      const view = await store.view(db, 'devices/by_owner', { key: 'u2' });
      expect(view.rows.map((r) => [r.id, r.value])).toEqual([['dev2', 'softphone']]);
      const changes = await store.changes(db, { since: '0' });
      expect(changes.results.map((c) => c.id).sort()).toEqual(['_design/devices', 'dev1', 'dev2']);
    } finally {
      await store.close();
    }
  });
});
