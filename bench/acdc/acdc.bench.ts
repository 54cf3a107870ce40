/**
 * Bench: an ACDC queue on the switch simulator, in one process (the callflow test harness,
 * test/apps/callflow/harness.ts: simulator, ecallmgr, registrar, callflow, bus; plus the
 * acdc tree), sized for a shared 2-core machine. Run only when named: `npm run bench -- acdc`.
 *
 * Callers enter through a callflow `acdc_member` (number 6000) into one queue
 * (round_robin) served by ACDC_BENCH_AGENTS agents (100), each a registered phone that
 * answers at once and hangs up ACDC_BENCH_TALK_MS (1000) after answering. Baseline, in the same run:
 * the same callflow stack without acdc (why: it isolates what the queue adds to a call the
 * platform already routes, answers and bridges):
 * 1. Memory per waiting caller: ACDC_BENCH_CALLERS (1000) callers waiting in the queue (no
 *    agent logged in yet), heap and RSS deltas after GC per caller; beside the same number
 *    of callers held by a callflow playing the same hold media (number 7000, no acdc).
 * 2. Callers served per second: the agents log in and serve the waiting callers (each
 *    bridged, talks, hangs up); beside the same number of callers bridged straight to a
 *    phone by a `device` callflow (7001), at most as many at once as there are agents.
 * 3. Enter -> agent-ring latency p50/p99: a caller placed (ACDC_BENCH_PACED, 200, paced
 *    at ACDC_BENCH_RATE per s, 20) to the CHANNEL_CREATE of the agent's leg later bridged
 *    to it, agents idle; beside the same to the CHANNEL_CREATE of the phone's leg of the
 *    `device` callflow.
 * Env: ACDC_BENCH_BUS (`embedded` or an amqp:// URL), ACDC_BENCH_WORKERS (queue workers, 50).
 */
import { GenServer, Supervisor } from '../../src/kernel/index.ts';
import { acdcSharedQueue } from '../../src/api/index.ts';
import type { SwitchEvent } from '../../src/switch/index.ts';
import { startCfHarness, REALM, type CfHarness } from '../../test/apps/callflow/harness.ts';
import { header } from '../../test/apps/ecallmgr/harness.ts';
import { acdcTree } from '../../supervisors/acdc.sup.ts';
import { acdcSend, type AcdcEnv } from '../../apps/acdc/send.ts';
import { managerName } from '../../apps/acdc/manager.ts';

const BUS = process.env.ACDC_BENCH_BUS ?? 'embedded';
const AGENTS = Number(process.env.ACDC_BENCH_AGENTS ?? 100);
const CALLERS = Number(process.env.ACDC_BENCH_CALLERS ?? 1000);
const TALK_MS = Number(process.env.ACDC_BENCH_TALK_MS ?? 1000);
const PACED = Number(process.env.ACDC_BENCH_PACED ?? 200);
const RATE = Number(process.env.ACDC_BENCH_RATE ?? 20);
const WORKERS = Number(process.env.ACDC_BENCH_WORKERS ?? 50);
const QUEUE = 'bench';
const LIMIT_MS = Number(process.env.ACDC_BENCH_LIMIT_MS ?? 120_000);
const MOH = 'silence_stream://3600000';
const out = (s: string): boolean => process.stdout.write(`${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kb = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

function memory(): { heap: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

let detail: (() => string) | undefined;
async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + LIMIT_MS;
  while (!(await cond())) {
    if (Date.now() > end)
      throw new Error(`bench gave up waiting for ${what}${detail === undefined ? '' : ` (${detail()})`}`);
    await sleep(20);
  }
}

/** What the switch shows: legs created (uuid -> ms), bridges (caller -> leg), calls up. */
class SwitchView {
  readonly created = new Map<string, number>();
  readonly bridged = new Map<string, string>();
  constructor(h: CfHarness) {
    h.sw.onEvent((e: SwitchEvent) => {
      if (e.name === 'CHANNEL_CREATE' && e.uuid !== undefined) this.created.set(e.uuid, performance.now());
      if (e.name === 'CHANNEL_BRIDGE') {
        const a = e.uuid ?? '';
        const b = header(e, 'Other-Leg-Unique-ID') ?? '';
        // The caller is the leg that is not ours to ring: agent legs are acdc-*, device legs
        // were created after the caller.
        const [caller, leg] =
          a.startsWith('acdc-') || (this.created.get(a) ?? 0) > (this.created.get(b) ?? 0) ? [b, a] : [a, b];
        this.bridged.set(caller, leg);
      }
    });
  }
}

const place = (h: CfHarness, to: string): { id: string; at: number } => ({
  at: performance.now(),
  id: h.sw.placeCall({ from: '1001', to, variables: { sip_from_host: REALM } }),
});

async function allGone(h: CfHarness): Promise<void> {
  await until('every call ended', () => h.sw.channelCount === 0);
  await sleep(300);
}

async function main(): Promise<void> {
  out(
    `acdc bench (node ${process.version}, ${BUS === 'embedded' ? 'embedded bus' : 'RabbitMQ'}; ${AGENTS} agents, ${CALLERS} callers, talk ${TALK_MS} ms, ${WORKERS} workers${(globalThis as { gc?: unknown }).gc === undefined ? '; no --expose-gc: memory figures include garbage' : ''})`,
  );
  const h = await startCfHarness(BUS === 'embedded' ? {} : { amqpUrl: BUS });
  const view = new SwitchView(h);
  detail = () =>
    `bridged ${view.bridged.size}, channels ${h.sw.channelCount}, answered ${h.sw.channels().filter((c) => c.answerState === 'answered').length}; ` +
    h.lines
      .filter((l) => Number(l.level) >= 40)
      .filter((l) => l.msg !== 'acdc agent: too many missed calls; out of rotation until login or resume')
      .slice(-4)
      .map((l) => `${String(l.msg)} ${String(l.reason ?? l.err ?? '')}`)
      .join(' | ');
  const agents = Array.from({ length: AGENTS }, (_, i) => `agent${i}`);
  for (const a of agents) await h.phone(a, { mode: 'auto', hangupAfterMs: TALK_MS });
  await h.phone('1002', { mode: 'auto', hangupAfterMs: TALK_MS });
  await h.store.save(h.accountDb, {
    _id: QUEUE,
    pvt_type: 'queue',
    name: 'Bench',
    connection_timeout: 3600,
    moh: MOH,
  });
  await h.putCallflow('cf-queue', ['6000'], { module: 'acdc_member', data: { id: QUEUE }, children: {} });
  await h.putCallflow('cf-hold', ['7000'], { module: 'play', data: { id: MOH, answer: true }, children: {} });
  await h.putCallflow('cf-direct', ['7001'], {
    module: 'device',
    data: { id: h.devices['1002'] },
    children: {},
  });

  // 1. Memory per waiting caller.
  const answered = (): number => h.sw.channels().filter((c) => c.answerState === 'answered').length;
  /** Waits until `count()` reaches `n`, or has not moved for 3 s (a call lost under load). */
  const settle = async (what: string, count: () => number | Promise<number>, n: number): Promise<void> => {
    let last = -1;
    let since = Date.now();
    await until(what, async () => {
      const c = await count();
      if (c !== last) [last, since] = [c, Date.now()];
      return c >= n || Date.now() - since > 3000;
    });
  };
  /**
   * Places CALLERS calls to `to`, 50 at a time (each is routed with a route_req round trip
   * that a loaded machine may lose: such a call is hung up and not counted), waits until
   * `waiting()` counts every answered one, and answers heap and RSS per caller held.
   */
  const held = async (
    to: string,
    waiting: () => number | Promise<number>,
  ): Promise<{ heap: number; rss: number; n: number }> => {
    await sleep(200);
    const m0 = memory();
    for (let i = 0; i < CALLERS; i += 50) {
      for (let k = i; k < Math.min(CALLERS, i + 50); k++) place(h, to);
      await settle(`callers up to ${i + 50} answered on ${to}`, answered, Math.min(CALLERS, i + 50));
    }
    for (const c of h.sw.channels()) if (c.answerState !== 'answered') h.sw.hangup(c.uuid);
    const n = answered();
    await settle(`${n} callers held on ${to}`, waiting, n);
    await sleep(200);
    const m1 = memory();
    return { heap: (m1.heap - m0.heap) / n, rss: (m1.rss - m0.rss) / n, n };
  };
  const baseMem = await held('7000', answered);
  h.sw.channels().forEach((c) => h.sw.hangup(c.uuid));
  await allGone(h);

  const env: AcdcEnv = {
    bus: h.bus,
    ctx: { appName: 'acdc-bench', appVersion: '1.0.0', node: h.rt.node },
    accountId: h.accountId,
  };
  const r = await Supervisor.start(
    h.rt,
    acdcTree({
      bus: h.bus,
      node: h.rt.node,
      store: h.store,
      settings: {
        account_id: h.accountId,
        // A miss under load must not take an agent out for the rest of the run (they are counted).
        max_connect_failures: 1_000_000,
        queues: [
          {
            id: QUEUE,
            agent_ring_timeout: 10,
            collect_timeout: 0.2,
            retry_interval: 1,
            workers: WORKERS,
            connection_timeout: 3600,
          },
        ],
        agents: agents.map((id) => ({
          id,
          queues: [QUEUE],
          endpoints: [{ 'Invite-Format': 'username', 'To-Username': id, 'To-Realm': REALM }],
        })),
      },
    }),
    { name: 'acdc_sup' },
  );
  if (r.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(r)}`);
  const waitingNow = async (): Promise<number> =>
    (await h.bus.checkQueue(acdcSharedQueue(h.accountId, QUEUE))).messageCount + WORKERS;
  const acdcMem = await held('6000', waitingNow);

  // 2. Served per second: the agents log in and serve the waiting callers.
  const callers = h.sw.channels().map((c) => c.uuid);
  const t0 = performance.now();
  for (const a of agents) await acdcSend(env, 'agent_login', { 'Account-ID': h.accountId, 'Agent-ID': a });
  await until('every waiting caller served', () => callers.every((c) => view.bridged.has(c)));
  const acdcRate = callers.length / ((performance.now() - t0) / 1000);
  await allGone(h);

  const direct = async (n: number, paced: boolean): Promise<{ rate: number; lat: number[] }> => {
    const lat: number[] = [];
    let next = 0;
    const t = performance.now();
    const one = async (): Promise<void> => {
      const c = place(h, '7001');
      await until(`caller ${c.id} bridged`, () => view.bridged.has(c.id));
      lat.push(view.created.get(view.bridged.get(c.id)!)! - c.at);
      await h.sw.whenDestroyed(c.id);
    };
    if (paced) {
      const all: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        all.push(one());
        await sleep(1000 / RATE);
      }
      await Promise.all(all);
    } else
      await Promise.all(
        Array.from({ length: AGENTS }, async () => {
          while (next++ < n) await one();
        }),
      );
    return { rate: n / ((performance.now() - t) / 1000), lat };
  };
  const base = await direct(CALLERS, false);
  await allGone(h);

  // 3. Enter -> agent ring, agents idle, callers paced.
  let notReady = '';
  const ready = async (): Promise<boolean> => {
    const v = (await GenServer.call(h.rt, managerName(QUEUE), { op: 'view' })) as {
      agents: Record<string, string>;
    };
    notReady = agents
      .filter((a) => v.agents[a] !== 'available')
      .map((a) => `${a}:${String(v.agents[a])}`)
      .join(' ');
    // An agent left busy or ringing by a lost event is reported, not waited for.
    return notReady.split(' ').filter(Boolean).length <= AGENTS / 10;
  };
  detail = () => `not ready: ${notReady}`;
  await until('nine agents in ten ready', ready);
  const stuck = notReady;
  const lat: number[] = [];
  const paced: Promise<void>[] = [];
  for (let i = 0; i < PACED; i++) {
    const c = place(h, '6000');
    paced.push(
      until(`caller ${c.id} bridged`, () => view.bridged.has(c.id)).then(() => {
        lat.push(view.created.get(view.bridged.get(c.id)!)! - c.at);
      }),
    );
    await sleep(1000 / RATE);
  }
  await Promise.all(paced);
  await allGone(h);
  const baseLat = await direct(PACED, true);

  out('memory per waiting caller (heap / rss after GC)');
  out(
    `  callflow holding callers (no acdc)     heap ${kb(baseMem.heap)}, rss ${kb(baseMem.rss)} (${baseMem.n} held)`,
  );
  out(
    `  waiting in the acdc queue              heap ${kb(acdcMem.heap)}, rss ${kb(acdcMem.rss)} (${acdcMem.n} held)`,
  );
  out(
    `  acdc's share                           heap ${kb(acdcMem.heap - baseMem.heap)}, rss ${kb(acdcMem.rss - baseMem.rss)}`,
  );
  out('callers served per second');
  out(`  bridged straight to a phone (device)   ${base.rate.toFixed(1)}/s (at most ${AGENTS} at once)`);
  out(
    `  through the queue, ${AGENTS} agents         ${acdcRate.toFixed(1)}/s (${(acdcRate / base.rate).toFixed(2)}x)`,
  );
  out(`enter -> ring latency (${PACED} callers at ${RATE}/s, agents idle)`);
  out(
    `  device callflow   p50 ${pct(baseLat.lat, 50).toFixed(1)} ms  p99 ${pct(baseLat.lat, 99).toFixed(1)} ms`,
  );
  out(
    `  acdc queue        p50 ${pct(lat, 50).toFixed(1)} ms  p99 ${pct(lat, 99).toFixed(1)} ms (${(pct(lat, 50) / pct(baseLat.lat, 50)).toFixed(2)}x at p50)`,
  );

  const warns = new Map<string, number>();
  for (const l of h.lines)
    if (Number(l.level) >= 40) {
      const k = `${String(l.msg)}${l.reason === undefined ? '' : ` (${String(l.reason)})`}`;
      warns.set(k, (warns.get(k) ?? 0) + 1);
    }
  out(`agents not ready once every call had ended: ${stuck === '' ? 'none' : stuck}`);
  out('warnings and errors logged during the run');
  for (const [k, n] of [...warns].sort((a, b) => b[1] - a[1]).slice(0, 8))
    out(`  ${String(n).padStart(6)}  ${k}`);
  const exited = h.rt.awaitExit(r.pid);
  h.rt.exit(r.pid, 'shutdown');
  await exited;
  await h.bus.deleteQueue(acdcSharedQueue(h.accountId, QUEUE)).catch(() => undefined);
  await h.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `acdc bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
