/**
 * cache_sync behaviour, run on the embedded bus (cache-sync.test.ts) and on RabbitMQ
 * (cache-sync.rabbitmq.test.ts): a doc change announced by one node drops the cached
 * copies on every other node, and nothing else.
 */
import { afterEach, expect, it } from 'vitest';
import { Runtime, GenServer, type Pid } from '../../src/kernel/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, type RecoveringTransport } from '../../src/bus/index.ts';
import { GenListener } from '../../src/bus/gen-listener.ts';
import { StoreCache } from '../../src/store/index.ts';
import { CacheSync, publishDocChange } from '../../src/node/cache-sync.ts';
import type { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';

const CTX = { appName: 'crossbar', appVersion: '0.1.0', node: 'writer@localhost' };

export function cacheSyncSuite(url: string, broker?: () => EmbeddedBroker): void {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function node(
    name: string,
  ): Promise<{ rt: Runtime; t: RecoveringTransport; cache: StoreCache; pid: Pid }> {
    const { logger } = memoryLogger(`${name}@localhost`, 'warn');
    const t = createTransport({ url, logger, embeddedBroker: broker?.(), namePrefix: `cachesync-${name}` });
    await t.start();
    const rt = new Runtime({ node: `${name}@localhost`, logger });
    const cache = new StoreCache({ logger });
    const pid = ((await GenListener.start(rt, CacheSync, { cache }, { transport: t })) as { pid: Pid }).pid;
    cleanup.push(async () => {
      await GenServer.stop(rt, pid, 'shutdown');
      await rt.shutdown();
      cache.close();
      await t.close();
    });
    return { rt, t, cache, pid };
  }

  it('a doc_edited from one node drops the cached copy on every node, and only that one', async () => {
    const a = await node('a');
    const b = await node('b');
    const db = `account%2Fab%2Fcd%2F${Date.now().toString(16)}`;
    for (const n of [a, b]) {
      n.cache.store(['device', 'dev1'], { password: 'old' }, { origins: [{ database: db, id: 'dev1' }] });
      n.cache.store(['device', 'dev2'], { password: 'keep' }, { origins: [{ database: db, id: 'dev2' }] });
    }
    const dropped = [a, b].map(
      (n) =>
        new Promise<void>((resolve) => {
          const off = n.cache.onInvalidate(() => {
            off();
            resolve();
          });
        }),
    );
    await publishDocChange(a.t, 'edited', { database: db, id: 'dev1', type: 'device', rev: '2-x' }, CTX);
    await Promise.all(dropped);
    for (const n of [a, b]) {
      expect(n.cache.get(['device', 'dev1'])).toBeUndefined();
      expect(n.cache.get(['device', 'dev2'])).toEqual({ password: 'keep' });
    }
  });
}
