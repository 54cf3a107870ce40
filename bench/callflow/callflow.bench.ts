/**
 * Bench: callflow with ecallmgr and the registrar (the callflow test harness,
 * test/apps/callflow/harness.ts, with nothing recorded and logs at warn), an account
 * holding CF_BENCH_CALLFLOWS callflows (numbers and patterns mixed). The switch simulator
 * the calls run on is, by default, its own OS process (switch-process.ts, which also plays
 * the phones): FreeSWITCH is a separate process beside ecallmgr in production, and in one
 * process the simulator's own work (rendering, writing and reading every event) would take
 * the platform's event loop and CPU (ecallmgr connects to it; the harness's own simulator
 * then only registers the phones on the bus, as Kamailio would, and the switch process
 * has phone 1002 too). CF_BENCH_SWITCH=inprocess runs the calls on the harness's
 * in-process simulator instead (the layout measured before the split). Every
 * figure sits beside a baseline measured in the same run (this 2-core machine is shared,
 * so only the ratios travel):
 * 1. route_req -> route_resp latency p50/p99 (the callflow app, cache warm) beside the
 *    registrar's authn_req -> authn_resp round trip, same requester and concurrency, in
 *    alternating rounds (target: route p50 <= 1.5x authn p50).
 * 2. Complete calls per second: place -> route_req -> park -> route_win -> the executor's
 *    `device` bridge (reg_query, the registered phone answers at once) -> the phone hangs
 *    up -> callflow hangs the caller up -> the caller's CHANNEL_DESTROY; beside the
 *    simulator alone placing the same calls through its event socket (park, bridge,
 *    B hangs up, A hung up), in this process. Target >= 300/s. CPU per call of the
 *    platform's process (and of the switch's, when it has its own).
 * 3. Memory per bridged call: CF_BENCH_HELD calls held bridged (executor, call_control,
 *    call_events up), heap and RSS deltas after GC of the platform's process (in-process:
 *    minus the simulator alone holding the same bridged calls; target < 100 KB).
 * 4. Route burst (switch in its own process only): CF_BENCH_BURST calls placed at once
 *    (test/apps/callflow/burst.suite.ts's case, as a figure): time until the last is
 *    bridged, each call's placed -> bridged p50, and the calls lost (not bridged
 *    within 10 s: e.g. a route_win past callflow's 3 s wait), then all hung up.
 * A step that does not complete fails with an error naming it (every wait has a timeout).
 * Env: CF_BENCH_BUS (`embedded`, or an amqp:// URL: the same run on RabbitMQ),
 * CF_BENCH_SWITCH (`process`, or `inprocess`), CF_BENCH_CALLFLOWS (1000),
 * CF_BENCH_ROUND_MS (1000), CF_BENCH_IN_FLIGHT (8, route and authn requests),
 * CF_BENCH_CALLS (600), CF_BENCH_CONCURRENCY (50: with 20 calls in flight the platform's
 * process sat idle about a tenth of the time, every call waiting on the switch's process,
 * so the rate measured the two processes' hand-offs more than either's capacity),
 * CF_BENCH_HELD (500), CF_BENCH_BURST
 * (100; 0 skips the burst), CF_BENCH_PROFILE
 * (a directory: CPU profiles of this process in the route and complete-call phases,
 * route.cpuprofile and calls.cpuprofile, for Chrome DevTools; the switch process's in switch/).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, authnReqKey, routeReqKey } from '../../src/api/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import { ensureDesignDocs, readDesignDocs } from '../../src/store/index.ts';
import { EslConnection, Switch } from '../../src/switch/index.ts';
import { startCfHarness, REALM, type CfHarness } from '../../test/apps/callflow/harness.ts';
import { SWITCH } from '../../test/apps/ecallmgr/harness.ts';
import { callflowCall, drive, eslWaits, placeCall, STEP_MS, switchWaits, type Wait } from './drive.ts';

const BUS = process.env.CF_BENCH_BUS ?? 'embedded';
const CALLFLOWS = Number(process.env.CF_BENCH_CALLFLOWS ?? 1000);
const ROUND_MS = Number(process.env.CF_BENCH_ROUND_MS ?? 1000);
const IN_FLIGHT = Number(process.env.CF_BENCH_IN_FLIGHT ?? 8);
const CALLS = Number(process.env.CF_BENCH_CALLS ?? 600);
const CONCURRENCY = Number(process.env.CF_BENCH_CONCURRENCY ?? 50);
const HELD = Number(process.env.CF_BENCH_HELD ?? 500);
const BURST = Number(process.env.CF_BENCH_BURST ?? 100);
const PROFILE = process.env.CF_BENCH_PROFILE;
const OWN_PROCESS = (process.env.CF_BENCH_SWITCH ?? 'process') !== 'inprocess';
const ACCOUNT_DESIGN = new URL('../../apps/callflow/couchdb/account', import.meta.url);
const CTX = { appName: 'bench', appVersion: '1.0.0', node: 'kamailio@bench' };
const quiet = createRootLogger({ node: 'bench', level: 'silent' });
const out = (s: string): boolean => process.stdout.write(`${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** `fn` under the CPU profiler when CF_BENCH_PROFILE names a directory (`<name>.cpuprofile`). */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (PROFILE === undefined || PROFILE === '') return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(PROFILE, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** The account's callflows: 9 in 10 by number, 1 in 10 by pattern, all ringing 1002. */
async function writeCallflows(h: CfHarness): Promise<string[]> {
  const flow = { module: 'device', data: { id: h.devices['1002'] }, children: {} };
  const docs = [];
  const dialled: string[] = [];
  for (let i = 0; i < CALLFLOWS; i++) {
    if (i % 10 === 9) {
      const prefix = `9${String(i).padStart(4, '0')}`;
      docs.push({
        _id: `cf-p${i}`,
        pvt_type: 'callflow',
        numbers: [],
        patterns: [`^${prefix}(\\d{3})$`],
        flow,
      });
      dialled.push(`${prefix}${String(i % 1000).padStart(3, '0')}`);
    } else {
      const ext = String(20000 + i);
      docs.push({
        _id: `cf-n${i}`,
        pvt_type: 'callflow',
        numbers: [ext, `+1415555${String(i).padStart(4, '0')}`],
        flow,
      });
      dialled.push(ext);
    }
  }
  for (let i = 0; i < docs.length; i += 250) await h.store.bulkSave(h.accountDb, docs.slice(i, i + 250));
  // The callflow app's design documents and the views the look-ups read, made now: made
  // by the first route_req instead, on a loaded machine they can outlast the cache's call
  // timeout (that route then fails).
  await ensureDesignDocs(h.store, h.accountDb, readDesignDocs(fileURLToPath(ACCOUNT_DESIGN)));
  for (const view of ['callflows/listing_by_number', 'callflows/listing_by_pattern', 'attributes/owned'])
    await h.store.view(h.accountDb, view, { limit: 1 });
  return dialled;
}

async function routeLatency(h: CfHarness, dialled: string[]): Promise<void> {
  const routeReq = (i: number): Promise<Envelope> => {
    const to = `${dialled[i % dialled.length]}@${REALM}`;
    const m = build(
      'route_req',
      { 'Call-ID': `bench-${i}-${Math.random()}`, From: `1001@${REALM}`, To: to, Request: to },
      CTX,
    ) as unknown as Envelope;
    return h.requester.call(
      m,
      { exchange: 'callmgr', routingKey: routeReqKey('audio', { realm: REALM, user: '1001' }) },
      { timeoutMs: STEP_MS },
    );
  };
  const authnReq = (i: number): Promise<Envelope> => {
    const user = ['1001', '1002', 'u2a', 'u2b'][i % 4]!;
    const m = build(
      'authn_req',
      { 'Auth-User': user, 'Auth-Realm': REALM, From: `sip:${user}@${REALM}`, To: `sip:${user}@${REALM}` },
      CTX,
    ) as unknown as Envelope;
    return h.requester.call(
      m,
      { exchange: 'callmgr', routingKey: authnReqKey(REALM) },
      { timeoutMs: STEP_MS },
    );
  };
  const timed = (lat: number[], req: (i: number) => Promise<Envelope>, want: string) => async (i: number) => {
    const t0 = performance.now();
    const r = await req(i);
    lat.push(performance.now() - t0);
    if (r['Event-Name'] !== want) throw new Error(`expected ${want}, got ${String(r['Event-Name'])}`);
  };
  // warm: every dialled number once (the cache keeps the look-up), the credentials once.
  // One route first, alone: it builds the store's views, which on a loaded machine can
  // outlast the cache's call timeout for requests queued behind it.
  const t0 = performance.now();
  await timed([], routeReq, 'route_resp')(0);
  await drive(IN_FLIGHT, timed([], routeReq, 'route_resp'), { total: dialled.length });
  out(
    `  warm-up: ${dialled.length} numbers routed once (cache cold) in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  await drive(IN_FLIGHT, timed([], authnReq, 'authn_resp'), { total: 40 });
  const route: number[] = [];
  const authn: number[] = [];
  const rates = { route: [] as number[], authn: [] as number[] };
  for (let r = 0; r < 3; r++) {
    rates.authn.push((await drive(IN_FLIGHT, timed(authn, authnReq, 'authn_resp'), { ms: ROUND_MS })).rate);
    rates.route.push((await drive(IN_FLIGHT, timed(route, routeReq, 'route_resp'), { ms: ROUND_MS })).rate);
  }
  const line = (name: string, lat: number[], rs: number[]): string =>
    `  ${name} p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  (${pct(rs, 50).toFixed(0)}/s, ${lat.length} requests)`;
  out(
    `route_req -> route_resp, ${CALLFLOWS} callflows in the account, ${IN_FLIGHT} in flight, 3 alternating rounds of ${ROUND_MS} ms:`,
  );
  out(line('callflow  route_req', route, rates.route));
  out(line('registrar authn_req', authn, rates.authn));
  out(
    `  ratio p50 ${(pct(route, 50) / pct(authn, 50)).toFixed(2)}x, p99 ${(pct(route, 99) / pct(authn, 99)).toFixed(2)}x the authn round trip (target p50 <= 1.5x)`,
  );
}

/** The same call on the simulator alone, driven through its event socket. */
async function simulatorCall(sw: Switch, esl: EslConnection, wait: Wait): Promise<void> {
  const a = sw.placeCall({ from: '1001', to: '2000' });
  await wait('CHANNEL_PARK', a);
  const bridged = wait('CHANNEL_BRIDGE', a);
  const bridge = esl.execute(a, 'bridge', 'user/1002', { timeoutMs: STEP_MS });
  const b = (await bridged).get('Bridge-B-Unique-ID');
  if (b === undefined) throw new Error(`CHANNEL_BRIDGE of ${a} without Bridge-B-Unique-ID`);
  sw.hangup(b);
  await bridge;
  const destroyed = wait('CHANNEL_DESTROY', a);
  await esl.hangup(a);
  await destroyed;
}

async function withSimulator<T>(fn: (sw: Switch, esl: EslConnection, wait: Wait) => Promise<T>): Promise<T> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  sw.registerEndpoint('1002');
  const esl = new EslConnection({ port: sw.port, logger: quiet });
  await esl.start();
  await esl.subscribe(['CHANNEL_PARK', 'CHANNEL_BRIDGE', 'CHANNEL_DESTROY']);
  try {
    return await fn(sw, esl, eslWaits(esl));
  } finally {
    await esl.close();
    await sw.close();
  }
}

function memory(): { heap: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Heap and rss per call of HELD calls held bridged (`hold` resolves once they all are). */
async function measureHeld(hold: () => Promise<void>): Promise<{ heap: number; rss: number }> {
  await sleep(50);
  const m0 = memory();
  await hold();
  await sleep(50);
  const m1 = memory();
  return { heap: (m1.heap - m0.heap) / HELD, rss: (m1.rss - m0.rss) / HELD };
}

const kb = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

/** The phones' side of the complete calls, on the switch the platform is connected to. */
interface Phones {
  /** `total` complete calls (dialled[(i*7) % n]): rate, CPU of the switch's process per call. */
  calls(dialled: string[], total: number): Promise<{ rate: number; switchCpuMs?: number }>;
  /** HELD calls placed and bridged. */
  hold(dialled: string[]): Promise<void>;
  /** The held calls hung up: ms until all were destroyed. */
  release(): Promise<number>;
  /** `total` calls placed at once and held once bridged (own process only). */
  burst?(dialled: string[], total: number): Promise<{ ms: number; p50: number; lost: number }>;
  close(): Promise<void>;
}

/** The calls on the harness's own simulator, in this process. */
function inProcessPhones(sw: Switch): Phones {
  const wait = switchWaits(sw);
  const held: string[] = [];
  return {
    calls: (dialled, total) =>
      drive(CONCURRENCY, (i) => callflowCall(sw, wait, dialled[(i * 7) % dialled.length]!), { total }),
    async hold(dialled) {
      for (let i = 0; i < HELD; i += CONCURRENCY)
        await Promise.all(
          Array.from({ length: Math.min(CONCURRENCY, HELD - i) }, async () => {
            const a = placeCall(sw, dialled[held.length % dialled.length]!);
            held.push(a);
            await wait('CHANNEL_BRIDGE', a);
          }),
        );
    },
    async release() {
      const t0 = performance.now();
      const ends = held.map((a) => wait('CHANNEL_DESTROY', a));
      for (const a of held) sw.hangup(a);
      await Promise.all(ends);
      return performance.now() - t0;
    },
    close: async () => undefined,
  };
}

/** The simulator in its own process (switch-process.ts); resolves with its event-socket port. */
async function switchProcess(): Promise<{ port: number; phones: Phones }> {
  const child: ChildProcess = fork(new URL('./switch-process.ts', import.meta.url), {
    // the same build as this process (sources through tsx, or dist/ with dist-hooks.ts);
    // with CF_BENCH_PROFILE, its CPU profiles too (in switch/, written as it exits: the
    // largest is its main thread's, others are the module loader's)
    execArgv: [
      ...process.execArgv,
      ...(PROFILE === undefined || PROFILE === ''
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE, 'switch')}`]),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  type Reply = { type: string; message?: string } & Record<string, unknown>;
  let pending: { type: string; resolve: (m: Reply) => void; reject: (e: Error) => void } | undefined;
  const failed = (e: Error): void => {
    const p = pending;
    pending = undefined;
    p?.reject(e);
  };
  child.on('message', (m: Reply) => {
    if (m.type === 'error') return failed(new Error(`switch process: ${String(m.message)}`));
    if (pending?.type !== m.type) return failed(new Error(`switch process: unexpected ${m.type}`));
    const p = pending;
    pending = undefined;
    p.resolve(m);
  });
  child.on('exit', (code) => failed(new Error(`switch process exited (${String(code)})`)));
  const ask = (type: string, m: Record<string, unknown> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      pending = { type, resolve, reject };
      if (type !== 'ready') child.send({ type, ...m });
    });
  const { port } = (await ask('ready')) as unknown as { port: number };
  const phones: Phones = {
    async calls(dialled, total) {
      const r = await ask('calls', { dialled, total, concurrency: CONCURRENCY });
      return { rate: Number(r.rate), switchCpuMs: Number(r.cpuMs) };
    },
    async hold(dialled) {
      await ask('hold', { dialled, total: HELD, concurrency: CONCURRENCY });
    },
    release: async () => Number((await ask('release')).ms),
    async burst(dialled, total) {
      const r = await ask('burst', { dialled, total });
      return { ms: Number(r.ms), p50: Number(r.p50), lost: Number(r.lost) };
    },
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      await exited;
    },
  };
  return { port, phones };
}

/** `fn`'s result and this process's CPU time while it ran, in ms. */
async function withCpu<T>(fn: () => Promise<T>): Promise<{ r: T; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const r = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { r, cpuMs: (cpu.user + cpu.system) / 1000 };
}

out(
  `callflow bench (node ${process.version}, ${BUS === 'embedded' ? 'embedded bus' : 'RabbitMQ'}, switch simulator ${OWN_PROCESS ? 'in its own process' : 'in the platform process'}${(globalThis as { gc?: unknown }).gc === undefined ? ', no --expose-gc: memory figures include garbage' : ''})`,
);
const sim = await withSimulator(async (sw, esl, wait) => {
  await drive(CONCURRENCY, () => simulatorCall(sw, esl, wait), { total: 50 });
  return drive(CONCURRENCY, () => simulatorCall(sw, esl, wait), { total: CALLS });
});
const own = OWN_PROCESS ? await switchProcess() : undefined;
const h = await startCfHarness({
  amqpUrl: BUS === 'embedded' ? undefined : BUS,
  logLevel: 'warn',
  record: false,
  // ecallmgr's production route_resp wait (the test harness shortens it); with the switch
  // in its own process, ecallmgr connects there (the harness's simulator only registers
  // the phones on the bus, as Kamailio would).
  settings: {
    fetchTimeoutMs: 2600,
    ...(own === undefined ? {} : { switches: [{ host: '127.0.0.1', port: own.port, name: SWITCH }] }),
  },
});
const phones = own?.phones ?? inProcessPhones(h.sw);
// The test app (it answers authn_req and sees every route_req) is not part of the bench.
await h.app.stop();
try {
  const dialled = await writeCallflows(h);
  await profiled('route', () => routeLatency(h, dialled));
  // The parks answered above wait routeWinTimeoutMs (3 s) for a route_win that never comes.
  await sleep(3500);
  await phones.calls(dialled.slice(0, 50), 50);
  const cf = await withCpu(() => profiled('calls', () => phones.calls(dialled, CALLS)));
  out(
    `complete calls (route, park, device bridge to a registered phone answering at once, B hangs up, A hung up), ${CALLS} calls, ${CONCURRENCY} in flight:`,
  );
  out(
    `  simulator alone (event socket: park, bridge, hang-ups)  ${sim.rate.toFixed(0)} calls/s, ${sim.cpuMs.toFixed(2)} ms CPU per call`,
  );
  out(
    `  through callflow + ecallmgr + registrar                 ${cf.r.rate.toFixed(0)} calls/s = ${(cf.r.rate / sim.rate).toFixed(2)}x the simulator alone (target >= 300/s), ${(cf.cpuMs / CALLS).toFixed(2)} ms CPU per call${cf.r.switchCpuMs === undefined ? '' : ` (+ ${cf.r.switchCpuMs.toFixed(2)} ms in the switch's process)`}`,
  );

  // The calls above end with their processes a little later (call_control's keep-alive).
  for (let last = -1, i = 0; i < 100 && h.rt.processCount !== last; i++) {
    last = h.rt.processCount;
    await sleep(100);
  }
  // CF_BENCH_HELD=0 skips the memory figures
  if (HELD > 0) {
    const procs0 = h.rt.processCount;
    const all = await measureHeld(() => phones.hold(dialled));
    const perCallProcs = (h.rt.processCount - procs0) / HELD;
    out(`memory, ${HELD} calls held bridged (after GC):`);
    if (own === undefined) {
      const alone = await withSimulator((sw, esl, w) =>
        measureHeld(async () => {
          for (let i = 0; i < HELD; i += CONCURRENCY)
            await Promise.all(
              Array.from({ length: Math.min(CONCURRENCY, HELD - i) }, async () => {
                const a = sw.placeCall({ from: '1001', to: '2000' });
                await w('CHANNEL_PARK', a);
                const bridged = w('CHANNEL_BRIDGE', a);
                // completes only when the call ends: rejected (connection closed) with the calls up
                void esl.execute(a, 'bridge', 'user/1002').catch(() => undefined);
                await bridged;
              }),
            );
        }),
      );
      out(`  simulator alone                 heap ${kb(alone.heap)} per call, rss ${kb(alone.rss)}`);
      out(
        `  with callflow, ecallmgr, bus    heap ${kb(all.heap)} per call, rss ${kb(all.rss)}; ${perCallProcs.toFixed(1)} processes per call`,
      );
      out(
        `  callflow + ecallmgr's share     heap ${kb(all.heap - alone.heap)} per call, rss ${kb(all.rss - alone.rss)} (target < 100 KB)`,
      );
    } else {
      out(
        `  callflow + ecallmgr + bus (the platform's process)  heap ${kb(all.heap)} per call, rss ${kb(all.rss)} (target < 100 KB); ${perCallProcs.toFixed(1)} processes per call`,
      );
    }
    const ms = await phones.release();
    for (let i = 0; i < 200 && h.rt.processCount > procs0; i++) await sleep(25);
    out(`  all hung up in ${(ms / 1000).toFixed(1)} s; processes left over: ${h.rt.processCount - procs0}`);
  }
  if (BURST > 0 && phones.burst !== undefined) {
    const b = await phones.burst(dialled, BURST);
    await phones.release();
    out(
      `route burst, ${BURST} calls placed at once: last bridged after ${b.ms.toFixed(0)} ms (per call p50 ${b.p50.toFixed(0)} ms); lost ${b.lost}`,
    );
  }
} finally {
  const bad = h.lines.filter((l) => Number(l.level) >= 40);
  const msgs = [...new Set(bad.map((l) => String(l.msg)))].slice(0, 5);
  if (bad.length > 0) out(`  ${bad.length} warn/error log lines: ${msgs.join('; ')}`);
  await h.app.start();
  await h.close();
  await phones.close();
}
