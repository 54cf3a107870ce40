/**
 * Kernel benchmark. Prints, each against a baseline measured in the same run:
 * - gen_server cast throughput vs raw nact dispatch (target: overhead <= 1.3x)
 * - gen_server call throughput vs raw nact query (target: <= 1.5x)
 * - crash-to-restarted latency p50/p99 of a one_for_one child (target: p99 < 1 ms),
 *   and the same loop on Erlang/OTP when `erl` is installed (ours / OTP); both with
 *   logging off and intensity 1,000,000 per second
 * - memory per idle gen_server with 100k of them, vs a raw nact actor (target: <= 3 KB)
 * Rounds alternate between ours and the baseline; medians are printed.
 */
import { start as nactStart, spawn as nactSpawn, dispatch, query, stop as nactStop } from 'nact';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, GenServer, Supervisor, ok, reply, noreply, type GenServerBehaviour, type Pid } from '../../src/kernel/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import pino from 'pino';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const quietLog = () => createRootLogger({ node: 'bench@localhost', level: 'silent' });

const Counter: GenServerBehaviour<number, void, 'get', 'inc'> = {
  name: 'counter',
  init: () => ok(0),
  handleCall: (_r, _f, n) => reply(n, n),
  handleCast: (_m, n) => noreply(n + 1),
};

async function castOurs(n: number): Promise<number> {
  const rt = new Runtime({ logger: quietLog() });
  const r = await GenServer.start(rt, Counter, undefined);
  const pid = (r as { pid: Pid }).pid;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) GenServer.cast(rt, pid, 'inc');
  const got = await GenServer.call<number>(rt, pid, 'get', 'infinity');
  const ms = performance.now() - t0;
  if (got !== n) throw new Error(`cast lost messages: ${got}/${n}`);
  await rt.shutdown();
  return (n / ms) * 1000;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  await benchCast();
  await benchCall();
  await benchRestart();
  await benchMemory();
}

async function benchCast(): Promise<void> {
  const N = 300_000;
  const ours: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < 5; round++) {
    raw.push(await rawCast(N));
    ours.push(await castOurs(N));
  }
  const o = median(ours);
  const r = median(raw);
  console.log(`cast  throughput: gen_server ${fmt(o)}/s   raw nact dispatch ${fmt(r)}/s   overhead ${(r / o).toFixed(2)}x (target <= 1.3x)`);
}

async function rawCast(n: number): Promise<number> {
  const sys = nactStart();
  type M = 'inc' | { get: (v: number) => void };
  const a = nactSpawn(
    sys,
    (s: number, m: M) => {
      if (m === 'inc') return s + 1;
      m.get(s);
      return s;
    },
    'counter',
    { initialState: 0 },
  );
  const t0 = performance.now();
  for (let i = 0; i < n; i++) dispatch(a, 'inc');
  const count = await new Promise<number>((resolve) => dispatch(a, { get: resolve }));
  const ms = performance.now() - t0;
  if (count !== n) throw new Error(`nact lost messages: ${count}/${n}`);
  nactStop(sys);
  return (n / ms) * 1000;
}

async function benchCall(): Promise<void> {
  const N = 60_000;
  const ours: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < 5; round++) {
    const sys = nactStart();
    const a = nactSpawn(sys, (s: number, m: { reply: never }) => {
      dispatch(m.reply, s);
      return s;
    }, 'srv', { initialState: 7 });
    let t0 = performance.now();
    for (let i = 0; i < N; i++) await query(a, (temp: unknown) => ({ reply: temp }) as never, 5000);
    raw.push((N / (performance.now() - t0)) * 1000);
    nactStop(sys);

    const rt = new Runtime({ logger: quietLog() });
    const pid = ((await GenServer.start(rt, Counter, undefined)) as { pid: Pid }).pid;
    t0 = performance.now();
    for (let i = 0; i < N; i++) await GenServer.call(rt, pid, 'get');
    ours.push((N / (performance.now() - t0)) * 1000);
    await rt.shutdown();
  }
  const o = median(ours);
  const r = median(raw);
  console.log(`call  throughput: gen_server ${fmt(o)}/s   raw nact query ${fmt(r)}/s   overhead ${(r / o).toFixed(2)}x (target <= 1.5x)`);
}

async function restartLoop(n: number, logger: ReturnType<typeof quietLog>): Promise<number[]> {
  const rt = new Runtime({ logger });
  const Child: GenServerBehaviour<null, void, never, 'crash'> = {
    name: 'victim',
    init: () => ok(null),
    handleCast: () => {
      throw new Error('boom');
    },
  };
  const sup = ((await Supervisor.start(rt, { flags: { strategy: 'one_for_one', intensity: 1_000_000, period: 1 }, children: [GenServer.childSpec('victim', Child, undefined)] })) as { pid: Pid }).pid;
  let current = (await Supervisor.whichChildren(rt, sup))[0]!.pid!;
  const lat: number[] = [];
  let next: ((p: Pid) => void) | undefined;
  rt.events.on('supervisor', (e) => void (e.kind === 'child_restarted' && next?.(e.pid!)));
  for (let i = 0; i < n + 200; i++) {
    const restarted = new Promise<Pid>((resolve) => (next = resolve));
    const t0 = performance.now();
    GenServer.cast(rt, current, 'crash');
    current = await restarted;
    if (i >= 200) lat.push((performance.now() - t0) * 1000);
  }
  await rt.shutdown();
  return lat;
}

async function benchRestart(): Promise<void> {
  const N = 5000;
  const lat = await restartLoop(N, quietLog());
  const p50 = pct(lat, 50);
  const p99 = pct(lat, 99);
  console.log(`restart latency (crash -> restarted, one_for_one, ${N}x, logs off): p50 ${p50.toFixed(1)} us  p99 ${p99.toFixed(1)} us (target p99 < 1000 us)`);
  const logged = await restartLoop(N, createRootLogger({ node: 'bench@localhost', level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) }));
  console.log(`restart latency with crash reports logged (info, to /dev/null): p50 ${pct(logged, 50).toFixed(1)} us  p99 ${pct(logged, 99).toFixed(1)} us`);
  const otp = erlangRestart(N);
  if (otp === undefined) console.log('restart latency on Erlang/OTP: erl is not installed here (apt-get install erlang-base), not measured');
  else console.log(`restart latency on Erlang/OTP ${otp.release}: p50 ${otp.p50.toFixed(1)} us  p99 ${otp.p99.toFixed(1)} us   ours/OTP: p50 ${(p50 / otp.p50).toFixed(2)}x  p99 ${(p99 / otp.p99).toFixed(2)}x`);
}

/** The same restart loop on Erlang/OTP: crash a one_for_one child, wait for the new one's init. */
function erlangRestart(n: number): { release: string; p50: number; p99: number } | undefined {
  try {
    execFileSync('erl', ['-version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fife-otp-'));
  const file = join(dir, 'restart.erl');
  writeFileSync(
    file,
    `-module(restart).
-behaviour(supervisor).
-export([main/1, init/1, start_child/1, child_init/1]).
main([N0]) ->
    logger:set_primary_config(level, none),
    N = list_to_integer(N0),
    Self = self(),
    {ok, _} = supervisor:start_link({local, bench_sup}, ?MODULE, Self),
    receive {started, P0} -> ok end,
    Lat = loop(N + 200, P0, []),
    Sorted = lists:sort(lists:nthtail(0, lists:sublist(lists:reverse(Lat), 201, N))),
    Len = length(Sorted),
    P50 = lists:nth(max(1, Len div 2), Sorted),
    P99 = lists:nth(max(1, (Len * 99) div 100), Sorted),
    io:format("~s ~p ~p~n", [erlang:system_info(otp_release), P50, P99]).
loop(0, _, Acc) -> Acc;
loop(K, Pid, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    exit(Pid, boom),
    receive {started, P} -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    loop(K - 1, P, [(T1 - T0) / 1000 | Acc]).
init(Owner) ->
    {ok, {#{strategy => one_for_one, intensity => 1000000, period => 1},
          [#{id => victim, start => {?MODULE, start_child, [Owner]}}]}}.
start_child(Owner) -> proc_lib:start_link(?MODULE, child_init, [Owner]).
child_init(Owner) ->
    proc_lib:init_ack({ok, self()}),
    Owner ! {started, self()},
    receive stop -> ok end.
`,
  );
  let out: string[];
  try {
    const evalExpr = `{ok,_} = compile:file("restart.erl"), restart:main(["${n}"]), halt().`;
    out = execFileSync('erl', ['-noshell', '-eval', evalExpr], { encoding: 'utf8', cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').at(-1)!.trim().split(/\s+/);
  } catch (err) {
    throw new Error(`restart loop on Erlang/OTP failed: ${String((err as { stderr?: string }).stderr ?? err).split('\n')[0]}`);
  }
  return { release: out[0]!, p50: Number(out[1]), p99: Number(out[2]) };
}

async function benchMemory(): Promise<void> {
  const N = 100_000;
  const measure = async (label: string, make: () => Promise<() => Promise<void> | void>): Promise<number> => {
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const release = await make();
    await new Promise((r) => setTimeout(r, 50));
    gc();
    gc();
    const per = (process.memoryUsage().heapUsed - before) / N;
    await release();
    console.log(`${label}: ${fmt(per)} B each (${N.toLocaleString('en-US')} idle)`);
    return per;
  };
  const raw = await measure('memory per raw nact actor', async () => {
    const sys = nactStart();
    for (let i = 0; i < N; i++) nactSpawn(sys, (s: number) => s, `a${i}`, { initialState: 0 });
    return () => nactStop(sys);
  });
  const ours = await measure('memory per idle gen_server', async () => {
    const rt = new Runtime({ logger: quietLog() });
    const starts: Array<Promise<unknown>> = [];
    for (let i = 0; i < N; i++) starts.push(GenServer.start(rt, Counter, undefined));
    await Promise.all(starts);
    starts.length = 0;
    if (rt.processCount !== N) throw new Error(`expected ${N} processes, have ${rt.processCount}`);
    return () => rt.shutdown();
  });
  console.log(`memory ratio gen_server / raw nact actor: ${(ours / raw).toFixed(2)}x   (target <= 3,072 B; an Erlang process is about 2,700 B)`);
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
