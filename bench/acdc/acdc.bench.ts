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
 * 1. Memory per waiting caller: ACDC_BENCH_MEM_CALLERS (100) callers waiting in the queue
 *    (no agent logged in yet), heap and RSS after forced GC with them held minus the same
 *    with none held just before, per caller; beside the same number of callers held by a
 *    callflow playing the same hold media (number 7000, no acdc). ACDC_BENCH_MEM_ROUNDS (4)
 *    rounds, the order alternated (base first, then acdc first, ...), median and range;
 *    acdc's share is the difference within each round. Then once with ACDC_BENCH_CALLERS
 *    (1000) waiting, the callers the agents serve next.
 * 2. Callers served per second: the agents log in and serve the waiting callers (each
 *    bridged, talks, hangs up); beside the same number of callers bridged straight to a
 *    phone by a `device` callflow (7001), at most as many at once as there are agents.
 * 3. Enter -> agent-ring latency p50/p99: a caller placed (ACDC_BENCH_PACED, 200, paced
 *    at ACDC_BENCH_RATE per s, 20) to the CHANNEL_CREATE of the agent's leg later bridged
 *    to it, agents idle; beside the same to the CHANNEL_CREATE of the phone's leg of the
 *    `device` callflow.
 * Env: ACDC_BENCH_BUS (`embedded` or an amqp:// URL), ACDC_BENCH_WORKERS (queue workers, 50),
 * ACDC_BENCH_DUMP (a file: the run's log lines, warn and up, written when it gives up).
 */
import { writeFileSync } from 'node:fs';
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
const MEM_CALLERS = Number(process.env.ACDC_BENCH_MEM_CALLERS ?? 100);
const MEM_ROUNDS = Number(process.env.ACDC_BENCH_MEM_ROUNDS ?? 4);
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
/** Deletes the run's shared queue (RabbitMQ keeps it, callers and all, after a failed run). */
let cleanup: () => Promise<void> = () => Promise.resolve();
let dumpLines: (() => Array<Record<string, unknown>>) | undefined;
async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + LIMIT_MS;
  while (!(await cond())) {
    if (Date.now() > end) {
      if (process.env.ACDC_BENCH_DUMP !== undefined && dumpLines !== undefined)
        writeFileSync(
          process.env.ACDC_BENCH_DUMP,
          dumpLines()
            .map((l) => JSON.stringify(l))
            .join('\n'),
        );
      throw new Error(`bench gave up waiting for ${what}${detail === undefined ? '' : ` (${detail()})`}`);
    }
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
  // Warnings only, and no switch events or bus messages kept: the harness would otherwise
  // keep a record of every call in the heap the memory figures measure.
  const h = await startCfHarness({
    logLevel: 'warn',
    record: false,
    ...(BUS === 'embedded' ? {} : { amqpUrl: BUS }),
  });
  const view = new SwitchView(h);
  dumpLines = () => h.lines;
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
  const shared = acdcSharedQueue(h.accountId, QUEUE);
  cleanup = () => h.bus.deleteQueue(shared).then(() => undefined);

  // 1. Memory per waiting caller (no agent logged in, so callers wait).
  const answered = (): number => h.sw.channels().filter((c) => c.answerState === 'answered').length;
  /** Waits until `count()` reaches `n`, or has not moved for 10 s (a call lost under load). */
  const settle = async (what: string, count: () => number | Promise<number>, n: number): Promise<void> => {
    let last = -1;
    let since = Date.now();
    await until(what, async () => {
      const c = await count();
      if (c !== last) [last, since] = [c, Date.now()];
      return c >= n || Date.now() - since > 10_000;
    });
  };
  const queued = async (): Promise<number> => (await h.bus.checkQueue(shared)).messageCount;
  /** Callers in the acdc queue: in the shared queue, plus one held by each busy worker. */
  const waitingNow = async (): Promise<number> => (await queued()) + Math.min(WORKERS, answered());
  const KINDS = {
    base: { to: '7000', waiting: answered },
    acdc: { to: '6000', waiting: waitingNow },
  } as const;
  /**
   * Places `n` calls to the kind's number, 50 at a time (each is routed with a route_req
   * round trip that a loaded machine may lose: such a call is hung up and not counted),
   * waits until every answered one waits (held by the callflow, or in the queue), and
   * answers the heap and RSS after forced GC per caller held, against the same measured
   * with none held just before.
   */
  const held = async (
    kind: keyof typeof KINDS,
    n: number,
  ): Promise<{ heap: number; rss: number; n: number }> => {
    const k = KINDS[kind];
    view.created.clear();
    view.bridged.clear();
    // None held: what the last calls left behind is let go first (two readings 1 s apart
    // within 256 KiB, at most ten tries).
    let m0 = memory();
    for (let i = 0; i < 10; i++) {
      await sleep(1000);
      const m = memory();
      const still = Math.abs(m.heap - m0.heap) < 256 * 1024;
      m0 = m;
      if (still) break;
    }
    for (let i = 0; i < n; i += 50) {
      for (let j = i; j < Math.min(n, i + 50); j++) place(h, k.to);
      await settle(`callers up to ${i + 50} answered on ${k.to}`, answered, Math.min(n, i + 50));
    }
    for (const c of h.sw.channels()) if (c.answerState !== 'answered') h.sw.hangup(c.uuid);
    const got = answered();
    if (got === 0) throw new Error(`no caller on ${k.to} was answered`);
    await settle(`${got} callers held on ${k.to}`, k.waiting, got);
    await sleep(500);
    const m1 = memory();
    return { heap: (m1.heap - m0.heap) / got, rss: (m1.rss - m0.rss) / got, n: got };
  };
  /** Hangs every caller up; the acdc queue's callers leave it (cancelled, dropped by the workers). */
  const release = async (): Promise<void> => {
    h.sw.channels().forEach((c) => h.sw.hangup(c.uuid));
    await allGone(h);
    await until('the shared queue drained', async () => (await queued()) === 0);
  };
  // Rounds in alternating order (base first, then acdc first, ...): the process's warm-up
  // and heap growth do not fall on one side.
  const mem: Record<keyof typeof KINDS, { heap: number; rss: number; n: number }[]> = { base: [], acdc: [] };
  for (let round = 0; round < MEM_ROUNDS; round++)
    for (const kind of round % 2 === 0 ? (['base', 'acdc'] as const) : (['acdc', 'base'] as const)) {
      mem[kind].push(await held(kind, MEM_CALLERS));
      await release();
      process.stderr.write(
        `memory round ${round + 1}/${MEM_ROUNDS} ${kind}: ${kb(mem[kind].at(-1)!.heap)} heap per caller\n`,
      );
    }
  const acdcFull = await held('acdc', CALLERS);

  // 2. Served per second: the agents log in and serve the waiting callers.
  const callers = h.sw.channels().map((c) => c.uuid);
  const t0 = performance.now();
  for (const a of agents) await acdcSend(env, 'agent_login', { 'Account-ID': h.accountId, 'Agent-ID': a });
  // Served: bridged to an agent; a caller whose call ended unbridged is counted apart.
  const up = (): Set<string> => new Set(h.sw.channels().map((c) => c.uuid));
  await until('every waiting caller served', () => {
    const live = up();
    return callers.every((c) => view.bridged.has(c) || !live.has(c));
  });
  const unserved = callers.filter((c) => !view.bridged.has(c)).length;
  const acdcRate = (callers.length - unserved) / ((performance.now() - t0) / 1000);
  process.stderr.write(
    `${callers.length} waiting callers served through the queue: ${acdcRate.toFixed(1)}/s\n`,
  );
  await allGone(h);

  /** Lost to routing under load (ended unbridged), per phase: counted and printed, not waited for. */
  const lost = { direct: 0, acdcPaced: 0, devicePaced: 0 };
  let phase: keyof typeof lost = 'direct';
  const bridgedOrGone = async (id: string): Promise<boolean> => {
    let gone = false;
    void h.sw.whenDestroyed(id).then(() => (gone = true));
    const since = Date.now();
    await until(`caller ${id} bridged or ended`, () => {
      // Never answered in 10 s: its route_req went unanswered under load (as in held()).
      const ch = h.sw.channels().find((c) => c.uuid === id);
      if (!gone && ch?.answerState !== 'answered' && Date.now() - since > 10_000) h.sw.hangup(id);
      return view.bridged.has(id) || gone;
    });
    if (!view.bridged.has(id)) lost[phase] += 1;
    return view.bridged.has(id);
  };
  const direct = async (n: number, paced: boolean): Promise<{ rate: number; lat: number[] }> => {
    const lat: number[] = [];
    let next = 0;
    const t = performance.now();
    const one = async (): Promise<void> => {
      const c = place(h, '7001');
      if (await bridgedOrGone(c.id)) lat.push(view.created.get(view.bridged.get(c.id)!)! - c.at);
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
  phase = 'acdcPaced';
  for (let i = 0; i < PACED; i++) {
    const c = place(h, '6000');
    paced.push(
      bridgedOrGone(c.id).then((ok) => {
        if (ok) lat.push(view.created.get(view.bridged.get(c.id)!)! - c.at);
      }),
    );
    await sleep(1000 / RATE);
  }
  await Promise.all(paced);
  await allGone(h);
  phase = 'devicePaced';
  const baseLat = await direct(PACED, true);

  const stat = (xs: number[]): string => {
    const v = [...xs].sort((a, b) => a - b);
    if (v.length === 0) return 'not measured (ACDC_BENCH_MEM_ROUNDS=0)';
    return `${kb(v[Math.floor((v.length - 1) / 2)]!)} (${kb(v[0]!)} .. ${kb(v.at(-1)!)})`;
  };
  const share = (f: 'heap' | 'rss'): number[] => mem.acdc.map((a, i) => a[f] - mem.base[i]![f]);
  out(
    `memory per waiting caller, after forced GC, against none held just before (${MEM_ROUNDS} rounds of ${MEM_CALLERS}, orders alternated; median (min .. max))`,
  );
  out(`  callflow holding callers (no acdc)   heap ${stat(mem.base.map((m) => m.heap))}`);
  out(`                                       rss  ${stat(mem.base.map((m) => m.rss))}`);
  out(`  waiting in the acdc queue            heap ${stat(mem.acdc.map((m) => m.heap))}`);
  out(`                                       rss  ${stat(mem.acdc.map((m) => m.rss))}`);
  out(`  acdc's share (same round)            heap ${stat(share('heap'))}`);
  out(`                                       rss  ${stat(share('rss'))}`);
  out(
    `  ${acdcFull.n} waiting in the acdc queue (once) heap ${kb(acdcFull.heap)}, rss ${kb(acdcFull.rss)} per caller`,
  );
  out('callers served per second');
  out(
    `  bridged straight to a phone (device)   ${base.rate.toFixed(1)}/s (at most ${AGENTS} at once; ${lost.direct} of ${CALLERS} lost to routing)`,
  );
  out(
    `  through the queue, ${AGENTS} agents         ${acdcRate.toFixed(1)}/s (${(acdcRate / base.rate).toFixed(2)}x; ${callers.length} waiting, ${unserved} ended unserved)`,
  );
  out(`enter -> ring latency (${PACED} callers at ${RATE}/s, agents idle)`);
  out(`  lost to routing: device ${lost.devicePaced}, acdc ${lost.acdcPaced} (of ${PACED} each)`);
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
  await cleanup();
  await h.close();
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(
      `acdc bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    await cleanup().catch((e: unknown) => process.stderr.write(`shared queue not deleted: ${String(e)}\n`));
    process.exit(1);
  },
);
