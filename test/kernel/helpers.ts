/**
 * Test helpers for the kernel suites: a runtime with an in-memory log, a configurable
 * worker gen_server, and waits on kernel events.
 */
import { afterEach } from 'vitest';
import { Runtime } from '../../src/kernel/runtime.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import {
  GenServer,
  ok,
  reply,
  stop,
  type GenServerBehaviour,
  type StartResult,
} from '../../src/kernel/gen-server.ts';
import { Exit, type ExitReason } from '../../src/kernel/exit-reason.ts';
import type { ChildSpec, RestartType, Shutdown } from '../../src/kernel/child-spec.ts';
import type { Pid } from '../../src/kernel/pid.ts';

const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.shutdown();
});

export function newRuntime(opts: { clock?: () => number } = {}): {
  rt: Runtime;
  lines: Array<Record<string, unknown>>;
} {
  const { logger, lines } = memoryLogger('test@localhost', 'debug');
  const rt = new Runtime({ node: 'test@localhost', logger, clock: opts.clock });
  runtimes.push(rt);
  return { rt, lines };
}

/** A manual clock for restart-window tests. */
export function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export interface WorkerArgs {
  id: string;
  /** shared journal of lifecycle facts: "start:a", "terminate:a:shutdown" */
  journal?: string[];
  trap?: boolean;
  initFail?: ExitReason;
  initIgnore?: boolean;
  /** terminate takes this long (ms) before finishing */
  slowTerminate?: number;
  /** terminate never finishes */
  hangTerminate?: boolean;
}

export type WorkerCall = 'ping' | 'args' | { crash: ExitReason } | { stop: ExitReason } | 'hang';
export type WorkerCast = { crash: ExitReason } | { stop: ExitReason };

export const Worker: GenServerBehaviour<WorkerArgs, WorkerArgs, WorkerCall, WorkerCast> = {
  name: 'test_worker',
  init(args, ctx) {
    if (args.trap) ctx.trapExit(true);
    if (args.initFail !== undefined) return stop(args.initFail);
    if (args.initIgnore) return { type: 'ignore' };
    args.journal?.push(`start:${args.id}`);
    return ok(args);
  },
  handleCall(req, _from, s) {
    if (req === 'ping') return reply('pong', s);
    if (req === 'args') return reply(s, s);
    if (req === 'hang') return new Promise(() => undefined);
    if ('crash' in req) throw new Exit(req.crash);
    return stop(req.stop, s, 'stopping');
  },
  handleCast(msg, s) {
    if ('crash' in msg) throw new Exit(msg.crash);
    return stop(msg.stop, s);
  },
  async terminate(reason, s) {
    if (s.hangTerminate) await new Promise(() => undefined);
    if (s.slowTerminate) await new Promise((r) => setTimeout(r, s.slowTerminate));
    s.journal?.push(`terminate:${s.id}:${typeof reason === 'string' ? reason : JSON.stringify(reason)}`);
  },
};

export function workerSpec(
  args: WorkerArgs,
  opts: { restart?: RestartType; shutdown?: Shutdown; significant?: boolean } = {},
): ChildSpec {
  return {
    id: args.id,
    ...opts,
    start: (ctx) => GenServer.start(ctx.runtime, Worker, args, { link: ctx.parent }),
  };
}

export function okPid(r: StartResult): Pid {
  if (r.type !== 'ok') throw new Error(`expected a started process, got ${JSON.stringify(r)}`);
  return r.pid;
}

/** Crashes a running gen_server with `reason` (from inside its own callback). */
export function crash(rt: Runtime, pid: Pid, reason: ExitReason = 'boom'): void {
  GenServer.cast(rt, pid, { crash: reason });
}
