/**
 * Kernel benchmark. Prints, each against a baseline measured in the same run:
 * - gen_server cast throughput (one million casts, then a call that reads the count) and
 *   call throughput (300,000 calls one after the other), vs the same gen_server on
 *   Erlang/OTP as an escript on one scheduler (`+S 1:1`), when `erl` is installed
 *   (targets: cast >= 0.5x OTP, call >= 1.0x OTP)
 * - crash-to-restarted latency p50/p99 of a one_for_one child (target: p99 < 1 ms,
 *   p50 <= 0.5x OTP), and the same loop on Erlang/OTP; both with logging off and
 *   intensity 1,000,000 per second
 * - memory per idle gen_server with 100k of them (target: <= 2 KB), and a raw nact
 *   actor's for scale
 * Rounds alternate between ours and the baseline; medians are printed.
 */
import { start as nactStart, spawn as nactSpawn, stop as nactStop } from 'nact';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Runtime,
  GenServer,
  Supervisor,
  ok,
  reply,
  noreply,
  type GenServerBehaviour,
  type Pid,
} from '../../src/kernel/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import pino from 'pino';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const quietLog = () => createRootLogger({ node: 'bench@localhost', level: 'silent' });

const Counter: GenServerBehaviour<number, void, 'get', 'inc'> = {
  name: 'counter',
  init: () => ok(0),
  handleCall: (_r, _f, n) => reply(n, n),
  handleCast: (_m, n) => noreply(n + 1),
};

/** One million casts then a call that reads the count (the cast loop ends when it answers). */
async function castOurs(n: number): Promise<number> {
  const rt = new Runtime({ logger: quietLog() });
  const pid = ((await GenServer.start(rt, Counter, undefined)) as { pid: Pid }).pid;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) GenServer.cast(rt, pid, 'inc');
  const got = await GenServer.call<number>(rt, pid, 'get', 'infinity');
  const ms = performance.now() - t0;
  if (got !== n) throw new Error(`cast lost messages: ${got}/${n}`);
  await rt.shutdown();
  return (n / ms) * 1000;
}

/** Calls one after the other, default timeout (5000 ms, as OTP's gen_server:call/2). */
async function callOurs(n: number): Promise<number> {
  const rt = new Runtime({ logger: quietLog() });
  const pid = ((await GenServer.start(rt, Counter, undefined)) as { pid: Pid }).pid;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await GenServer.call(rt, pid, 'get');
  const ms = performance.now() - t0;
  await rt.shutdown();
  return (n / ms) * 1000;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  await benchMessages();
  await benchRestart();
  await benchMemory();
}

/** Casts and calls, ours and Erlang/OTP's in alternating rounds; medians and ratios. */
async function benchMessages(): Promise<void> {
  const CASTS = 1_000_000;
  const CALLS = 300_000;
  const ROUNDS = 5;
  const ours = { cast: [] as number[], call: [] as number[] };
  const otp = { cast: [] as number[], call: [] as number[], release: '' };
  const haveErl = hasErlang();
  for (let round = 0; round < ROUNDS; round++) {
    gc();
    ours.cast.push(await castOurs(CASTS));
    gc();
    ours.call.push(await callOurs(CALLS));
    if (haveErl) {
      const o = erlangMessages(CASTS, CALLS);
      otp.cast.push(o.cast);
      otp.call.push(o.call);
      otp.release = o.release;
    }
  }
  const oc = median(ours.cast);
  const ol = median(ours.call);
  console.log(`cast  throughput (${fmt(CASTS)} casts, then a call): gen_server ${fmt(oc)}/s`);
  console.log(`call  throughput (${fmt(CALLS)} calls in turn):      gen_server ${fmt(ol)}/s`);
  if (!haveErl) {
    console.log(
      'messages on Erlang/OTP: erl is not installed here (apt-get install erlang-base), not measured',
    );
    return;
  }
  const ec = median(otp.cast);
  const el = median(otp.call);
  console.log(`messages on Erlang/OTP ${otp.release} (+S 1:1): cast ${fmt(ec)}/s  call ${fmt(el)}/s`);
  console.log(
    `ours/OTP: cast ${(oc / ec).toFixed(2)}x (target >= 0.5x)  call ${(ol / el).toFixed(2)}x (target >= 1.0x)   (medians of ${ROUNDS} alternating rounds)`,
  );
}

function hasErlang(): boolean {
  try {
    execFileSync('erl', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The same gen_server on Erlang/OTP, as an escript on one scheduler: casts/s and calls/s. */
function erlangMessages(casts: number, calls: number): { release: string; cast: number; call: number } {
  const dir = mkdtempSync(join(tmpdir(), 'fife-otp-'));
  const file = join(dir, 'msgbench.escript');
  writeFileSync(
    file,
    `#!/usr/bin/env escript
%%! +S 1:1
-module(msgbench).
-mode(compile).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2]).
main([Casts0, Calls0]) ->
    Casts = list_to_integer(Casts0),
    Calls = list_to_integer(Calls0),
    {ok, Pid} = gen_server:start(?MODULE, 0, []),
    T0 = erlang:monotonic_time(nanosecond),
    cast_loop(Pid, Casts),
    Casts = gen_server:call(Pid, get, infinity),
    T1 = erlang:monotonic_time(nanosecond),
    call_loop(Pid, Calls),
    T2 = erlang:monotonic_time(nanosecond),
    io:format("~s ~p ~p~n", [erlang:system_info(otp_release), Casts * 1.0e9 / (T1 - T0), Calls * 1.0e9 / (T2 - T1)]).
cast_loop(_, 0) -> ok;
cast_loop(P, N) -> gen_server:cast(P, inc), cast_loop(P, N - 1).
call_loop(_, 0) -> ok;
call_loop(P, N) -> _ = gen_server:call(P, get), call_loop(P, N - 1).
init(N) -> {ok, N}.
handle_call(get, _From, N) -> {reply, N, N}.
handle_cast(inc, N) -> {noreply, N + 1}.
`,
  );
  let out: string[];
  try {
    out = execFileSync('escript', [file, String(casts), String(calls)], {
      encoding: 'utf8',
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .trim()
      .split('\n')
      .at(-1)!
      .trim()
      .split(/\s+/);
  } catch (err) {
    throw new Error(
      `message loop on Erlang/OTP failed: ${String((err as { stderr?: string }).stderr ?? err).split('\n')[0]}`,
      { cause: err },
    );
  }
  return { release: out[0]!, cast: Number(out[1]), call: Number(out[2]) };
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
  const sup = (
    (await Supervisor.start(rt, {
      flags: { strategy: 'one_for_one', intensity: 1_000_000, period: 1 },
      children: [GenServer.childSpec('victim', Child, undefined)],
    })) as { pid: Pid }
  ).pid;
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
  console.log(
    `restart latency (crash -> restarted, one_for_one, ${N}x, logs off): p50 ${p50.toFixed(1)} us  p99 ${p99.toFixed(1)} us (target p99 < 1000 us, p50 <= 0.5x OTP)`,
  );
  const logged = await restartLoop(
    N,
    createRootLogger({
      node: 'bench@localhost',
      level: 'info',
      destination: pino.destination({ dest: '/dev/null', sync: false }),
    }),
  );
  console.log(
    `restart latency with crash reports logged (info, to /dev/null): p50 ${pct(logged, 50).toFixed(1)} us  p99 ${pct(logged, 99).toFixed(1)} us`,
  );
  const otp = hasErlang() ? erlangRestart(N) : undefined;
  if (otp === undefined)
    console.log(
      'restart latency on Erlang/OTP: erl is not installed here (apt-get install erlang-base), not measured',
    );
  else
    console.log(
      `restart latency on Erlang/OTP ${otp.release}: p50 ${otp.p50.toFixed(1)} us  p99 ${otp.p99.toFixed(1)} us   ours/OTP: p50 ${(p50 / otp.p50).toFixed(2)}x  p99 ${(p99 / otp.p99).toFixed(2)}x`,
    );
}

/** The same restart loop on Erlang/OTP: crash a one_for_one child, wait for the new one's init. */
function erlangRestart(n: number): { release: string; p50: number; p99: number } {
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
    out = execFileSync('erl', ['-noshell', '-eval', evalExpr], {
      encoding: 'utf8',
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .trim()
      .split('\n')
      .at(-1)!
      .trim()
      .split(/\s+/);
  } catch (err) {
    throw new Error(
      `restart loop on Erlang/OTP failed: ${String((err as { stderr?: string }).stderr ?? err).split('\n')[0]}`,
      { cause: err },
    );
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
  console.log(
    `memory per idle gen_server: ${fmt(ours)} B (target <= 2,048 B; a raw nact actor ${fmt(raw)} B; an Erlang process about 2,700 B)`,
  );
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
