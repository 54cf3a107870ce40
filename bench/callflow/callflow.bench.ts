/**
 * Bench: callflow with ecallmgr, the registrar and the switch simulator in one process
 * (the callflow test harness, test/apps/callflow/harness.ts, with nothing recorded and
 * logs at warn), an account holding CF_BENCH_CALLFLOWS callflows (numbers and patterns
 * mixed). Every figure sits beside a baseline measured in the same run (this 2-core
 * machine is shared, so only the ratios travel):
 * 1. route_req -> route_resp latency p50/p99 (the callflow app, cache warm) beside the
 *    registrar's authn_req -> authn_resp round trip, same requester and concurrency, in
 *    alternating rounds (target: route p50 <= 1.5x authn p50).
 * 2. Complete calls per second: place -> route_req -> park -> route_win -> the executor's
 *    `device` bridge (reg_query, the registered phone answers at once) -> the phone hangs
 *    up -> callflow hangs the caller up -> the caller's CHANNEL_DESTROY; beside the
 *    simulator alone placing the same calls through its event socket (park, bridge,
 *    B hangs up, A hung up). Target >= 300/s.
 * 3. Memory per bridged call: CF_BENCH_HELD calls held bridged (executor, call_control,
 *    call_events up), heap and RSS deltas after GC, minus the simulator alone holding the
 *    same bridged calls (target < 100 KB).
 * A step that does not complete fails with an error naming it (every wait has a timeout).
 * Env: CF_BENCH_BUS (`embedded`, or an amqp:// URL: the same run on RabbitMQ),
 * CF_BENCH_CALLFLOWS (1000), CF_BENCH_ROUND_MS (1000), CF_BENCH_IN_FLIGHT (8, route and
 * authn requests), CF_BENCH_CALLS (600), CF_BENCH_CONCURRENCY (20), CF_BENCH_HELD (500),
 * CF_BENCH_PROFILE (a directory: CPU profiles of the route and complete-call phases,
 * route.cpuprofile and calls.cpuprofile, for Chrome DevTools).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { build, authnReqKey, routeReqKey } from '../../src/api/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import { EslConnection, Switch, type EslEvent, type SwitchEvent } from '../../src/switch/index.ts';
import { startCfHarness, REALM, type CfHarness } from '../../test/apps/callflow/harness.ts';
import { header } from '../../test/apps/ecallmgr/harness.ts';

const BUS = process.env.CF_BENCH_BUS ?? 'embedded';
const CALLFLOWS = Number(process.env.CF_BENCH_CALLFLOWS ?? 1000);
const ROUND_MS = Number(process.env.CF_BENCH_ROUND_MS ?? 1000);
const IN_FLIGHT = Number(process.env.CF_BENCH_IN_FLIGHT ?? 8);
const CALLS = Number(process.env.CF_BENCH_CALLS ?? 600);
const CONCURRENCY = Number(process.env.CF_BENCH_CONCURRENCY ?? 20);
const HELD = Number(process.env.CF_BENCH_HELD ?? 500);
/** Longest wait for one step of one call before the bench gives up with an error. */
const PROFILE = process.env.CF_BENCH_PROFILE;
const STEP_MS = 10_000;
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

/** `n` workers running `one(i)` until `total` are done (or the time is up): rate per s. */
async function drive(
  n: number,
  one: (i: number) => Promise<void>,
  until: { total?: number; ms?: number },
): Promise<{ rate: number; done: number; cpuMs: number }> {
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + (until.ms ?? Infinity);
  await Promise.all(
    Array.from({ length: n }, async () => {
      while ((until.total === undefined || next < until.total) && performance.now() < end) {
        await one(next++);
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process per unit of work: what other jobs on the machine move least.
  return {
    rate: done / ((performance.now() - t0) / 1000),
    done,
    cpuMs: (cpu.user + cpu.system) / 1000 / done,
  };
}

type Seen = { name: string; uuid: string | undefined; get(k: string): string | undefined };
/** Waits for event `name` of `uuid`: the first one seen from now on, or an error. */
type Wait = (name: string, uuid: string) => Promise<Seen>;

/** Waits on events fed through `feed` (the simulator's own, or an event socket's). */
function waits(subscribe: (feed: (e: Seen) => void) => void): Wait {
  const waiting = new Map<string, (e: Seen) => void>();
  subscribe((e) => {
    const key = `${e.name}:${String(e.uuid)}`;
    const w = waiting.get(key);
    if (w === undefined) return;
    waiting.delete(key);
    w(e);
  });
  return (name, uuid) =>
    new Promise((resolve, reject) => {
      const key = `${name}:${uuid}`;
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(new Error(`no ${name} for call ${uuid} within ${STEP_MS} ms`));
      }, STEP_MS);
      waiting.set(key, (e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
}

/** The switch's events, as they happen (CHANNEL_BRIDGE and later come after the call is placed). */
const switchWaits = (sw: Switch): Wait =>
  waits((feed) =>
    sw.onEvent((e: SwitchEvent) => feed({ name: e.name, uuid: e.uuid, get: (k) => header(e, k) })),
  );

/** An event socket's events (they arrive after the command that caused them returned). */
const eslWaits = (esl: EslConnection): Wait =>
  waits((feed) =>
    esl.on('event', (e: EslEvent) => feed({ name: e.name, uuid: e.uuid, get: (k) => e.headers[k] })),
  );

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
  // warm: every dialled number once (the cache keeps the look-up), the credentials once
  const t0 = performance.now();
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

/** One complete call through callflow: routed, bridged to 1002, 1002 hangs up, caller hung up. */
async function callflowCall(h: CfHarness, wait: Wait, to: string): Promise<void> {
  const a = h.call(to);
  const bridged = await wait('CHANNEL_BRIDGE', a);
  const b = bridged.get('Bridge-B-Unique-ID');
  if (b === undefined) throw new Error(`CHANNEL_BRIDGE of ${a} without Bridge-B-Unique-ID`);
  const destroyed = wait('CHANNEL_DESTROY', a);
  h.sw.hangup(b);
  await destroyed;
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

/** Holds HELD calls bridged (`place` resolves once one is): heap and rss per call. */
async function holdBridged(place: () => Promise<void>): Promise<{ heap: number; rss: number }> {
  await sleep(50);
  const m0 = memory();
  for (let i = 0; i < HELD; i += CONCURRENCY)
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, HELD - i) }, place));
  await sleep(50);
  const m1 = memory();
  return { heap: (m1.heap - m0.heap) / HELD, rss: (m1.rss - m0.rss) / HELD };
}

const kb = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

out(
  `callflow bench (node ${process.version}, ${BUS === 'embedded' ? 'embedded bus' : 'RabbitMQ'}${(globalThis as { gc?: unknown }).gc === undefined ? ', no --expose-gc: memory figures include garbage' : ''})`,
);
const sim = await withSimulator(async (sw, esl, wait) => {
  await drive(CONCURRENCY, () => simulatorCall(sw, esl, wait), { total: 50 });
  return drive(CONCURRENCY, () => simulatorCall(sw, esl, wait), { total: CALLS });
});
const h = await startCfHarness({
  amqpUrl: BUS === 'embedded' ? undefined : BUS,
  logLevel: 'warn',
  record: false,
  // ecallmgr's production route_resp wait (the test harness shortens it)
  settings: { fetchTimeoutMs: 2600 },
});
// The test app (it answers authn_req and sees every route_req) is not part of the bench.
await h.app.stop();
try {
  const dialled = await writeCallflows(h);
  await profiled('route', () => routeLatency(h, dialled));
  // The parks answered above wait routeWinTimeoutMs (3 s) for a route_win that never comes.
  await sleep(3500);
  const wait = switchWaits(h.sw);
  await drive(CONCURRENCY, (i) => callflowCall(h, wait, dialled[i % dialled.length]!), { total: 50 });
  const cf = await profiled('calls', () =>
    drive(CONCURRENCY, (i) => callflowCall(h, wait, dialled[(i * 7) % dialled.length]!), { total: CALLS }),
  );
  out(
    `complete calls (route, park, device bridge to a registered phone answering at once, B hangs up, A hung up), ${CALLS} calls, ${CONCURRENCY} in flight:`,
  );
  out(
    `  simulator alone (event socket: park, bridge, hang-ups)  ${sim.rate.toFixed(0)} calls/s, ${sim.cpuMs.toFixed(2)} ms CPU per call`,
  );
  out(
    `  through callflow + ecallmgr + registrar                 ${cf.rate.toFixed(0)} calls/s = ${(cf.rate / sim.rate).toFixed(2)}x the simulator alone (target >= 300/s), ${cf.cpuMs.toFixed(2)} ms CPU per call`,
  );

  // The calls above end with their processes a little later (call_control's keep-alive).
  for (let last = -1, i = 0; i < 100 && h.rt.processCount !== last; i++) {
    last = h.rt.processCount;
    await sleep(100);
  }
  const procs0 = h.rt.processCount;
  const held: string[] = [];
  const all = await holdBridged(async () => {
    const a = h.call(dialled[held.length % dialled.length]!);
    held.push(a);
    await wait('CHANNEL_BRIDGE', a);
  });
  const perCallProcs = (h.rt.processCount - procs0) / HELD;
  const alone = await withSimulator((sw, esl, w) =>
    holdBridged(async () => {
      const a = sw.placeCall({ from: '1001', to: '2000' });
      await w('CHANNEL_PARK', a);
      const bridged = w('CHANNEL_BRIDGE', a);
      // completes only when the call ends: rejected (connection closed) with the calls up
      void esl.execute(a, 'bridge', 'user/1002').catch(() => undefined);
      await bridged;
    }),
  );
  out(`memory, ${HELD} calls held bridged (after GC):`);
  out(`  simulator alone                 heap ${kb(alone.heap)} per call, rss ${kb(alone.rss)}`);
  out(
    `  with callflow, ecallmgr, bus    heap ${kb(all.heap)} per call, rss ${kb(all.rss)}; ${perCallProcs.toFixed(1)} processes per call`,
  );
  out(
    `  callflow + ecallmgr's share     heap ${kb(all.heap - alone.heap)} per call, rss ${kb(all.rss - alone.rss)} (target < 100 KB)`,
  );
  const t1 = performance.now();
  const ends = held.map((a) => wait('CHANNEL_DESTROY', a));
  for (const a of held) h.sw.hangup(a);
  await Promise.all(ends);
  for (let i = 0; i < 200 && h.rt.processCount > procs0; i++) await sleep(25);
  out(
    `  all hung up in ${((performance.now() - t1) / 1000).toFixed(1)} s; processes left over: ${h.rt.processCount - procs0}`,
  );
} finally {
  const bad = h.lines.filter((l) => Number(l.level) >= 40);
  const msgs = [...new Set(bad.map((l) => String(l.msg)))].slice(0, 5);
  if (bad.length > 0) out(`  ${bad.length} warn/error log lines: ${msgs.join('; ')}`);
  await h.app.start();
  await h.close();
}
