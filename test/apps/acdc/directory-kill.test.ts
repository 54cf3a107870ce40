/**
 * acdc_directory killed (terminate skipped, as the soak's chaos `kill` does) stops its
 * account database's change feed: after kills and restarts, one feed is open, not one per kill. Embedded
 * store (a real PouchDB) with `follow` counted; an account with no queues or agents, so the
 * directory starts nothing.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { Runtime, Supervisor, type ChildSpec } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { addAccount } from '../../../apps/registrar/provisioning.ts';
import { DIRECTORY, directoryChildSpec } from '../../../apps/acdc/directory.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { countingFeeds } from '../../support/counting-feeds.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('acdc_directory killed 3 times: its successor follows with one change feed, none is left behind', async () => {
  const { logger } = memoryLogger('acdc-dir-kill@localhost', 'warn');
  const real = new EmbeddedStore({ dir: tmpDir('fife-acdc-dir-kill-'), logger });
  const accountId = await addAccount(real, { name: 'Dir', realm: 'dir.test' });
  const rt = new Runtime({ node: 'acdc-dir-kill@localhost', logger });
  cleanup.push(async () => {
    await rt.shutdown();
    await real.close();
  });
  const { store, open } = countingFeeds(real);
  const none = (): ChildSpec => {
    throw new Error('no queue or agent expected');
  };
  const spec = directoryChildSpec({ store, accountId, queueSpec: none, agentSpec: none });
  const sup = await Supervisor.start(rt, { flags: { intensity: 10, period: 5 }, children: [spec] });
  expect(sup.type).toBe('ok');
  await vi.waitFor(() => expect(open()).toBe(1));
  for (let i = 0; i < 3; i++) {
    const pid = rt.whereis(DIRECTORY)!;
    const ended = rt.awaitExit(pid);
    rt.exit(pid, 'kill');
    await ended;
    await vi.waitFor(() => {
      const now = rt.whereis(DIRECTORY);
      expect(now !== undefined && now !== pid).toBe(true);
    });
    // The successor follows the database again: one feed, not one more per kill.
    await vi.waitFor(() => expect(open()).toBe(1));
  }
  expect(open()).toBe(1);
});
