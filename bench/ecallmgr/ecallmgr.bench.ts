/**
 * Bench: ecallmgr against the switch simulator, on the embedded bus, with the simulator
 * alone measured in the same run as the baseline (this 2-core machine is shared, so only
 * the ratios travel).
 *
 * 1. Call setups per second, CONCURRENCY calls in flight, CALLS calls:
 *    - baseline: the simulator alone driven through EslConnection: park -> answer
 *      (execute) -> hangup -> CHANNEL_DESTROY;
 *    - ecallmgr: park -> route_req on the bus -> a bench app answers park -> route_win ->
 *      the app sends `answer` to the control queue -> CHANNEL_ANSWER call event -> the app
 *      sends `hangup` -> CHANNEL_DESTROY call event.
 *    The exchange declarations the bus sent per call setup are counted too.
 * 2. Concurrent calls held, memory per call after a forced GC (run with --expose-gc, as
 *    bench/run.ts does): HELD calls parked and answered by the simulator alone, then HELD
 *    calls routed and answered through ecallmgr (per-call supervisor, call_control with its
 *    bus queue, call_events). ecallmgr's share = the second minus the first.
 * Env: ECM_BENCH_CALLS (2000), ECM_BENCH_CONCURRENCY (50), ECM_BENCH_HELD (5000),
 * ECM_BENCH_BUS (`embedded`, or an amqp:// URL: the same run on RabbitMQ).
 */
import { createRootLogger } from '../../src/kernel/log.ts';
import { Runtime, Supervisor } from '../../src/kernel/index.ts';
import { build, callEventKey } from '../../src/api/index.ts';
import { busDecoder, busExchangeSpecs, busValidator } from '../../src/api/bus-adapters.ts';
import {
  createTransport,
  EmbeddedBroker,
  ListenerCore,
  encodeJson,
  jsonProperties,
  type BusTransport,
  type Envelope,
  type ListenerOptions,
} from '../../src/bus/index.ts';
import { EslConnection, Switch } from '../../src/switch/index.ts';
import { ecallmgrTree } from '../../supervisors/ecallmgr.sup.ts';
import { ecallmgrSettings } from '../../apps/ecallmgr/config.ts';
import { names } from '../../apps/ecallmgr/context.ts';
import { nodesChildSpec } from '../../src/node/nodes.ts';

const CALLS = Number(process.env.ECM_BENCH_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.ECM_BENCH_CONCURRENCY ?? 50);
const HELD = Number(process.env.ECM_BENCH_HELD ?? 5000);
/** ECM_BENCH_BUS: an amqp:// URL to run on RabbitMQ instead of the embedded broker. */
const BUS = process.env.ECM_BENCH_BUS ?? 'embedded';
const quiet = createRootLogger({
  node: 'bench',
  level: process.env.ECM_BENCH_LOG ?? 'silent',
  destination: { write: (s: string) => void process.stderr.write(s) },
});
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const CTX = { appName: 'bench-app', appVersion: '4.0.0', node: 'bench@localhost' };
const out = (s: string): boolean => process.stdout.write(`${s}\n`);

/** Waiters keyed by "<what>:<call-id>", fired once. */
class Waiters {
  private readonly m = new Map<string, (v: Envelope) => void>();
  wait(key: string): Promise<Envelope> {
    return new Promise((r) => this.m.set(key, r));
  }
  fire(key: string, v: Envelope): void {
    const w = this.m.get(key);
    if (w !== undefined) {
      this.m.delete(key);
      w(v);
    }
  }
}

/** The controlling app: parks every call, records route_win and call events. */
async function benchApp(
  bus: BusTransport,
  waiters: Waiters,
): Promise<{ core: ListenerCore; command(ctl: string, callId: string, app: string): Promise<void> }> {
  const core: ListenerCore = new ListenerCore({
    transport: bus,
    logger: quiet,
    bindings: [
      { exchange: 'callmgr', routingKey: 'route.req.#' },
      { exchange: 'callevt', routingKey: callEventKey('CHANNEL_ANSWER', '*') },
      { exchange: 'callevt', routingKey: callEventKey('CHANNEL_DESTROY', '*') },
      { exchange: 'nodes', routingKey: '' },
    ],
    queueOptions: { maxLength: null, messageTtl: null },
    decode: busDecoder({ maxBytes: 1 << 20 }) as ListenerOptions['decode'],
    validate: busValidator as ListenerOptions['validate'],
    handleEvent: (m) => {
      const name = m['Event-Name'];
      if (m['Event-Category'] === 'nodes') {
        if ('fs1' in ((m['Media-Servers'] ?? {}) as object)) waiters.fire('switch:up', m);
      } else if (name === 'route_req') {
        void core.replyTo(
          m,
          build(
            'route_resp',
            { 'Msg-ID': m['Msg-ID'], 'Server-ID': core.queue, Method: 'park', Routes: [] },
            CTX,
          ) as unknown as Envelope,
        );
      } else waiters.fire(`${String(name)}:${String(m['Call-ID'])}`, m);
      return 'ignore';
    },
  });
  await core.start();
  return {
    core,
    command: (ctl, callId, app) =>
      bus.publish(
        'callctl',
        ctl,
        encodeJson(
          build(
            `dialplan.${app}`,
            { 'Call-ID': callId, 'Server-ID': core.queue },
            CTX,
          ) as unknown as Envelope,
        ),
        jsonProperties(),
      ),
  };
}

async function withEcallmgr<T>(
  fn: (x: {
    sw: Switch;
    rt: Runtime;
    app: Awaited<ReturnType<typeof benchApp>>;
    waiters: Waiters;
    bus: ReturnType<typeof createTransport>;
  }) => Promise<T>,
): Promise<T> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const bus = createTransport({
    url: BUS,
    logger: quiet,
    embeddedBroker: BUS === 'embedded' ? new EmbeddedBroker() : undefined,
    namePrefix: `bench-${process.pid}`,
  });
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  const rt = new Runtime({ node: 'bench@localhost', logger: quiet });
  const waiters = new Waiters();
  const app = await benchApp(bus, waiters);
  const settings = ecallmgrSettings(
    { switches: [{ host: '127.0.0.1', port: sw.port, name: 'fs1' }], keepAliveMs: 0 },
    {},
  );
  const up = waiters.wait('switch:up');
  // The node's cluster view: it advertises the switch (Media-Servers) once ecallmgr has it up.
  const view = await Supervisor.start(rt, {
    flags: { strategy: 'one_for_one', intensity: 1, period: 5 },
    children: [
      nodesChildSpec({ transport: bus, heartbeatMs: 60_000, version: 'bench', startedAt: Date.now() }),
    ],
  });
  if (view.type !== 'ok') throw new Error('cluster view did not start');
  const sup = await Supervisor.start(rt, ecallmgrTree({ bus, node: rt.node, settings }), {
    name: 'ecallmgr_sup',
  });
  if (sup.type !== 'ok') throw new Error('ecallmgr did not start');
  await up;
  try {
    return await fn({ sw, rt, app, waiters, bus });
  } finally {
    const exited = rt.awaitExit(sup.pid);
    rt.exit(sup.pid, 'shutdown');
    await exited;
    await app.core.stop();
    await rt.shutdown();
    await bus.close();
    await sw.close();
  }
}

async function routedCall(
  sw: Switch,
  app: Awaited<ReturnType<typeof benchApp>>,
  waiters: Waiters,
  hangup: boolean,
): Promise<void> {
  const callId = sw.placeCall({ from: '1001', to: '2000' });
  const answered = waiters.wait(`CHANNEL_ANSWER:${callId}`);
  const win = await waiters.wait(`route_win:${callId}`);
  const ctl = String(win['Control-Queue']);
  await app.command(ctl, callId, 'answer');
  await answered;
  if (!hangup) return;
  const destroyed = waiters.wait(`CHANNEL_DESTROY:${callId}`);
  await app.command(ctl, callId, 'hangup');
  await destroyed;
}

async function loop(n: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await one();
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function baselineRate(): Promise<number> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const esl = new EslConnection({ port: sw.port, logger: quiet });
  await esl.start();
  await esl.subscribe(['CHANNEL_PARK', 'CHANNEL_DESTROY']);
  const waiters = new Waiters();
  esl.on('event', (e) => waiters.fire(`${e.name}:${String(e.uuid)}`, {}));
  const rate = await loop(CALLS, CONCURRENCY, async () => {
    const uuid = sw.placeCall({ from: '1001', to: '2000' });
    await waiters.wait(`CHANNEL_PARK:${uuid}`);
    await esl.execute(uuid, 'answer');
    const destroyed = waiters.wait(`CHANNEL_DESTROY:${uuid}`);
    await esl.hangup(uuid);
    await destroyed;
  });
  await esl.close();
  await sw.close();
  return rate;
}

function heap(): { heap: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

async function baselineMemory(): Promise<number> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const esl = new EslConnection({ port: sw.port, logger: quiet });
  await esl.start();
  await esl.subscribe(['CHANNEL_PARK']);
  const waiters = new Waiters();
  esl.on('event', (e) => waiters.fire(`${e.name}:${String(e.uuid)}`, {}));
  const m0 = heap();
  for (let i = 0; i < HELD; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, HELD - i) }, async () => {
        const uuid = sw.placeCall({ from: '1001', to: '2000' });
        await waiters.wait(`CHANNEL_PARK:${uuid}`);
        await esl.execute(uuid, 'answer');
      }),
    );
  }
  const m1 = heap();
  const perCall = (m1.heap - m0.heap) / sw.channelCount;
  out(
    `simulator alone: ${sw.channelCount} calls held, heap ${(perCall / 1024).toFixed(1)} KiB per call (rss +${((m1.rss - m0.rss) / 1048576).toFixed(0)} MiB)`,
  );
  await esl.close();
  await sw.close();
  return perCall;
}

out(
  `ecallmgr bench (node ${process.version}, pid ${process.pid}${(globalThis as { gc?: unknown }).gc === undefined ? ', no --expose-gc: memory figures include garbage' : ''})`,
);
const base = await baselineRate();
out(
  `simulator alone (EslConnection): ${CALLS} calls, ${CONCURRENCY} in flight => ${base.toFixed(0)} call setups/s`,
);
let declaredPerCall = 0;
const ecm = await withEcallmgr(async ({ sw, app, waiters, bus }) => {
  const declared0 = bus.exchangesDeclared;
  const rate = await loop(CALLS, CONCURRENCY, () => routedCall(sw, app, waiters, true));
  declaredPerCall = (bus.exchangesDeclared - declared0) / CALLS;
  return rate;
});
out(
  `through ecallmgr (park -> route_req -> route_win -> answer -> hangup, ${BUS === 'embedded' ? 'embedded bus' : 'RabbitMQ'}): ${ecm.toFixed(0)} call setups/s = ${(ecm / base).toFixed(2)}x the simulator alone (target >= 300/s)`,
);
out(`  exchange declarations sent to the broker per call setup: ${declaredPerCall.toFixed(2)}`);

const simPerCall = await baselineMemory();
await withEcallmgr(async ({ sw, rt, app, waiters }) => {
  const m0 = heap();
  const procs0 = rt.processCount;
  const t0 = performance.now();
  for (let i = 0; i < HELD; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, HELD - i) }, () => routedCall(sw, app, waiters, false)),
    );
  const m1 = heap();
  const held = sw.channelCount;
  const perCall = (m1.heap - m0.heap) / held;
  out(
    `through ecallmgr: ${held} concurrent calls held (routed, answered) in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(rt.processCount - procs0) / held} processes per call`,
  );
  out(
    `  heap per call ${(perCall / 1024).toFixed(1)} KiB in all; ecallmgr's share ${((perCall - simPerCall) / 1024).toFixed(1)} KiB (target < 50 KB); rss +${((m1.rss - m0.rss) / 1048576).toFixed(0)} MiB`,
  );
  const t1 = performance.now();
  const ends = [...sw.channels()].map((c) => waiters.wait(`CHANNEL_DESTROY:${c.uuid}`));
  sw.channels().forEach((c) => sw.hangup(c.uuid));
  let ended = 0;
  const callsSup = rt.whereis(names.calls);
  const gone = new Promise<void>((resolve) => {
    const on = (e: { kind: string; supervisor: unknown }): void => {
      if (e.kind === 'child_terminated' && e.supervisor === callsSup && ++ended === held) {
        rt.events.off('supervisor', on);
        resolve();
      }
    };
    rt.events.on('supervisor', on);
  });
  await Promise.all(ends);
  await gone;
  const left = await Supervisor.countChildren(rt, names.calls);
  if (left.active > 0) out(`  ${left.active} call supervisors still running!`);
  out(
    `  all ${held} hung up, CHANNEL_DESTROY published and call processes gone in ${((performance.now() - t1) / 1000).toFixed(1)} s; processes left: ${rt.processCount - procs0}`,
  );
});
