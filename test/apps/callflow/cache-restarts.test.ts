/**
 * callflow_cache ended without its terminate (killed, as the soak's chaos `kill` does, or
 * by an exit signal it does not trap) stops its change feeds: after N starts and kills,
 * the store has no feed left open. Before, each kill left its ChangeFollower's feed
 * long-polling the store for ever, holding the dead process's cache (the soak's node
 * running callflow kills had 378 more open feeds 9 minutes in).
 * Embedded bus and embedded store (a real PouchDB); the store's `follow` is counted.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Runtime, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { EmbeddedBroker, createTransport, type RecoveringTransport } from '../../../src/bus/index.ts';
import { GenListener } from '../../../src/bus/gen-listener.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { countingFeeds } from '../../support/counting-feeds.ts';
import { addAccount } from '../../../apps/registrar/provisioning.ts';
import { CF_CACHE, CfCache, cfAccount } from '../../../apps/callflow/cache.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

describe('callflow_cache killed', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('leaves no change feed open after 5 starts and kills', async () => {
    const { logger } = memoryLogger('cf-cache-kill@localhost', 'warn');
    const real = new EmbeddedStore({ dir: tmpDir('fife-cf-cache-kill-'), logger });
    const accountId = await addAccount(real, { name: 'Kill', realm: 'kill.test' });
    const t: RecoveringTransport = createTransport({
      url: 'embedded',
      logger,
      embeddedBroker: new EmbeddedBroker(),
      namePrefix: 'cf-cache-kill',
    });
    await t.start();
    const rt = new Runtime({ node: 'cf-cache-kill@localhost', logger });
    cleanup.push(async () => {
      await rt.shutdown();
      await t.close();
      await real.close();
    });
    const { store, open } = countingFeeds(real);

    for (let i = 0; i < 5; i++) {
      const r = await GenListener.start(rt, CfCache, { store }, { transport: t, name: CF_CACHE });
      const pid = (r as { pid: Pid }).pid;
      // the account's database is followed from its first use
      expect(await cfAccount(rt, { accountId })).toMatchObject({ accountId });
      expect(open()).toBe(1);
      const ended = rt.awaitExit(pid);
      rt.crash(pid, 'killed');
      expect(await ended).toBe('killed');
      await vi.waitFor(() => expect(open()).toBe(0));
    }
  });
});
