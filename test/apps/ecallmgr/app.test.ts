/**
 * The ecallmgr WhApp in a node: started by the apps controller from config
 * (settings.ecallmgr.switches), connected to the simulator, routing a call over the
 * node's bus; a bad setting fails the app's start naming the key; stopping the node
 * closes the switch connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { defaultConfig, type NodeConfig } from '../../../src/node/config.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, defaultEmbeddedBroker } from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import { Switch } from '../../../src/switch/index.ts';
import { TestApp } from './test-app.ts';

describe('ecallmgr as a WhApp in a node', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(settings: Record<string, unknown>): Promise<{ config: NodeConfig; sw: Switch }> {
    const { logger } = memoryLogger('sim@localhost', 'warn');
    const sw = await Switch.start({ port: 0, logger, media: { playbackMs: 20 } });
    cleanups.push(() => sw.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'fife-ecm-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const config: NodeConfig = {
      ...defaultConfig(),
      node: `ecm-node-${process.pid}@localhost`,
      apps: ['ecallmgr'],
      dataDir,
      logLevel: 'warn',
      settings: { ecallmgr: settings },
    };
    return { config, sw };
  }

  it('starts from config, routes a call over the node bus, and lets go of the switch when the node stops', async () => {
    const { config, sw } = await setup({ switches: [{ host: '127.0.0.1', port: 0 }], keepAliveMs: 10 });
    (config.settings.ecallmgr!.switches as Array<Record<string, unknown>>)[0]!.port = sw.port;
    const { logger } = memoryLogger('app@localhost', 'warn');
    const bus = createTransport({ url: 'embedded', logger, embeddedBroker: defaultEmbeddedBroker() });
    await bus.start();
    cleanups.push(() => bus.close());
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
    const app = await new TestApp(bus, logger, 'node-test-app').start();
    cleanups.push(() => app.stop());
    let node: FifeNode | undefined = await startNode({ config, logDestination: { write: () => undefined } });
    cleanups.push(() => node?.stop());
    await app.waitFor(
      (m) =>
        m['Event-Category'] === 'nodes' &&
        m.Node === config.node &&
        Object.keys((m['Media-Servers'] ?? {}) as object).length === 1,
      'switch up in the node heartbeat',
    );
    const callId = sw.placeCall({ from: '1001', to: '2000' });
    const ctl = await app.routeWin(callId);
    await app.command(ctl, callId, 'answer');
    await app.waitEvent(callId, 'CHANNEL_ANSWER');
    const closed = new Promise<void>((resolve) => sw.onConnectionClosed(() => resolve()));
    await node.stop();
    node = undefined;
    await closed;
    expect(sw.connectionCount).toBe(0);
  });

  it('a malformed setting fails the app start with a message naming the key', async () => {
    const { config } = await setup({ switches: [{ host: '127.0.0.1', port: 'eighty' }] });
    await expect(startNode({ config, logDestination: { write: () => undefined } })).rejects.toThrow(
      /app 'ecallmgr' failed to start: .*switches\[0\]\.port/,
    );
  });
});
