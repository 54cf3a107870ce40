/**
 * OTP's lib/stdlib/test/supervisor_SUITE.erl (OTP 24/25), ported case by case: each `it`
 * is named after the OTP case and asserts what it asserts. Cases that do not apply to
 * Fife (code change, global names, logger formatting, memory and timing measurements)
 * are listed, with the reason, in test/kernel/README.md.
 *
 * Translation: the suite's callback module `init(InitResult) -> InitResult` is an init
 * callback returning the spec; supervisor_1's child is `Child` below (traps exits; `die`
 * -> exits `died`, `stop` -> exits normal, `sleep` -> stops answering); the test case
 * process that traps exits is `testProc`. Where OTP sleeps to let a restart happen, the
 * port waits for the supervisor's own event instead; where OTP checks that nothing
 * exits within 1 s, the port checks after the supervisor has handled the exit.
 */
import { describe, expect, it } from 'vitest';
import { newRuntime, manualClock } from './helpers.ts';
import { testProc, which, counts, terminate, type TestProc } from './otp-helpers.ts';
import {
  GenServer,
  ok,
  noreply,
  stop,
  type GenServerBehaviour,
  type StartResult,
} from '../../src/kernel/gen-server.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import { Exit, type ExitReason } from '../../src/kernel/exit-reason.ts';
import { isExitMessage } from '../../src/kernel/process.ts';
import { AppsController } from '../../src/kernel/apps-controller.ts';
import type {
  ChildSpec,
  RestartType,
  Shutdown,
  StartContext,
  SupervisorInitResult,
  SupervisorFlags,
} from '../../src/kernel/child-spec.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';
import type { Pid } from '../../src/kernel/pid.ts';

// ---- the suite's child (supervisor_1) and its start functions ------------------------

interface ChildArgs {
  /** terminate waits for this first (a child slow to shut down) */
  gate?: Promise<void>;
  /** on a shutdown from its supervisor, exit with this reason instead (supervisor_4) */
  exitOnShutdown?: ExitReason;
  /** on `stop`, exit with this reason (supervisor_4's start_child(Reason)) */
  stopWith?: ExitReason;
  /** tells the test terminate has begun */
  onTerminate?: () => void;
}

const Child: GenServerBehaviour<ChildArgs, ChildArgs, never, never> = {
  name: 'supervisor_1',
  init(args, ctx) {
    ctx.trapExit(true);
    return ok(args);
  },
  handleInfo(msg, s) {
    if (msg === 'die') throw new Exit('died');
    if (msg === 'stop') return stop(s.stopWith ?? 'normal', s);
    if (msg === 'sleep') return new Promise(() => undefined);
    if (isExitMessage(msg)) return stop(msg.reason, s);
    return noreply(s);
  },
  async terminate(reason, s) {
    s.onTerminate?.();
    if (s.gate) await s.gate;
    if (s.exitOnShutdown !== undefined && reason === 'shutdown') throw new Exit(s.exitOnShutdown);
  },
};

const startChild =
  (args: ChildArgs = {}) =>
  (ctx: StartContext): Promise<StartResult> =>
    GenServer.start(ctx.runtime, Child, args, { link: ctx.parent });

/** supervisor_1:start_child(error): the first start works, every later one fails. */
function startOnceThenError(): (ctx: StartContext) => Promise<StartResult> {
  let n = 0;
  return (ctx) =>
    n++ === 0
      ? startChild()(ctx)
      : Promise.resolve({ type: 'error', reason: { function_clause: 'supervisor_1:start_child' } });
}

const ignoreStart = (): Promise<StartResult> => Promise.resolve({ type: 'ignore' });

function spec(
  id: string,
  restart: RestartType = 'permanent',
  shutdown: Shutdown = 1000,
  type: 'worker' | 'supervisor' = 'worker',
  start: ChildSpec['start'] = startChild(),
): ChildSpec {
  return { id, start, restart, shutdown, type };
}

const flags = (
  strategy: SupervisorFlags['strategy'],
  intensity: number,
  period: number,
): SupervisorFlags => ({ strategy, intensity, period });

// ---- the suite's start_link(InitResult) and check_exit_reason ------------------------

/** supervisor_SUITE's start_link/1: a supervisor named sup_test linked to the test process. */
function startLink(
  rt: Runtime,
  tp: TestProc,
  init: SupervisorInitResult | (() => unknown),
): Promise<StartResult> {
  const cb = typeof init === 'function' ? (init as () => SupervisorInitResult) : () => init;
  return Supervisor.start(rt, cb, { name: 'sup_test', link: tp.pid });
}

const okPid = (r: StartResult | { type: 'ok'; pid?: Pid } | { type: 'error'; reason: unknown }): Pid => {
  if (r.type !== 'ok' || !('pid' in r) || r.pid === undefined)
    throw new Error(`expected {ok, Pid}, got ${JSON.stringify(r)}`);
  return r.pid;
};

/** terminate(Pid, shutdown) on the supervisor itself: an exit signal from its parent. */
async function stopSup(rt: Runtime, tp: TestProc, sup: Pid): Promise<void> {
  rt.exit(sup, 'shutdown', tp.pid);
  expect(await tp.exitOf(sup)).toBe('shutdown');
}

function setup(): { rt: Runtime; tp: TestProc } {
  const { rt } = newRuntime();
  return { rt, tp: testProc(rt) };
}

// ---- sup_start -------------------------------------------------------------------------

describe('supervisor_SUITE: sup_start', () => {
  it('sup_start_normal', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    await stopSup(rt, tp, sup);
  });

  it('sup_start_ignore_init', async () => {
    const { rt, tp } = setup();
    const r = await startLink(rt, tp, { type: 'ignore' });
    expect(r).toEqual({ type: 'ignore' });
    // check_exit_reason(normal): the linked starter gets the supervisor's EXIT
    expect(await tp.anyExit()).toBe('normal');
  });

  it('sup_start_ignore_child', async () => {
    const { rt, tp } = setup();
    okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    expect(
      await Supervisor.startChild(rt, 'sup_test', spec('child1', 'permanent', 1000, 'worker', ignoreStart)),
    ).toEqual({ type: 'ok' });
    const cpid2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2')));
    expect(await which(rt, 'sup_test')).toEqual([
      ['child2', cpid2, 'worker'],
      ['child1', undefined, 'worker'],
    ]);
    expect(await counts(rt, 'sup_test')).toEqual([2, 1, 0, 2]);
  });

  it('sup_start_ignore_temporary_child', async () => {
    const { rt, tp } = setup();
    okPid(
      await startLink(rt, tp, {
        flags: flags('one_for_one', 2, 3600),
        children: [spec('child1', 'temporary', 1000, 'worker', ignoreStart), spec('child2', 'temporary')],
      }),
    );
    const w = await which(rt, 'sup_test');
    expect(w).toHaveLength(1);
    expect(w[0]![0]).toBe('child2');
    expect(rt.isAlive(w[0]![1] as Pid)).toBe(true);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('sup_start_ignore_temporary_child_start_child', async () => {
    const { rt, tp } = setup();
    okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    expect(
      await Supervisor.startChild(rt, 'sup_test', spec('child1', 'temporary', 1000, 'worker', ignoreStart)),
    ).toEqual({ type: 'ok' });
    const cpid2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2', 'temporary')));
    expect(await which(rt, 'sup_test')).toEqual([['child2', cpid2, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  /** supervisor_1:start_child(ignore) in a template: ignores the first time, starts after. */
  function ignoreOnce(): ChildSpec['start'] {
    let n = 0;
    return (ctx) => (n++ === 0 ? ignoreStart() : startChild()(ctx));
  }

  it('sup_start_ignore_temporary_child_start_child_simple', async () => {
    const { rt, tp } = setup();
    okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 2, 3600),
        children: [spec('child1', 'temporary', 1000, 'worker', ignoreOnce())],
      }),
    );
    expect(await Supervisor.startChild(rt, 'sup_test', [])).toEqual({ type: 'ok' });
    const cpid2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    expect(await which(rt, 'sup_test')).toEqual([[undefined, cpid2, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('sup_start_ignore_permanent_child_start_child_simple', async () => {
    const { rt, tp } = setup();
    const sup = okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 2, 3600),
        children: [spec('child1', 'permanent', 1000, 'worker', ignoreOnce())],
      }),
    );
    expect(await Supervisor.startChild(rt, 'sup_test', [])).toEqual({ type: 'ok' });
    const cpid2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    expect(await which(rt, 'sup_test')).toEqual([[undefined, cpid2, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    // regression: the supervisor terminates without error
    await stopSup(rt, tp, sup);
  });

  it('sup_start_error_return', async () => {
    const { rt, tp } = setup();
    const r = await startLink(rt, tp, () => 'invalid');
    expect(r).toEqual({ type: 'error', reason: { bad_return: { init: 'invalid' } } });
    // check_exit_reason(Term): the supervisor exits with the same reason
    expect(await tp.anyExit()).toEqual({ bad_return: { init: 'invalid' } });
  });

  it('sup_start_fail', async () => {
    const { rt, tp } = setup();
    const thrown = new Error('badmatch 2');
    const r = await startLink(rt, tp, () => {
      throw thrown;
    });
    expect(r).toEqual({ type: 'error', reason: thrown });
    expect(await tp.anyExit()).toBe(thrown);
  });

  it('sup_start_restart_child_returns_error', async () => {
    const { rt, tp } = setup();
    okPid(
      await startLink(rt, tp, {
        flags: flags('one_for_one', 2, 3600),
        children: [spec('child1', 'permanent', 1000, 'worker', startOnceThenError())],
      }),
    );
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: { function_clause: 'supervisor_1:start_child' },
    });
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
  });

  it('sup_start_child_returns_error', async () => {
    const { rt, tp } = setup();
    okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const child1 = spec('child1', 'permanent', 1000, 'worker', () =>
      Promise.resolve({ type: 'error', reason: 'reason' }),
    );
    const child2 = spec('child2', 'permanent', 1000, 'worker', () =>
      Promise.resolve('error_reason' as never),
    );
    // OTP: {error, {Reason, Child}}
    expect(await Supervisor.startChild(rt, 'sup_test', child1)).toMatchObject({
      type: 'error',
      reason: { reason: 'reason', child: { id: 'child1' } },
    });
    // OTP passes a bad return on as the reason; Fife names it (see README)
    expect(await Supervisor.startChild(rt, 'sup_test', child2)).toMatchObject({
      type: 'error',
      reason: { reason: { bad_start_result: 'error_reason' }, child: { id: 'child2' } },
    });
    expect(await which(rt, 'sup_test')).toEqual([]);
  });

  it('sup_start_child_returns_error_simple', async () => {
    const { rt, tp } = setup();
    const template = spec('child1', 'permanent', 1000, 'worker', (_ctx: StartContext, ret: unknown) =>
      Promise.resolve(ret as StartResult),
    );
    okPid(await startLink(rt, tp, { flags: flags('simple_one_for_one', 2, 3600), children: [template] }));
    expect(await Supervisor.startChild(rt, 'sup_test', [{ type: 'error', reason: 'reason' }])).toEqual({
      type: 'error',
      reason: 'reason',
    });
    expect(await Supervisor.startChild(rt, 'sup_test', ['error_reason'])).toEqual({
      type: 'error',
      reason: { bad_start_result: 'error_reason' },
    });
    expect(await which(rt, 'sup_test')).toEqual([]);
  });
});

// ---- sup_start_map -----------------------------------------------------------------------

describe('supervisor_SUITE: sup_start_map', () => {
  it('sup_start_map', async () => {
    const { rt, tp } = setup();
    const start = startChild();
    const sup = okPid(
      await startLink(rt, tp, {
        children: [
          { id: 'child1', start },
          { id: 'child2', start, shutdown: 'brutal_kill' },
          { id: 'child3', start, type: 'supervisor' },
        ],
      }),
    );
    expect(await Supervisor.getChildSpec(rt, sup, 'child1')).toEqual({
      type: 'ok',
      spec: { id: 'child1', start, restart: 'permanent', shutdown: 5000, type: 'worker', significant: false },
    });
    expect(await Supervisor.getChildSpec(rt, sup, 'child2')).toEqual({
      type: 'ok',
      spec: {
        id: 'child2',
        start,
        restart: 'permanent',
        shutdown: 'brutal_kill',
        type: 'worker',
        significant: false,
      },
    });
    expect(await Supervisor.getChildSpec(rt, sup, 'child3')).toEqual({
      type: 'ok',
      spec: {
        id: 'child3',
        start,
        restart: 'permanent',
        shutdown: 'infinity',
        type: 'supervisor',
        significant: false,
      },
    });
    expect(await Supervisor.getChildSpec(rt, sup, 'child4')).toEqual({ type: 'error', reason: 'not_found' });
    await stopSup(rt, tp, sup);
  });

  it('sup_start_map_simple', async () => {
    const { rt, tp } = setup();
    const start = startChild();
    const sup = okPid(
      await startLink(rt, tp, {
        flags: { strategy: 'simple_one_for_one' },
        children: [{ id: 'undefined', start, restart: 'temporary' }],
      }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, sup, []));
    const c2 = okPid(await Supervisor.startChild(rt, sup, []));
    const c3 = okPid(await Supervisor.startChild(rt, sup, []));
    const full = {
      id: 'undefined',
      start,
      restart: 'temporary',
      type: 'worker',
      shutdown: 5000,
      significant: false,
    };
    for (const c of [c1, c2, c3])
      expect(await Supervisor.getChildSpec(rt, sup, c)).toEqual({ type: 'ok', spec: full });
    // a live process that is not a child (the test process itself)
    expect(await Supervisor.getChildSpec(rt, sup, tp.pid)).toEqual({ type: 'error', reason: 'not_found' });
    await stopSup(rt, tp, sup);
  });

  it('sup_start_map_faulty_specs', async () => {
    const { rt, tp } = setup();
    const start = startChild();
    const r1 = await startLink(rt, tp, () => ({ children: [{ start }] }));
    expect(r1).toMatchObject({ type: 'error', reason: { start_spec: expect.stringMatching(/id/) } });
    const r2 = await startLink(rt, tp, () => ({ children: [{ id: 'child2' }] }));
    expect(r2).toMatchObject({ type: 'error', reason: { start_spec: expect.stringMatching(/start/) } });
    const sup = okPid(
      await startLink(rt, tp, () => ({ children: [{ id: 'child3', start, silly_flag: true }] })),
    );
    await stopSup(rt, tp, sup);
    const r4 = await startLink(rt, tp, () => ({ children: ['child4'] }));
    expect(r4).toMatchObject({ type: 'error', reason: { start_spec: expect.stringMatching(/child4/) } });
  });
});

// ---- sup_stop ------------------------------------------------------------------------------

describe('supervisor_SUITE: sup_stop', () => {
  it('sup_stop_infinity', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const c1 = okPid(
      await Supervisor.startChild(rt, 'sup_test', spec('child1', 'permanent', 'infinity', 'supervisor')),
    );
    const c2 = okPid(
      await Supervisor.startChild(rt, 'sup_test', spec('child2', 'permanent', 'infinity', 'worker')),
    );
    tp.link(c1);
    tp.link(c2);
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(c1)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('shutdown');
  });

  it('sup_stop_timeout', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1', 'permanent', 100)));
    tp.link(c1);
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2', 'permanent', 100)));
    tp.link(c2);
    rt.send(c2, 'sleep');
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(c1)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('killed');
  });

  it('sup_stop_timeout_dynamic', async () => {
    const { rt, tp } = setup();
    const sup = okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 2, 3600),
        children: [spec('child', 'temporary', 100)],
      }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, sup, []));
    tp.link(c1);
    const c2 = okPid(await Supervisor.startChild(rt, sup, []));
    tp.link(c2);
    rt.send(c2, 'sleep');
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(c1)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('killed');
  });

  it('sup_stop_brutal_kill', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1', 'permanent', 1000)));
    tp.link(c1);
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2', 'permanent', 'brutal_kill')));
    tp.link(c2);
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(c1)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('killed');
  });

  it('sup_stop_brutal_kill_dynamic', async () => {
    const { rt, tp } = setup();
    const sup = okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 2, 3600),
        children: [spec('child', 'temporary', 'brutal_kill')],
      }),
    );
    const cpids: Pid[] = [];
    for (let i = 0; i < 10; i++) {
      const c = okPid(await Supervisor.startChild(rt, sup, []));
      tp.link(c);
      cpids.push(c);
    }
    await stopSup(rt, tp, sup);
    for (const c of cpids) expect(await tp.exitOf(c)).toBe('killed');
  });

  it('sup_stop_race', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const cA = okPid(await Supervisor.startChild(rt, sup, spec('child_a', 'temporary', 1000)));
    tp.link(cA);
    const cpids = new Map<Pid, ExitReason>();
    let n = 0;
    for (const restart of ['temporary', 'transient', 'permanent'] as const) {
      for (const reason of ['normal', 'shutdown', { shutdown: 'test' }, 'other'] as ExitReason[]) {
        const c = okPid(
          await Supervisor.startChild(
            rt,
            sup,
            spec(`child_${n++}`, restart, 1000, 'worker', startChild({ stopWith: reason })),
          ),
        );
        tp.link(c);
        cpids.set(c, reason);
      }
    }
    // child_z is slow to shut down (OTP: supervisor_2 sleeps 1 s): while the supervisor
    // waits for it, the other children exit by themselves with their own reasons
    let open!: () => void;
    let zStopping!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const zStarted = new Promise<void>((r) => (zStopping = r));
    const cZ = okPid(
      await Supervisor.startChild(
        rt,
        sup,
        spec('child_z', 'temporary', 2000, 'worker', startChild({ gate, onTerminate: zStopping })),
      ),
    );
    tp.link(cZ);
    rt.exit(sup, 'shutdown', tp.pid);
    await zStarted;
    for (const c of cpids.keys()) rt.send(c, 'stop');
    for (const [c, reason] of cpids) expect(await tp.exitOf(c)).toEqual(reason);
    open();
    expect(await tp.exitOf(sup)).toBe('shutdown');
    expect(await tp.exitOf(cZ)).toBe('shutdown');
    expect(await tp.exitOf(cA)).toBe('shutdown');
  });

  it('sup_stop_non_shutdown_exit_dynamic', async () => {
    const { rt, tp } = setup();
    for (const restart of ['temporary', 'transient', 'permanent'] as const) {
      const template = spec('child', restart, 5000, 'worker', (ctx: StartContext, reason: ExitReason) =>
        startChild({ exitOnShutdown: reason })(ctx),
      );
      const sup = okPid(
        await startLink(rt, tp, { flags: flags('simple_one_for_one', 2, 3600), children: [template] }),
      );
      const cpids = new Map<Pid, ExitReason>();
      for (const reason of ['normal', 'shutdown', { shutdown: 'test' }, 'other'] as ExitReason[]) {
        const c = okPid(await Supervisor.startChild(rt, sup, [reason]));
        tp.link(c);
        cpids.set(c, reason);
      }
      await stopSup(rt, tp, sup);
      for (const [c, reason] of cpids) expect(await tp.exitOf(c)).toEqual(reason);
    }
  });
});

// ---- child administration -----------------------------------------------------------------

describe('supervisor_SUITE: child administration', () => {
  it('child_adm', async () => {
    const { rt, tp } = setup();
    const child = spec('child1', 'permanent', 1000);
    okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [child] }));
    const [[, cpid]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
    expect(await which(rt, 'sup_test')).toEqual([['child1', cpid, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    tp.link(cpid);
    // start of an already running process
    expect(await Supervisor.startChild(rt, 'sup_test', child)).toEqual({
      type: 'error',
      reason: { already_started: cpid },
    });
    // termination
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'hej')).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    await expect(Supervisor.terminateChild(rt, 'foo', 'child1')).rejects.toMatchObject({ kind: 'noproc' });
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    expect(await tp.exitOf(cpid)).toBe('shutdown');
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
    // like deleting something that does not exist, it succeeds
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    // start of an existing but not running child
    expect(await Supervisor.startChild(rt, 'sup_test', child)).toEqual({
      type: 'error',
      reason: 'already_present',
    });
    // restart
    const cpid2 = okPid(await Supervisor.restartChild(rt, 'sup_test', 'child1'));
    expect(await which(rt, 'sup_test')).toEqual([['child1', cpid2, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'running',
    });
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child2')).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    // deletion
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'running',
    });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'hej')).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    await expect(Supervisor.deleteChild(rt, 'foo', 'child1')).rejects.toMatchObject({ kind: 'noproc' });
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([0, 0, 0, 0]);
    // start
    await expect(Supervisor.startChild(rt, 'foo', child)).rejects.toMatchObject({ kind: 'noproc' });
    const cpid3 = okPid(await Supervisor.startChild(rt, 'sup_test', child));
    expect(await which(rt, 'sup_test')).toEqual([['child1', cpid3, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    // terminate with a pid is not allowed when not simple_one_for_one
    expect(await Supervisor.terminateChild(rt, 'sup_test', cpid3)).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    expect(await which(rt, 'sup_test')).toEqual([['child1', cpid3, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    await expect(Supervisor.whichChildren(rt, 'foo')).rejects.toMatchObject({ kind: 'noproc' });
    await expect(Supervisor.countChildren(rt, 'foo')).rejects.toMatchObject({ kind: 'noproc' });
  });

  it('child_adm_simple', async () => {
    const { rt, tp } = setup();
    okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 2, 3600),
        children: [spec('child', 'permanent', 1000)],
      }),
    );
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 0]);
    await expect(Supervisor.startChild(rt, 'foo', [])).rejects.toMatchObject({ kind: 'noproc' });
    const cpid1 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    expect(await which(rt, 'sup_test')).toEqual([[undefined, cpid1, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    const cpid2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    const children = await which(rt, 'sup_test');
    expect(children).toHaveLength(2);
    expect(children).toContainEqual([undefined, cpid2, 'worker']);
    expect(children).toContainEqual([undefined, cpid1, 'worker']);
    expect(await counts(rt, 'sup_test')).toEqual([1, 2, 0, 2]);
    // termination
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'simple_one_for_one',
    });
    expect(await counts(rt, 'sup_test')).toEqual([1, 2, 0, 2]);
    expect(await Supervisor.terminateChild(rt, 'sup_test', cpid1)).toEqual({ type: 'ok' });
    expect(await which(rt, 'sup_test')).toHaveLength(1);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    expect(rt.isAlive(cpid1)).toBe(false);
    // terminating a process that no longer exists is ok
    expect(await Supervisor.terminateChild(rt, 'sup_test', cpid1)).toEqual({ type: 'ok' });
    expect(await which(rt, 'sup_test')).toHaveLength(1);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    // a live pid that is not a child of this supervisor is not ok
    const noChild = rt.spawn(() => undefined, { link: tp.pid });
    expect(await Supervisor.terminateChild(rt, 'sup_test', noChild)).toEqual({
      type: 'error',
      reason: 'not_found',
    });
    expect(rt.isAlive(noChild)).toBe(true);
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'simple_one_for_one',
    });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'simple_one_for_one',
    });
  });

  it('child_specs', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const err = async (arg: unknown): Promise<string> => {
      const r = await Supervisor.startChild(rt, 'sup_test', arg as ChildSpec);
      expect(r.type).toBe('error');
      return String((r as { reason: unknown }).reason);
    };
    expect(await err('hej')).toMatch(/child spec must be an object/);
    const start = startChild();
    expect(await err({ id: 'child', start: 'mfa' })).toMatch(/start must be a function/); // invalid_mfa
    expect(await err({ id: 'child', start, restart: 'prmanent' })).toMatch(
      /restart must be one of.*prmanent/,
    ); // invalid_restart_type
    expect(await err({ id: 'child', start, shutdown: -10 })).toMatch(/shutdown must be.*-10/); // invalid_shutdown
    expect(await err({ id: 'child', start, type: 'wrker' })).toMatch(/type must be.*wrker/); // invalid_child_type
    // every good combination is accepted
    for (const restart of ['permanent', 'transient', 'temporary'] as const) {
      for (const shutdown of [0, 1000, 'infinity', 'brutal_kill'] as const) {
        for (const type of ['supervisor', 'worker'] as const) {
          const r = await Supervisor.startChild(rt, 'sup_test', {
            id: 'child',
            start: ignoreStart,
            restart,
            shutdown,
            type,
          });
          expect(r).toEqual({ type: 'ok' });
          await Supervisor.deleteChild(rt, 'sup_test', 'child');
        }
      }
    }
    await stopSup(rt, tp, sup);
    // duplicate ids; faulty child specs in supervisor start
    const c1 = {
      id: 'child',
      start,
      restart: 'permanent' as const,
      shutdown: 'infinity' as const,
      type: 'supervisor' as const,
    };
    expect(await startLink(rt, tp, () => ({ children: [c1, { ...c1, shutdown: 1000 }] }))).toMatchObject({
      type: 'error',
      reason: { start_spec: expect.stringMatching(/duplicate child id 'child'/) },
    });
    expect(
      await startLink(rt, tp, () => ({
        flags: flags('one_for_one', 2, 3600),
        children: [{ id: 'child', start: 'mfa' }],
      })),
    ).toMatchObject({
      type: 'error',
      reason: { start_spec: expect.stringMatching(/start must be a function/) },
    });
    expect(
      await startLink(rt, tp, () => ({
        flags: flags('simple_one_for_one', 2, 3600),
        children: [{ id: 'child', start, restart: 'prmanent' }],
      })),
    ).toMatchObject({ type: 'error', reason: { start_spec: expect.stringMatching(/prmanent/) } });
    // simple_one_for_one needs exactly one child
    expect(
      await startLink(rt, tp, () => ({ flags: flags('simple_one_for_one', 2, 3600), children: [] })),
    ).toMatchObject({ type: 'error', reason: { bad_start_spec: expect.any(String) } });
    expect(
      await startLink(rt, tp, () => ({
        flags: flags('simple_one_for_one', 2, 3600),
        children: [c1, { ...c1, id: 'c2' }],
      })),
    ).toMatchObject({ type: 'error', reason: { bad_start_spec: expect.any(String) } });
  });

  it('child_specs_map', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { children: [] }));
    const start = startChild();
    const cs0 = { id: 'child', start };
    const err = async (arg: unknown): Promise<string> => {
      const r = await Supervisor.startChild(rt, 'sup_test', arg as ChildSpec);
      expect(r.type).toBe('error');
      return String((r as { reason: unknown }).reason);
    };
    expect(await err({})).toMatch(/id/); // missing_id
    expect(await err({ id: 'child' })).toMatch(/start/); // missing_start
    expect(await err({ start })).toMatch(/id/); // missing_id
    expect(await err({ ...cs0, significant: true })).toMatch(/significant/); // bad_combination with auto_shutdown never
    await stopSup(rt, tp, sup);
    // significant with each auto_shutdown, and with each restart type
    for (const autoShutdown of ['never', 'any_significant', 'all_significant'] as const) {
      for (const restart of ['permanent', 'transient', 'temporary'] as const) {
        const r = await startLink(rt, tp, () => ({
          flags: { autoShutdown },
          children: [{ ...cs0, start: ignoreStart, restart, significant: true }],
        }));
        if (autoShutdown === 'never' || restart === 'permanent')
          expect(r).toMatchObject({
            type: 'error',
            reason: { start_spec: expect.stringMatching(/significant/) },
          });
        else {
          expect(r.type).toBe('ok');
          await stopSup(rt, tp, okPid(r));
        }
      }
    }
    expect(await startLink(rt, tp, () => ({ children: [cs0, cs0] }))).toMatchObject({
      type: 'error',
      reason: { start_spec: expect.stringMatching(/duplicate/) },
    });
    expect(
      await startLink(rt, tp, () => ({ flags: { strategy: 'simple_one_for_one' }, children: [] })),
    ).toMatchObject({ type: 'error', reason: { bad_start_spec: expect.any(String) } });
    expect(
      await startLink(rt, tp, () => ({
        flags: { autoShutdown: 'never' },
        children: [{ ...cs0, restart: 'transient', significant: true }],
      })),
    ).toMatchObject({ type: 'error', reason: { start_spec: expect.stringMatching(/significant/) } });
  });

  it('sup_flags', async () => {
    const { rt, tp } = setup();
    const bad = async (f: unknown, what: RegExp): Promise<void> => {
      expect(await startLink(rt, tp, () => ({ flags: f, children: [] }))).toMatchObject({
        type: 'error',
        reason: { supervisor_data: expect.stringMatching(what) },
      });
    };
    await bad({ strategy: 'none_for_one' }, /strategy/);
    await bad({ intensity: 'infinity' }, /intensity/);
    await bad({ period: 0 }, /period/);
    await bad({ period: 'infinity' }, /period/);
    await bad({ autoShutdown: 'sometimes' }, /autoShutdown/);
    // unexpected flags are ignored
    const sup = okPid(await startLink(rt, tp, () => ({ flags: { silly_flag: true }, children: [] })));
    await stopSup(rt, tp, sup);
  });
});

// ---- restart types ---------------------------------------------------------------------------

describe('supervisor_SUITE: normal, shutdown and abnormal termination', () => {
  async function oneChild(
    restart: RestartType,
  ): Promise<{ rt: Runtime; sup: Pid; c1: Pid; child: ChildSpec }> {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const child = spec('child1', restart, 1000);
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', child));
    return { rt, sup, c1, child };
  }

  async function restartedPid(rt: Runtime): Promise<Pid> {
    const w = await which(rt, 'sup_test');
    expect(w).toHaveLength(1);
    expect(w[0]![0]).toBe('child1');
    expect(rt.isAlive(w[0]![1] as Pid)).toBe(true);
    return w[0]![1] as Pid;
  }

  it('permanent_normal', async () => {
    const { rt, sup, c1 } = await oneChild('permanent');
    await terminate(rt, sup, c1, 'child1', 'normal');
    await restartedPid(rt);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('transient_normal', async () => {
    const { rt, sup, c1 } = await oneChild('transient');
    await terminate(rt, sup, c1, 'child1', 'normal');
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
  });

  it('temporary_normal', async () => {
    const { rt, sup, c1 } = await oneChild('temporary');
    await terminate(rt, sup, c1, 'child1', 'normal');
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([0, 0, 0, 0]);
  });

  it('permanent_shutdown', async () => {
    const { rt, sup, c1 } = await oneChild('permanent');
    await terminate(rt, sup, c1, 'child1', 'shutdown');
    const c2 = await restartedPid(rt);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
    await terminate(rt, sup, c2, 'child1', { shutdown: 'some_info' });
    await restartedPid(rt);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('transient_shutdown', async () => {
    const { rt, sup, c1 } = await oneChild('transient');
    await terminate(rt, sup, c1, 'child1', 'shutdown');
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
    const c2 = okPid(await Supervisor.restartChild(rt, 'sup_test', 'child1'));
    await terminate(rt, sup, c2, 'child1', { shutdown: 'some_info' });
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
  });

  it('temporary_shutdown', async () => {
    const { rt, sup, c1, child } = await oneChild('temporary');
    await terminate(rt, sup, c1, 'child1', 'shutdown');
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([0, 0, 0, 0]);
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', child));
    await terminate(rt, sup, c2, 'child1', { shutdown: 'some_info' });
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([0, 0, 0, 0]);
  });

  it('faulty_application_shutdown', async () => {
    // an app whose top supervisor's child calls an undefined function in its init: the
    // app start fails and passes the error on (OTP adds {app_faulty, start, Args})
    const { rt } = setup();
    const Faulty: GenServerBehaviour<null, null> = {
      name: 'app_faulty_server',
      init() {
        (undefined as unknown as (a: string, b: string) => void)('argument1', 'argument2');
        return ok(null);
      },
    };
    const tree = () => ({
      children: [
        {
          id: 'app_faulty',
          start: (ctx: StartContext) => GenServer.start(ctx.runtime, Faulty, null, { link: ctx.parent }),
        },
      ],
    });
    okPid(await AppsController.start(rt, { env: {}, apps: [{ name: 'app_faulty', tree }] }));
    const r = await AppsController.startApp(rt, 'app_faulty');
    expect(r).toMatchObject({
      type: 'error',
      reason: { shutdown: { failed_to_start_child: 'app_faulty', reason: expect.any(TypeError) } },
    });
  });

  it('permanent_abnormal', async () => {
    const { rt, sup, c1 } = await oneChild('permanent');
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    await restartedPid(rt);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('transient_abnormal', async () => {
    const { rt, sup, c1 } = await oneChild('transient');
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    await restartedPid(rt);
    expect(await counts(rt, 'sup_test')).toEqual([1, 1, 0, 1]);
  });

  it('temporary_abnormal', async () => {
    const { rt, sup, c1 } = await oneChild('temporary');
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    expect(await which(rt, 'sup_test')).toEqual([]);
    expect(await counts(rt, 'sup_test')).toEqual([0, 0, 0, 0]);
  });

  it('temporary_bystander', async () => {
    const { rt, tp } = setup();
    const child1 = spec('child1', 'permanent', 100);
    const child2 = spec('child2', 'temporary', 100);
    const sup1 = okPid(
      await Supervisor.start(rt, () => ({ flags: flags('one_for_all', 2, 300), children: [] }), {
        link: tp.pid,
      }),
    );
    const sup2 = okPid(
      await Supervisor.start(rt, () => ({ flags: flags('rest_for_one', 2, 300), children: [] }), {
        link: tp.pid,
      }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, sup1, child1));
    okPid(await Supervisor.startChild(rt, sup1, child2));
    const c3 = okPid(await Supervisor.startChild(rt, sup2, child1));
    okPid(await Supervisor.startChild(rt, sup2, child2));
    await terminate(rt, sup1, c1, 'child1', 'normal');
    await terminate(rt, sup2, c3, 'child1', 'normal');
    // the supervisors would die attempting to restart child2
    expect(rt.isAlive(sup1)).toBe(true);
    expect(rt.isAlive(sup2)).toBe(true);
    // child2 has not been restarted
    expect((await which(rt, sup1)).map((c) => c[0])).toEqual(['child1']);
    expect((await which(rt, sup2)).map((c) => c[0])).toEqual(['child1']);
  });
});

// ---- restart strategies -----------------------------------------------------------------------

describe('supervisor_SUITE: restart strategies', () => {
  it('multiple_restarts', async () => {
    const clock = manualClock();
    const { rt } = newRuntime({ clock: clock.now });
    const tp = testProc(rt);
    const child1 = {
      id: 'child1',
      start: startChild(),
      restart: 'permanent' as const,
      shutdown: 'brutal_kill' as const,
      type: 'worker' as const,
    };
    const sup = okPid(
      await startLink(rt, tp, { flags: { strategy: 'one_for_one', intensity: 1, period: 1 }, children: [] }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', child1));
    // terminate several times, never exceeding the intensity (OTP sleeps 2.1 s between)
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    for (let i = 0; i < 3; i++) {
      clock.advance(2100);
      const [[, pid]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
      await terminate(rt, sup, pid, 'child1', 'abnormal');
    }
    // the supervisor is still alive
    expect(await Supervisor.terminateChild(rt, sup, 'child1')).toEqual({ type: 'ok' });
    expect(await Supervisor.deleteChild(rt, sup, 'child1')).toEqual({ type: 'ok' });
  });

  it('one_for_one', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1')));
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2')));
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    const children = await which(rt, 'sup_test');
    expect(children).toHaveLength(2);
    expect(children.some((c) => c[1] === c2)).toBe(true);
    expect(await counts(rt, 'sup_test')).toEqual([2, 2, 0, 2]);
    // restart frequency
    await terminate(rt, sup, c2, 'child2', 'abnormal');
    const [[id4, pid4]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
    await terminate(rt, sup, pid4, id4, 'abnormal');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  it('one_for_one_escalation', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 4, 3600), children: [] }));
    const c1 = okPid(
      await Supervisor.startChild(
        rt,
        'sup_test',
        spec('child1', 'permanent', 1000, 'worker', startOnceThenError()),
      ),
    );
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2')));
    tp.link(c2);
    rt.send(c1, 'die');
    expect(await tp.exitOf(sup)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('shutdown');
  });

  it('one_for_all', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_all', 2, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1')));
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2')));
    tp.link(c2);
    await terminate(rt, sup, c1, 'child1', 'abnormal');
    await tp.exitOf(c2);
    const children = await which(rt, 'sup_test');
    expect(children).toHaveLength(2);
    // no old child is still in the list
    for (const c of children) expect([c1, c2]).not.toContain(c[1]);
    expect(await counts(rt, 'sup_test')).toEqual([2, 2, 0, 2]);
    // restart frequency
    const [[id3, pid3]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
    await terminate(rt, sup, pid3, id3, 'abnormal');
    const [[id4, pid4]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
    await terminate(rt, sup, pid4, id4, 'abnormal');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  it('one_for_all_escalation', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_all', 4, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1')));
    const c2 = okPid(
      await Supervisor.startChild(
        rt,
        'sup_test',
        spec('child2', 'permanent', 1000, 'worker', startOnceThenError()),
      ),
    );
    tp.link(c2);
    rt.send(c1, 'die');
    expect(await tp.exitOf(c2)).toBe('shutdown');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  /**
   * supervisor_3: a child whose start tells the test process `{name, pid}` and then waits
   * for the test's answer: `ok` (init returns ok) or `stop` (init returns {stop, normal}).
   */
  function controlledChild(name: string, tp: TestProc): ChildSpec {
    const Ctl: GenServerBehaviour<null, null> = {
      name: 'supervisor_3',
      init: (_a, ctx) =>
        new Promise((resolve) => {
          const me = ctx.self;
          (ctl.pending ??= new Map()).set(me.id, (answer: 'ok' | 'stop') =>
            resolve(answer === 'ok' ? ok(null) : stop('normal')),
          );
          ctx.send(tp.pid, { child: name, pid: me });
        }),
    };
    return spec(name, 'permanent', 1000, 'worker', (ctx) =>
      GenServer.start(ctx.runtime, Ctl, null, { link: ctx.parent }),
    );
  }
  const ctl: { pending?: Map<number, (a: 'ok' | 'stop') => void> } = {};
  const answer = (pid: Pid, a: 'ok' | 'stop'): void => ctl.pending!.get(pid.id)!(a);
  const started = async (tp: TestProc, name?: string): Promise<{ child: string; pid: Pid }> =>
    (await tp.receive(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        'child' in m &&
        (name === undefined || (m as { child: string }).child === name),
    )) as { child: string; pid: Pid };

  it('one_for_all_other_child_fails_restart', async () => {
    const { rt, tp } = setup();
    const starting = startLink(rt, tp, {
      flags: flags('one_for_all', 3, 3600),
      children: [controlledChild('child1', tp), controlledChild('child2', tp)],
    });
    const ch1 = await started(tp, 'child1');
    answer(ch1.pid, 'ok');
    const ch2 = await started(tp, 'child2');
    answer(ch2.pid, 'ok');
    const sup = okPid(await starting);
    rt.exit(ch1.pid, 'die');
    // child1 restarts, child2 does not
    const ch1b = await started(tp);
    expect(ch1b.child).toBe('child1');
    const ch1bDown = rt.awaitExit(ch1b.pid);
    answer(ch1b.pid, 'ok');
    const ch2b = await started(tp);
    expect(ch2b.child).toBe('child2');
    answer(ch2b.pid, 'stop');
    // the restarted child1 is terminated before the next attempt
    expect(await ch1bDown).toBe('shutdown');
    const ch1c = await started(tp);
    expect(ch1c.child).toBe('child1');
    answer(ch1c.pid, 'ok');
    const ch2c = await started(tp);
    expect(ch2c.child).toBe('child2');
    answer(ch2c.pid, 'ok');
    expect((await which(rt, sup)).map((c) => c[1])).toEqual([ch2c.pid, ch1c.pid]);
  });

  it('rest_for_one_other_child_fails_restart', async () => {
    const { rt, tp } = setup();
    const starting = startLink(rt, tp, {
      flags: flags('rest_for_one', 3, 3600),
      children: [controlledChild('child1', tp), controlledChild('child2', tp)],
    });
    const ch1 = await started(tp, 'child1');
    answer(ch1.pid, 'ok');
    const ch2 = await started(tp, 'child2');
    answer(ch2.pid, 'ok');
    const sup = okPid(await starting);
    rt.exit(ch1.pid, 'die');
    const ch1b = await started(tp);
    expect(ch1b.child).toBe('child1');
    answer(ch1b.pid, 'ok');
    const ch2b = await started(tp);
    expect(ch2b.child).toBe('child2');
    answer(ch2b.pid, 'stop');
    // only child2 is started again (child1, already restarted, is not)
    const next = await started(tp);
    expect(next.child).toBe('child2');
    answer(next.pid, 'ok');
    expect((await which(rt, sup)).map((c) => c[1])).toEqual([next.pid, ch1b.pid]);
  });

  it('simple_one_for_one', async () => {
    const { rt, tp } = setup();
    const sup = okPid(
      await startLink(rt, tp, { flags: flags('simple_one_for_one', 2, 3600), children: [spec('child')] }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    await terminate(rt, sup, c1, undefined, 'abnormal');
    const children = await which(rt, 'sup_test');
    expect(children).toHaveLength(2);
    expect(children.some((c) => c[1] === c2)).toBe(true);
    expect(await counts(rt, 'sup_test')).toEqual([1, 2, 0, 2]);
    await terminate(rt, sup, c2, undefined, 'abnormal');
    const [[, pid4]] = (await which(rt, 'sup_test')) as [[undefined, Pid, string]];
    await terminate(rt, sup, pid4, undefined, 'abnormal');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  it('simple_one_for_one_shutdown', async () => {
    const { rt, tp } = setup();
    // children that take a while to shut down gracefully, and one that never does and is
    // killed when the template's shutdown budget runs out (OTP checks the same with times)
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const template = spec('child', 'permanent', 200, 'worker', (ctx: StartContext, hang: boolean) =>
      startChild({ gate: hang ? new Promise(() => undefined) : slow })(ctx),
    );
    const sup = okPid(
      await startLink(rt, tp, { flags: flags('simple_one_for_one', 2, 3600), children: [template] }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', [false]));
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', [false]));
    const c3 = okPid(await Supervisor.startChild(rt, 'sup_test', [true]));
    for (const c of [c1, c2, c3]) tp.link(c);
    rt.exit(sup, 'shutdown', tp.pid);
    release();
    expect(await tp.exitOf(c1)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('shutdown');
    expect(await tp.exitOf(c3)).toBe('killed');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  it('simple_one_for_one_escalation', async () => {
    const { rt, tp } = setup();
    const startedError = new Set<string>();
    const template = spec('child', 'permanent', 1000, 'worker', (ctx: StartContext, mode?: string) => {
      if (mode === 'error' && startedError.has(mode))
        return Promise.resolve({ type: 'error', reason: { function_clause: 'supervisor_1:start_child' } });
      if (mode !== undefined) startedError.add(mode);
      return startChild()(ctx);
    });
    const sup = okPid(
      await startLink(rt, tp, { flags: flags('simple_one_for_one', 4, 3600), children: [template] }),
    );
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', ['error']));
    tp.link(c1);
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    tp.link(c2);
    rt.send(c1, 'die');
    expect(await tp.exitOf(sup)).toBe('shutdown');
    expect(await tp.exitOf(c2)).toBe('shutdown');
  });

  it('rest_for_one', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('rest_for_one', 2, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1')));
    tp.link(c1);
    const c2 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child2')));
    const c3 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child3')));
    tp.link(c3);
    expect(await counts(rt, 'sup_test')).toEqual([3, 3, 0, 3]);
    await terminate(rt, sup, c2, 'child2', 'abnormal');
    // child3 did die
    await tp.exitOf(c3);
    const children = await which(rt, 'sup_test');
    expect(children).toHaveLength(3);
    expect(await counts(rt, 'sup_test')).toEqual([3, 3, 0, 3]);
    const pids = children.map((c) => c[1]);
    expect(pids).not.toContain(c2);
    expect(pids).not.toContain(c3);
    expect(pids).toContain(c1);
    // restart frequency; newest first: child3 heads the list, child2 is second
    const [[id3, pid3]] = (await which(rt, 'sup_test')) as [[string, Pid, string]];
    expect(id3).toBe('child3');
    await terminate(rt, sup, pid3, 'child3', 'abnormal');
    const [, [id2, pid4]] = (await which(rt, 'sup_test')) as Array<[string, Pid, string]>;
    expect(id2).toBe('child2');
    await terminate(rt, sup, pid4!, 'child2', 'abnormal');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });

  it('rest_for_one_escalation', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('rest_for_one', 4, 3600), children: [] }));
    const c1 = okPid(await Supervisor.startChild(rt, 'sup_test', spec('child1')));
    const c2 = okPid(
      await Supervisor.startChild(
        rt,
        'sup_test',
        spec('child2', 'permanent', 1000, 'worker', startOnceThenError()),
      ),
    );
    tp.link(c2);
    rt.send(c1, 'die');
    expect(await tp.exitOf(c2)).toBe('shutdown');
    expect(await tp.exitOf(sup)).toBe('shutdown');
  });
});

// ---- misc ------------------------------------------------------------------------------------

describe('supervisor_SUITE: misc', () => {
  it('child_unlink', async () => {
    const { rt, tp } = setup();
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 2, 3600), children: [] }));
    // naughty_child: unlinks from its supervisor and ignores shutdown
    const Naughty: GenServerBehaviour<null, null> = {
      name: 'naughty_child',
      init(_a, ctx) {
        ctx.trapExit(true);
        ctx.unlink(sup);
        return ok(null);
      },
      handleInfo: (_m, s) => noreply(s),
    };
    okPid(
      await Supervisor.startChild(
        rt,
        'sup_test',
        spec('naughty_child', 'permanent', 100, 'worker', (ctx) =>
          GenServer.start(ctx.runtime, Naughty, null, { link: ctx.parent }),
        ),
      ),
    );
    // the supervisor does not hang: terminate_child returns and it answers afterwards
    expect(await Supervisor.terminateChild(rt, sup, 'naughty_child')).toEqual({ type: 'ok' });
    expect(await which(rt, sup)).toEqual([['naughty_child', undefined, 'worker']]);
  });

  it('tree', async () => {
    const { rt, tp } = setup();
    const child1 = spec('child1');
    const child2 = spec('child2');
    const child3 = spec('child3', 'permanent', 1000, 'worker', startOnceThenError());
    const child4 = spec('child4');
    const supSpec = (id: string, children: ChildSpec[], restart: RestartType): ChildSpec =>
      Supervisor.childSpec(id, () => ({ flags: flags('one_for_one', 4, 3600), children }), { restart });
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_all', 4, 3600), children: [] }));
    const sup1 = okPid(
      await Supervisor.startChild(rt, sup, supSpec('supchild1', [child1, child2], 'permanent')),
    );
    const sup2 = okPid(await Supervisor.startChild(rt, sup, supSpec('supchild2', [], 'permanent')));
    okPid(await Supervisor.startChild(rt, sup, supSpec('supchild3', [], 'transient')));
    expect(await Supervisor.terminateChild(rt, sup, 'supchild3')).toEqual({ type: 'ok' });
    expect(await counts(rt, sup)).toEqual([3, 2, 3, 0]);
    // workers
    const [[, cp2], [, cp1]] = (await which(rt, sup1)) as Array<[string, Pid, string]>;
    expect(await counts(rt, sup1)).toEqual([2, 2, 0, 2]);
    expect(await counts(rt, sup2)).toEqual([0, 0, 0, 0]);
    // dynamic children
    const cp3 = okPid(await Supervisor.startChild(rt, sup2, child3));
    const cp4 = okPid(await Supervisor.startChild(rt, sup2, child4));
    expect(await counts(rt, sup1)).toEqual([2, 2, 0, 2]);
    expect(await counts(rt, sup2)).toEqual([2, 2, 0, 2]);
    // only the process that dies is restarted
    await terminate(rt, sup2, cp4, 'child4', 'abnormal');
    expect(await which(rt, sup1)).toEqual([
      ['child2', cp2, 'worker'],
      ['child1', cp1, 'worker'],
    ]);
    expect(await counts(rt, sup1)).toEqual([2, 2, 0, 2]);
    const [[, newCp4], [, cp3again]] = (await which(rt, sup2)) as Array<[string, Pid, string]>;
    expect(cp3again).toBe(cp3);
    expect(newCp4).not.toBe(cp4);
    expect(await counts(rt, sup2)).toEqual([2, 2, 0, 2]);
    // the tree is restarted (child3 cannot be restarted, supchild2 escalates), but not the
    // dynamic children (OTP sleeps 1 s here; the port waits for the top supervisor)
    const topRestarted = rt.events.waitFor(
      'supervisor',
      (e) => e.supervisor.id === sup.id && e.kind === 'child_restarted' && e.childId === 'supchild3',
    );
    rt.send(cp3, 'die');
    await topRestarted;
    const top = (await which(rt, sup)) as Array<[string, Pid, string]>;
    expect(top.map((c) => c[0])).toEqual(['supchild3', 'supchild2', 'supchild1']);
    expect(await counts(rt, sup)).toEqual([3, 3, 3, 0]);
    const [[, newSup3], [, newSup2], [, newSup1]] = top;
    expect((await which(rt, newSup1)).map((c) => c[0])).toEqual(['child2', 'child1']);
    expect(await counts(rt, newSup1)).toEqual([2, 2, 0, 2]);
    expect(await which(rt, newSup2)).toEqual([]);
    expect(await counts(rt, newSup2)).toEqual([0, 0, 0, 0]);
    expect(await which(rt, newSup3)).toEqual([]);
    expect(await counts(rt, newSup3)).toEqual([0, 0, 0, 0]);
  });

  for (const [name, type] of [
    ['count_children', 'worker'],
    ['count_children_supervisor', 'supervisor'],
  ] as const) {
    it(name, async () => {
      const { rt, tp } = setup();
      const sup = okPid(
        await startLink(rt, tp, {
          flags: flags('simple_one_for_one', 2, 3600),
          children: [spec('child', 'temporary', type === 'worker' ? 1000 : 'infinity', type)],
        }),
      );
      for (let i = 0; i < 1000; i++) await Supervisor.startChild(rt, 'sup_test', []);
      const children = await which(rt, 'sup_test');
      const count = await counts(rt, 'sup_test');
      for (let i = 0; i < 1000; i++) await Supervisor.startChild(rt, 'sup_test', []);
      const count2 = await counts(rt, 'sup_test');
      const children2 = await which(rt, 'sup_test');
      const count3 = await counts(rt, 'sup_test');
      const children3 = await which(rt, 'sup_test');
      expect(children).toHaveLength(1000);
      expect(count).toEqual(type === 'worker' ? [1, 1000, 0, 1000] : [1, 1000, 1000, 0]);
      expect(children2).toHaveLength(2000);
      expect(count2).toEqual(type === 'worker' ? [1, 2000, 0, 2000] : [1, 2000, 2000, 0]);
      expect(children3).toEqual(children2);
      expect(count3).toEqual(count2);
      for (const [, pid] of children3) await terminate(rt, sup, pid as Pid, undefined, 'kill');
      expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 0]);
    });
  }

  /** supervisor_deadlock: a child whose restarts fail while `fail` is set (OTP: an ets flag). */
  function deadlockChild(ctl: { fail: boolean }): ChildSpec['start'] {
    return (ctx) =>
      ctl.fail
        ? Promise.resolve({ type: 'error', reason: 'deadlock_start_failed' })
        : startChild({ stopWith: 'error' })(ctx);
  }
  /** Waits until the supervisor has seen `n` failed restart attempts in total. */
  const failedRestarts = (rt: Runtime, n: number): Promise<unknown> => {
    let seen = 0;
    return rt.events.waitFor('supervisor', (e) => e.kind === 'restart_failed' && ++seen >= n);
  };

  it('count_restarting_children', async () => {
    const { rt, tp } = setup();
    const ctl = { fail: false };
    // OTP: 20 restarts in 10 s with a 2 s delay per failed start; without the delay the
    // failed restarts loop at once, so the port allows more of them
    const sup = okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 1_000_000, 10),
        children: [spec('child', 'permanent', 'brutal_kill', 'worker', deadlockChild(ctl))],
      }),
    );
    expect(await counts(rt, sup)).toEqual([1, 0, 0, 0]);
    const ch11 = okPid(await Supervisor.startChild(rt, sup, []));
    expect(await counts(rt, sup)).toEqual([1, 1, 0, 1]);
    const ch12 = okPid(await Supervisor.startChild(rt, sup, []));
    expect(await counts(rt, sup)).toEqual([1, 2, 0, 2]);
    const ch13 = okPid(await Supervisor.startChild(rt, sup, []));
    expect(await counts(rt, sup)).toEqual([1, 3, 0, 3]);
    for (const c of [ch11, ch12, ch13]) await terminate(rt, sup, c, undefined, 'abnormal');
    expect(await counts(rt, sup)).toEqual([1, 3, 0, 3]);
    const [ch21, ch22, ch23] = (await which(rt, sup)).map((c) => c[1] as Pid);
    ctl.fail = true;
    const failing = failedRestarts(rt, 4);
    await terminate(rt, sup, ch21!, undefined, 'abnormal');
    await terminate(rt, sup, ch22!, undefined, 'abnormal');
    await failing;
    expect(await counts(rt, sup)).toEqual([1, 1, 0, 3]);
    const back = Promise.all(
      [1, 2].map(() => rt.events.waitFor('supervisor', (e) => e.kind === 'child_restarted')),
    );
    ctl.fail = false;
    await back;
    expect(await counts(rt, sup)).toEqual([1, 3, 0, 3]);
    expect(await Supervisor.terminateChild(rt, sup, ch23!)).toEqual({ type: 'ok' });
    expect(await counts(rt, sup)).toEqual([1, 2, 0, 2]);
    const [ch31, ch32] = (await which(rt, sup)).map((c) => c[1] as Pid);
    expect(await Supervisor.terminateChild(rt, sup, ch31!)).toEqual({ type: 'ok' });
    expect(await counts(rt, sup)).toEqual([1, 1, 0, 1]);
    expect(await Supervisor.terminateChild(rt, sup, ch32!)).toEqual({ type: 'ok' });
    expect(await counts(rt, sup)).toEqual([1, 0, 0, 0]);
  });

  it('do_not_save_child_specs_for_temporary_children', async () => {
    const { rt, tp } = setup();
    for (const how of ['kill', 'normal', 'abnormal', 'supervisor'] as const) {
      for (const strategy of ['one_for_all', 'one_for_one', 'rest_for_one'] as const) {
        const sup = okPid(
          await Supervisor.start(rt, () => ({ flags: flags(strategy, 2, 3600), children: [] }), {
            link: tp.pid,
          }),
        );
        const run = async (c: ChildSpec): Promise<Pid> => {
          const pid = okPid(await Supervisor.startChild(rt, sup, c));
          await terminate(rt, how === 'supervisor' ? sup : sup, pid, c.id, how);
          return pid;
        };
        const permanent = spec('child1', 'permanent');
        const transient = spec('child2', 'transient');
        const temporary = spec('child3', 'temporary');
        // permanent: restarted by the supervisor unless terminated through the API
        await run(permanent);
        if (how === 'supervisor') {
          expect(await Supervisor.startChild(rt, sup, permanent)).toEqual({
            type: 'error',
            reason: 'already_present',
          });
          okPid(await Supervisor.restartChild(rt, sup, 'child1'));
        } else
          expect(await Supervisor.startChild(rt, sup, permanent)).toMatchObject({
            type: 'error',
            reason: { already_started: expect.anything() },
          });
        // transient: its spec is kept; restarted after a crash only
        await run(transient);
        if (how === 'supervisor' || how === 'normal') {
          expect(await Supervisor.startChild(rt, sup, transient)).toEqual({
            type: 'error',
            reason: 'already_present',
          });
          okPid(await Supervisor.restartChild(rt, sup, 'child2'));
        } else
          expect(await Supervisor.startChild(rt, sup, transient)).toMatchObject({
            type: 'error',
            reason: { already_started: expect.anything() },
          });
        // temporary: its spec is not kept, so it can be started again
        await run(temporary);
        okPid(await Supervisor.startChild(rt, sup, temporary));
        await stopSup(rt, tp, sup);
      }
    }
  });

  it('hanging_restart_loop', async () => {
    const { rt, tp } = setup();
    const ctl = { fail: false };
    const sup = okPid(await startLink(rt, tp, { flags: flags('one_for_one', 1_000_000, 10), children: [] }));
    const child1 = spec('child1', 'permanent', 'brutal_kill', 'worker', deadlockChild(ctl));
    const cp1 = okPid(await Supervisor.startChild(rt, 'sup_test', child1));
    tp.link(cp1);
    ctl.fail = true;
    const failing = failedRestarts(rt, 3);
    rt.send(cp1, 'stop'); // supervisor_deadlock:restart_child(): the child exits with `error`
    await failing;
    expect(await Supervisor.startChild(rt, 'sup_test', child1)).toEqual({
      type: 'error',
      reason: 'already_present',
    });
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'restarting',
    });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'restarting',
    });
    expect(await which(rt, 'sup_test')).toEqual([['child1', 'restarting', 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child1')).toEqual({ type: 'ok' });
    expect(await tp.exitOf(cp1)).toBe('error');
    expect(await which(rt, 'sup_test')).toEqual([['child1', undefined, 'worker']]);
    ctl.fail = false;
    const cp2 = okPid(await Supervisor.restartChild(rt, 'sup_test', 'child1'));
    tp.link(cp2);
    ctl.fail = true;
    const failing2 = failedRestarts(rt, 3);
    rt.send(cp2, 'stop');
    await failing2;
    // the supervisor can be stopped while it loops on the restart
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(cp2)).toBe('error');
    expect(rt.whereis('sup_test')).toBeUndefined();
  });

  it('hanging_restart_loop_rest_for_one', async () => {
    const { rt, tp } = setup();
    const ctl = { fail: false };
    const sup = okPid(await startLink(rt, tp, { flags: flags('rest_for_one', 1_000_000, 10), children: [] }));
    const child1 = spec('child1', 'permanent', 'brutal_kill');
    const child2 = spec('child2', 'permanent', 'brutal_kill', 'worker', deadlockChild(ctl));
    const child3 = spec('child3', 'permanent', 'brutal_kill');
    const cp1 = okPid(await Supervisor.startChild(rt, 'sup_test', child1));
    const cp2 = okPid(await Supervisor.startChild(rt, 'sup_test', child2));
    tp.link(cp2);
    okPid(await Supervisor.startChild(rt, 'sup_test', child3));
    ctl.fail = true;
    const failing = failedRestarts(rt, 3);
    rt.send(cp2, 'stop');
    await failing;
    expect(await Supervisor.startChild(rt, 'sup_test', child2)).toEqual({
      type: 'error',
      reason: 'already_present',
    });
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child2')).toEqual({
      type: 'error',
      reason: 'restarting',
    });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child2')).toEqual({
      type: 'error',
      reason: 'restarting',
    });
    expect(await which(rt, 'sup_test')).toEqual([
      ['child3', undefined, 'worker'],
      ['child2', 'restarting', 'worker'],
      ['child1', cp1, 'worker'],
    ]);
    expect(await counts(rt, 'sup_test')).toEqual([3, 1, 0, 3]);
    expect(await Supervisor.terminateChild(rt, 'sup_test', 'child2')).toEqual({ type: 'ok' });
    expect(await tp.exitOf(cp2)).toBe('error');
    expect(await which(rt, 'sup_test')).toEqual([
      ['child3', undefined, 'worker'],
      ['child2', undefined, 'worker'],
      ['child1', cp1, 'worker'],
    ]);
    ctl.fail = false;
    const cp22 = okPid(await Supervisor.restartChild(rt, 'sup_test', 'child2'));
    tp.link(cp22);
    ctl.fail = true;
    const failing2 = failedRestarts(rt, 3);
    rt.send(cp22, 'stop');
    await failing2;
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(cp22)).toBe('error');
    expect(rt.whereis('sup_test')).toBeUndefined();
  });

  it('hanging_restart_loop_simple', async () => {
    const { rt, tp } = setup();
    const ctl = { fail: false };
    const sup = okPid(
      await startLink(rt, tp, {
        flags: flags('simple_one_for_one', 1_000_000, 10),
        children: [spec('child1', 'permanent', 'brutal_kill', 'worker', deadlockChild(ctl))],
      }),
    );
    const cp1 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    tp.link(cp1);
    ctl.fail = true;
    const failing = failedRestarts(rt, 3);
    rt.send(cp1, 'stop');
    await failing;
    expect(await Supervisor.restartChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'simple_one_for_one',
    });
    expect(await Supervisor.deleteChild(rt, 'sup_test', 'child1')).toEqual({
      type: 'error',
      reason: 'simple_one_for_one',
    });
    expect(await which(rt, 'sup_test')).toEqual([[undefined, 'restarting', 'worker']]);
    expect(await counts(rt, 'sup_test')).toEqual([1, 0, 0, 1]);
    // the old pid of a child being restarted finds it
    expect(await Supervisor.terminateChild(rt, 'sup_test', cp1)).toEqual({ type: 'ok' });
    expect(await tp.exitOf(cp1)).toBe('error');
    expect(await which(rt, 'sup_test')).toEqual([]);
    ctl.fail = false;
    const cp2 = okPid(await Supervisor.startChild(rt, 'sup_test', []));
    tp.link(cp2);
    ctl.fail = true;
    const failing2 = failedRestarts(rt, 3);
    rt.send(cp2, 'stop');
    await failing2;
    await stopSup(rt, tp, sup);
    expect(await tp.exitOf(cp2)).toBe('error');
    expect(rt.whereis('sup_test')).toBeUndefined();
  });

  it('order_of_children', async () => {
    const { rt, tp } = setup();
    // ids that do not sort alphabetically
    const ids = ['ch7', 'ch3', 'ch10', 'ch2', 'ch5'];
    const sup = okPid(
      await startLink(rt, tp, { flags: flags('rest_for_one', 2, 3600), children: ids.map((id) => spec(id)) }),
    );
    const byPid = (w: Array<[string | undefined, unknown, string]>) =>
      [...w].sort((a, b) => (a[1] as Pid).id - (b[1] as Pid).id);
    const which1 = await which(rt, 'sup_test');
    expect(which1.every((c) => c[1] !== undefined && c[1] !== 'restarting')).toBe(true);
    const sorted1 = byPid(which1);
    expect(sorted1.map((c) => c[0])).toEqual(ids);
    const pids1 = sorted1.map((c) => c[1] as Pid);
    // terminate ch10: ch5 then ch2 are terminated, in that order
    const exited: number[] = [];
    const onExit = (e: { pid: Pid }): void => void exited.push(e.pid.id);
    rt.events.on('exit', onExit);
    await terminate(rt, sup, pids1[2]!, 'ch10', 'abnormal');
    // ch10, ch2, ch5 are started again, in order
    const sorted2 = byPid(await which(rt, 'sup_test'));
    expect(exited.filter((id) => id === pids1[3]!.id || id === pids1[4]!.id)).toEqual([
      pids1[4]!.id,
      pids1[3]!.id,
    ]);
    expect(sorted2.map((c) => c[0])).toEqual(ids);
    expect(sorted2[0]![1]).toBe(pids1[0]);
    expect(sorted2[1]![1]).toBe(pids1[1]);
    const pids2 = sorted2.map((c) => c[1] as Pid);
    // the supervisor terminates all its children in opposite start order
    exited.length = 0;
    await stopSup(rt, tp, sup);
    rt.events.off('exit', onExit);
    expect(exited.filter((id) => pids2.some((p) => p.id === id))).toEqual(
      [...pids2].reverse().map((p) => p.id),
    );
  });
});

// ---- significant children (auto_shutdown) -----------------------------------------------------

describe('supervisor_SUITE: significant', () => {
  /** After `sup` has handled `child`'s exit, the supervisor is still alive. */
  const stillAlive = async (rt: Runtime, sup: Pid): Promise<void> => {
    await Supervisor.countChildren(rt, sup);
    expect(rt.isAlive(sup)).toBe(true);
  };

  for (const [name, restart] of [
    ['nonsignificant_temporary', 'temporary'],
    ['nonsignificant_transient', 'transient'],
  ] as const) {
    it(name, async () => {
      const { rt, tp } = setup();
      const child1: ChildSpec = { id: 'child1', start: startChild(), restart, significant: false };
      for (const autoShutdown of ['never', 'any_significant', 'all_significant'] as const) {
        const sup = okPid(await startLink(rt, tp, { flags: { intensity: 5, autoShutdown }, children: [] }));
        let c = okPid(await Supervisor.startChild(rt, sup, child1));
        tp.link(c);
        await terminate(rt, sup, c, 'child1', 'supervisor');
        await tp.exitOf(c);
        await stillAlive(rt, sup);
        for (const how of ['kill', 'abnormal', 'normal'] as const) {
          c =
            restart === 'temporary'
              ? okPid(await Supervisor.startChild(rt, sup, child1))
              : how === 'kill'
                ? okPid(await Supervisor.restartChild(rt, sup, 'child1'))
                : ((await which(rt, sup))[0]![1] as Pid);
          tp.link(c);
          await terminate(rt, sup, c, 'child1', how);
          await tp.exitOf(c);
          await stillAlive(rt, sup);
        }
        await stopSup(rt, tp, sup);
      }
    });
  }

  const three = (restart: RestartType): ChildSpec[] => [
    { id: 'child1', start: startChild(), restart, significant: true },
    { id: 'child2', start: startChild(), restart, significant: true },
    { id: 'child3', start: startChild(), restart, significant: false },
  ];
  async function startThree(
    rt: Runtime,
    tp: TestProc,
    autoShutdown: 'any_significant' | 'all_significant',
    restart: RestartType,
  ): Promise<{ sup: Pid; p: Pid[] }> {
    const sup = okPid(await startLink(rt, tp, { flags: { intensity: 5, autoShutdown }, children: [] }));
    for (const c of three(restart)) await Supervisor.startChild(rt, sup, c);
    const w = await which(rt, sup);
    expect(w.map((c) => c[0])).toEqual(['child3', 'child2', 'child1']);
    const p = [w[2]![1], w[1]![1], w[0]![1]] as Pid[];
    for (const x of p) tp.link(x);
    return { sup, p };
  }

  it('significant_temporary', async () => {
    const { rt, tp } = setup();
    // through the supervisor: no auto-shutdown
    let { sup, p } = await startThree(rt, tp, 'any_significant', 'temporary');
    await terminate(rt, sup, p[0]!, 'child1', 'supervisor');
    await tp.exitOf(p[0]!);
    await stillAlive(rt, sup);
    expect(tp.gotExit(p[1]!) || tp.gotExit(p[2]!)).toBe(false);
    // killed: auto-shutdown
    await Supervisor.startChild(rt, sup, three('temporary')[0]!);
    const w = await which(rt, sup);
    expect(w.map((c) => c[0])).toEqual(['child1', 'child3', 'child2']);
    const k = w[0]![1] as Pid;
    tp.link(k);
    rt.exit(k, 'kill');
    for (const x of [k, p[1]!, p[2]!, sup]) await tp.exitOf(x);
    // abnormal and normal exits: auto-shutdown
    for (const how of ['abnormal', 'normal'] as const) {
      ({ sup, p } = await startThree(rt, tp, 'any_significant', 'temporary'));
      rt.send(p[0]!, how === 'abnormal' ? 'die' : 'stop');
      for (const x of [...p, sup]) await tp.exitOf(x);
    }
    // all_significant: only after the last significant child
    ({ sup, p } = await startThree(rt, tp, 'all_significant', 'temporary'));
    await terminate(rt, sup, p[0]!, 'child1', 'normal');
    await stillAlive(rt, sup);
    expect(tp.gotExit(p[1]!) || tp.gotExit(p[2]!)).toBe(false);
    rt.send(p[1]!, 'stop');
    for (const x of [p[1]!, p[2]!, sup]) await tp.exitOf(x);
  });

  it('significant_transient', async () => {
    const { rt, tp } = setup();
    let { sup, p } = await startThree(rt, tp, 'any_significant', 'transient');
    await terminate(rt, sup, p[0]!, 'child1', 'supervisor');
    await tp.exitOf(p[0]!);
    await stillAlive(rt, sup);
    await Supervisor.restartChild(rt, sup, 'child1');
    // killed and abnormal: restarted, no auto-shutdown
    for (const how of ['kill', 'abnormal'] as const) {
      const w = await which(rt, sup);
      expect(w.map((c) => c[0])).toEqual(['child3', 'child2', 'child1']);
      const c1 = w[2]![1] as Pid;
      tp.link(c1);
      await terminate(rt, sup, c1, 'child1', how);
      await stillAlive(rt, sup);
      expect(tp.gotExit(p[1]!) || tp.gotExit(p[2]!)).toBe(false);
    }
    // normal: auto-shutdown
    const w = await which(rt, sup);
    const c1 = w[2]![1] as Pid;
    tp.link(c1);
    rt.send(c1, 'stop');
    for (const x of [c1, p[1]!, p[2]!, sup]) await tp.exitOf(x);
    // all_significant
    ({ sup, p } = await startThree(rt, tp, 'all_significant', 'transient'));
    await terminate(rt, sup, p[0]!, 'child1', 'normal');
    await stillAlive(rt, sup);
    rt.send(p[1]!, 'stop');
    for (const x of [p[1]!, p[2]!, sup]) await tp.exitOf(x);
  });

  it('significant_simple', async () => {
    const { rt, tp } = setup();
    const child1: ChildSpec = { id: 'child1', start: startChild(), restart: 'temporary', significant: true };
    const sup1 = okPid(
      await startLink(rt, tp, {
        flags: { strategy: 'simple_one_for_one', autoShutdown: 'any_significant' },
        children: [child1],
      }),
    );
    const c11 = okPid(await Supervisor.startChild(rt, sup1, []));
    const c12 = okPid(await Supervisor.startChild(rt, sup1, []));
    tp.link(c11);
    tp.link(c12);
    rt.send(c11, 'stop');
    for (const x of [c11, c12, sup1]) await tp.exitOf(x);
    const sup2 = okPid(
      await startLink(rt, tp, {
        flags: { strategy: 'simple_one_for_one', autoShutdown: 'all_significant' },
        children: [child1],
      }),
    );
    const c21 = okPid(await Supervisor.startChild(rt, sup2, []));
    const c22 = okPid(await Supervisor.startChild(rt, sup2, []));
    tp.link(c21);
    tp.link(c22);
    await terminate(rt, sup2, c21, undefined, 'normal');
    await stillAlive(rt, sup2);
    expect(tp.gotExit(c22)).toBe(false);
    rt.send(c22, 'stop');
    for (const x of [c22, sup2]) await tp.exitOf(x);
  });

  it('significant_bystander', async () => {
    const { rt, tp } = setup();
    const children: ChildSpec[] = [
      { id: 'child1', start: startChild(), restart: 'transient', significant: true },
      { id: 'child2', start: startChild(), restart: 'transient', significant: false },
      { id: 'child3', start: startChild(), restart: 'transient', significant: true },
    ];
    for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
      for (const autoShutdown of ['any_significant', 'all_significant'] as const) {
        const sup = okPid(
          await startLink(rt, tp, { flags: { strategy, intensity: 5, autoShutdown }, children: [] }),
        );
        for (const c of children) await Supervisor.startChild(rt, sup, c);
        const [[, p3], [, p2], [, p1]] = (await which(rt, sup)) as Array<[string, Pid, string]>;
        for (const x of [p1!, p2!, p3!]) tp.link(x);
        await terminate(rt, sup, p2!, 'child2', 'kill');
        if (strategy === 'one_for_all')
          for (const x of [p1!, p3!]) expect(await tp.exitOf(x)).toBe('shutdown');
        else if (strategy === 'rest_for_one') {
          expect(await tp.exitOf(p3!)).toBe('shutdown');
          expect(tp.gotExit(p1!)).toBe(false);
        } else expect(tp.gotExit(p1!) || tp.gotExit(p3!)).toBe(false);
        await stillAlive(rt, sup);
        await stopSup(rt, tp, sup);
      }
    }
  });

  it('significant_escalation', async () => {
    const { rt, tp } = setup();
    const childSup = (significant: boolean): ChildSpec =>
      Supervisor.childSpec('sup1', () => ({ flags: { autoShutdown: 'any_significant' }, children: [] }), {
        restart: 'transient',
        significant,
      });
    const child1: ChildSpec = { id: 'child1', start: startChild(), restart: 'transient', significant: true };
    // A has B as a significant child, B has C: C ends -> B shuts down -> A shuts down
    const sup1 = okPid(await startLink(rt, tp, { flags: { autoShutdown: 'any_significant' }, children: [] }));
    const b1 = okPid(await Supervisor.startChild(rt, sup1, childSup(true)));
    const c1 = okPid(await Supervisor.startChild(rt, b1, child1));
    tp.link(b1);
    tp.link(c1);
    rt.send(c1, 'stop');
    for (const x of [c1, b1, sup1]) await tp.exitOf(x);
    // B not significant: A stays
    const sup2 = okPid(await startLink(rt, tp, { flags: { autoShutdown: 'any_significant' }, children: [] }));
    const b2 = okPid(await Supervisor.startChild(rt, sup2, childSup(false)));
    const c2 = okPid(await Supervisor.startChild(rt, b2, child1));
    tp.link(b2);
    tp.link(c2);
    const handled = rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_terminated' && e.pid?.id === b2.id,
    );
    rt.send(c2, 'stop');
    for (const x of [c2, b2]) await tp.exitOf(x);
    await handled;
    await stillAlive(rt, sup2);
    await stopSup(rt, tp, sup2);
  });
});
