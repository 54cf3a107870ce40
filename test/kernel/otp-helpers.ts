/**
 * Helpers for the ports of OTP's supervisor_SUITE and gen_server_SUITE: a "test case
 * process" that traps exits and records the EXIT messages it gets (OTP's
 * `process_flag(trap_exit, true)` + `check_exit_reason/2`), and small translations of
 * the suites' own helpers (which_children tuples, count_children lists, terminate/4).
 */
import { expect } from 'vitest';
import { isExitMessage } from '../../src/kernel/process.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';
import type { Pid } from '../../src/kernel/pid.ts';
import type { ExitReason } from '../../src/kernel/exit-reason.ts';

export interface TestProc {
  pid: Pid;
  link(p: Pid): void;
  /** The reason of the EXIT message from `p` (waits for it). */
  exitOf(p: Pid): Promise<ExitReason>;
  /** Whether an EXIT from `p` has arrived. */
  gotExit(p: Pid): boolean;
  /** check_exit_reason/1: the reason of the first EXIT from anyone (waits for one). */
  anyExit(): Promise<ExitReason>;
  /** Messages that are not EXITs, in arrival order. */
  inbox: unknown[];
  /** Waits for the next non-EXIT message matching `match`. */
  receive(match?: (m: unknown) => boolean): Promise<unknown>;
}

/** A process that traps exits and records what it receives. */
export function testProc(rt: Runtime): TestProc {
  const exits = new Map<number, ExitReason>();
  const exitWaiters = new Map<number, Array<(r: ExitReason) => void>>();
  const inbox: unknown[] = [];
  const exitLog: ExitReason[] = [];
  const anyWaiters: Array<(r: ExitReason) => void> = [];
  let msgWaiters: Array<{ match: (m: unknown) => boolean; resolve: (m: unknown) => void }> = [];
  const pid = rt.spawn(
    (env) => {
      const m = env.msg;
      if (isExitMessage(m)) {
        exits.set(m.from.id, m.reason);
        exitLog.push(m.reason);
        for (const w of anyWaiters.splice(0)) w(m.reason);
        for (const w of exitWaiters.get(m.from.id) ?? []) w(m.reason);
        exitWaiters.delete(m.from.id);
        return;
      }
      const w = msgWaiters.find((x) => x.match(m));
      if (w !== undefined) {
        msgWaiters = msgWaiters.filter((x) => x !== w);
        w.resolve(m);
      } else inbox.push(m);
    },
    { trapExit: true },
  );
  return {
    pid,
    inbox,
    link: (p) => rt.link(pid, p),
    gotExit: (p) => exits.has(p.id),
    anyExit: () =>
      exitLog.length > 0 ? Promise.resolve(exitLog[0]) : new Promise((resolve) => anyWaiters.push(resolve)),
    exitOf: (p) =>
      exits.has(p.id)
        ? Promise.resolve(exits.get(p.id))
        : new Promise((resolve) => {
            const list = exitWaiters.get(p.id) ?? [];
            list.push(resolve);
            exitWaiters.set(p.id, list);
          }),
    receive: (match = () => true) => {
      const i = inbox.findIndex(match);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve) => msgWaiters.push({ match, resolve }));
    },
  };
}

/** OTP's which_children tuples: [id, pid | 'restarting' | undefined, type]. */
export async function which(
  rt: Runtime,
  sup: Pid | string,
): Promise<Array<[string | undefined, Pid | 'restarting' | undefined, string]>> {
  return (await Supervisor.whichChildren(rt, sup)).map((c) => [
    c.id,
    c.status === 'running' ? c.pid : c.status === 'restarting' ? 'restarting' : undefined,
    c.type,
  ]);
}

/** supervisor_SUITE's get_child_counts: [specs, active, supervisors, workers]. */
export async function counts(rt: Runtime, sup: Pid | string): Promise<number[]> {
  const c = await Supervisor.countChildren(rt, sup);
  return [c.specs, c.active, c.supervisors, c.workers];
}

export type How = 'supervisor' | 'kill' | 'shutdown' | { shutdown: unknown } | 'normal' | 'abnormal';

/**
 * supervisor_SUITE's terminate/4: ends a child the way `how` says and waits until it is
 * down with the matching reason and (when `sup` is given) until its supervisor has
 * handled the EXIT, so a following call sees the supervisor's decision.
 */
export async function terminate(
  rt: Runtime,
  sup: Pid | undefined,
  child: Pid,
  id: string | undefined,
  how: How,
): Promise<void> {
  if (how === 'supervisor') {
    expect(await Supervisor.terminateChild(rt, sup!, id!)).toEqual({ type: 'ok' });
    return;
  }
  const handled =
    sup === undefined
      ? undefined
      : rt.events.waitFor('supervisor', (e) => e.kind === 'child_terminated' && e.pid?.id === child.id);
  const down = rt.awaitExit(child);
  let expected: ExitReason;
  if (how === 'kill') {
    rt.exit(child, 'kill');
    expected = 'killed';
  } else if (how === 'normal') {
    rt.send(child, 'stop');
    expected = 'normal';
  } else if (how === 'abnormal') {
    rt.send(child, 'die');
    expected = 'died';
  } else {
    rt.exit(child, how);
    expected = how;
  }
  expect(await down).toEqual(expected);
  await handled;
}
