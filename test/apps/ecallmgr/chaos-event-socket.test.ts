/**
 * `fife chaos drop-event-socket` on a node running ecallmgr against the simulator: the
 * switch sees its event socket closed, ecallmgr's node connection reconnects over a new
 * one, and calls route again.
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

describe('chaos: dropping the event socket of a switch', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('the switch sees the socket closed, ecallmgr reconnects, and a call routes again', async () => {
    const { logger } = memoryLogger('sim@localhost', 'warn');
    const sw = await Switch.start({ port: 0, logger, media: { playbackMs: 20 } });
    cleanups.push(() => sw.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'fife-chaos-esl-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const config: NodeConfig = {
      ...defaultConfig(),
      node: `chaos-esl-${process.pid}@localhost`,
      apps: ['ecallmgr'],
      dataDir,
      logLevel: 'warn',
      settings: {
        ecallmgr: { switches: [{ host: '127.0.0.1', port: sw.port }], keepAliveMs: 10 },
      },
    };
    const bus = createTransport({ url: 'embedded', logger, embeddedBroker: defaultEmbeddedBroker() });
    await bus.start();
    cleanups.push(() => bus.close());
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
    const app = await new TestApp(bus, logger, 'chaos-esl-app').start();
    cleanups.push(() => app.stop());
    const node: FifeNode = await startNode({ config, logDestination: { write: () => undefined } });
    cleanups.push(() => node.stop());
    await expect.poll(() => sw.connectionCount, { timeout: 10_000 }).toBe(1);
    const switchStatus = async () =>
      ((await (await fetch(`${node.adminUrl}/nodes`)).json()) as { switches: Array<{ status: string }> })
        .switches[0]?.status;
    await expect.poll(switchStatus, { timeout: 10_000 }).toBe('up');

    const closed = new Promise<void>((resolve) => sw.onConnectionClosed(() => resolve()));
    const down = node.runtime.events.waitFor('fault', (e) => e.kind === 'drop-event-socket');
    const res = await fetch(`${node.adminUrl}/chaos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'drop-event-socket' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { target: string; params: { switches: string[] } };
    expect(body.params.switches).toHaveLength(1);
    expect(await down).toMatchObject({ phase: 'injected', target: body.target });
    await closed;
    // A new socket: the simulator counts it, ecallmgr says the switch is up again.
    await expect.poll(() => sw.connectionCount, { timeout: 10_000 }).toBe(1);
    await expect.poll(switchStatus, { timeout: 10_000 }).toBe('up');
    const callId = sw.placeCall({ from: '1001', to: '2000' });
    const ctl = await app.routeWin(callId);
    await app.command(ctl, callId, 'answer');
    await app.waitEvent(callId, 'CHANNEL_ANSWER');
  });
});
