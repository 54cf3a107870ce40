/**
 * How fast a node recovers from injected faults (printed figures, no assertion):
 * - kill -> child_restarted: the time a supervisor takes to restart a killed worker;
 * - sever-bus with a hold of H ms -> the bus 'ready' again: the time past the hold.
 * Runs on the embedded bus, and on RabbitMQ when FIFE_TEST_AMQP_URL or the local broker
 * answers. Under a minute.
 */
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { startNode, type NodeServices } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { GenServer, ok, noreply, type AppDefinition } from '../../src/kernel/index.ts';
import { injectFault } from '../../src/node/chaos.ts';

const AMQP = process.env.FIFE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const KILLS = 200;
const SEVERS = 5;
const HOLD_MS = 200;

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
const fmt = (xs: number[]): string =>
  `median ${pct(xs, 0.5).toFixed(2)} ms, p95 ${pct(xs, 0.95).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length})`;

async function run(bus: string): Promise<void> {
  let services: NodeServices | undefined;
  const app: AppDefinition<NodeServices> = {
    name: 'victims',
    tree: (env) => {
      services = env;
      return {
        flags: { strategy: 'one_for_one', intensity: 10_000, period: 1 },
        children: [
          GenServer.childSpec(
            'v',
            { name: 'victim', init: () => ok(null), handleInfo: (_m: unknown, s: null) => noreply(s) },
            undefined,
            { name: 'victim' },
          ),
        ],
      };
    },
  };
  const config = loadConfig({
    env: {
      FIFE_DATA_DIR: mkdtempSync(join(tmpdir(), 'fife-bench-chaos-')),
      FIFE_NODE: 'bench-chaos@localhost',
      FIFE_APPS: 'victims',
      FIFE_BUS_URL: bus,
      FIFE_LOG_LEVEL: 'error',
    },
  });
  const node = await startNode({ config, extraApps: [app], logDestination: { write: () => true } });
  const rt = node.runtime;
  const deps = { runtime: rt, bus: services!.bus, log: node.log, kernelRoot: 'kernel_sup' };
  try {
    const restarts: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const done = rt.events.waitFor('supervisor', (e) => e.kind === 'child_restarted' && e.childId === 'v');
      const t0 = performance.now();
      injectFault(deps, { kind: 'kill', name: 'victim' });
      await done;
      restarts.push(performance.now() - t0);
    }
    const past: number[] = [];
    for (let i = 0; i < SEVERS; i++) {
      const ready = new Promise<void>((r) => services!.bus.once('ready', () => r()));
      const t0 = performance.now();
      injectFault(deps, { kind: 'sever-bus', ms: HOLD_MS });
      await ready;
      past.push(performance.now() - t0 - HOLD_MS);
    }
    const name = bus === 'embedded' ? 'embedded' : 'rabbitmq';
    console.log(`${name}: kill -> restarted: ${fmt(restarts)}`);
    console.log(`${name}: sever-bus (hold ${HOLD_MS} ms) -> ready, past the hold: ${fmt(past)}`);
  } finally {
    await node.stop();
  }
}

await run('embedded');
const rabbit = await amqp.connect(AMQP, { timeout: 2000 }).then(
  async (c) => (await c.close(), true),
  () => false,
);
if (rabbit) await run(AMQP);
else console.log('rabbitmq: not reachable, skipped');
