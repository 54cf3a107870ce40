/**
 * The `chaos` process: runs a chaos schedule inside the node (a gen_server under
 * kernel_sup, so `fife chaos --every ...` can return at once and the schedule goes on
 * without it).
 *
 * Contract
 * - call `{type:'start', schedule}`: starts a schedule of `floor(forMs / everyMs)` steps,
 *   the first one `everyMs` from now; answers `{type:'ok', steps}`, or `{type:'error',
 *   reason:'running'}` while another runs (stop it first).
 * - Each step draws its kind from `kinds` with the schedule's PRNG (chaos.ts: seeded
 *   with `seed`), then injects it with the same PRNG (kill/crash pick their target in
 *   `randomIn`). An injection that cannot be made (no process to pick, bus not
 *   connected, or anything it throws) is a `fault` event with phase `failed` and a warn
 *   line (an unexpected error also an error line with its stack); the schedule goes on.
 * - call `{type:'stop'}`: ends the running schedule (`{type:'ok', stopped: bool}`); a
 *   timed fault already injected still ends on its own time.
 * - call `{type:'status'}`: `{running, seed?, step?, steps?, everyMs?, kinds?}`.
 * - One info line when a schedule starts, ends or is stopped. If the process is
 *   restarted the schedule is gone (logged by its supervisor); start it again.
 */
import { GenServer, noreply, ok, reply, type GenServerBehaviour } from '../kernel/index.ts';
import {
  CHAOS_PROCESS,
  ChaosError,
  announceFailed,
  drawKind,
  injectFault,
  seededRandom,
  type ChaosDeps,
  type FaultKind,
  type FaultRequest,
} from './chaos.ts';

export interface ChaosSchedule {
  seed: number;
  everyMs: number;
  forMs: number;
  kinds: FaultKind[];
  /** The supervisor kill / crash pick in. */
  randomIn?: string;
  /** Duration of each timed fault (sever-bus, store-down, delay-bus, drop-bus). */
  ms?: number;
  delayMs?: number;
  drop?: number;
  reason?: unknown;
}

export type ChaosDepsArgs = Omit<ChaosDeps, 'runtime' | 'log'>;

interface Running {
  schedule: ChaosSchedule;
  steps: number;
  step: number;
  random: () => number;
  id: number;
}

interface State {
  deps: ChaosDeps;
  running?: Running;
  nextId: number;
}

type Req = { type: 'start'; schedule: ChaosSchedule } | { type: 'stop' } | { type: 'status' };

export const ChaosScheduler: GenServerBehaviour<State, ChaosDepsArgs> = {
  name: 'chaos_scheduler',
  init: (a, ctx) => ok({ deps: { ...a, runtime: ctx.runtime, log: ctx.log }, nextId: 0 }),

  handleCall(raw, _from, s, ctx) {
    const req = raw as Req;
    if (req?.type === 'start') {
      if (s.running !== undefined) return reply({ type: 'error', reason: 'running' }, s);
      const sc = req.schedule;
      const steps = Math.floor(sc.forMs / sc.everyMs);
      const running: Running = {
        schedule: sc,
        steps,
        step: 0,
        random: seededRandom(sc.seed),
        id: ++s.nextId,
      };
      ctx.log.info(
        { seed: sc.seed, every_ms: sc.everyMs, steps, kinds: sc.kinds, random_in: sc.randomIn },
        'chaos schedule started',
      );
      if (steps > 0) ctx.sendAfter(sc.everyMs, { type: 'tick', id: running.id });
      return reply({ type: 'ok', steps }, { ...s, running: steps > 0 ? running : undefined });
    }
    if (req?.type === 'stop') {
      const was = s.running;
      if (was !== undefined)
        ctx.log.info({ seed: was.schedule.seed, step: was.step, steps: was.steps }, 'chaos schedule stopped');
      return reply({ type: 'ok', stopped: was !== undefined }, { ...s, running: undefined });
    }
    if (req?.type === 'status') {
      const r = s.running;
      return reply(
        r === undefined
          ? { running: false }
          : {
              running: true,
              seed: r.schedule.seed,
              step: r.step,
              steps: r.steps,
              everyMs: r.schedule.everyMs,
              kinds: r.schedule.kinds,
            },
        s,
      );
    }
    ctx.log.warn(
      { request: typeof raw === 'object' ? (raw as { type?: unknown })?.type : typeof raw },
      'unknown call',
    );
    return reply({ type: 'error', reason: 'unknown request' }, s);
  },

  handleInfo(raw, s, ctx) {
    const m = raw as { type?: string; id?: number };
    const r = s.running;
    if (m?.type !== 'tick' || r === undefined || m.id !== r.id) return noreply(s);
    const sc = r.schedule;
    const step = r.step;
    const kind = drawKind(sc.kinds, r.random);
    const req: FaultRequest = {
      kind,
      randomIn: kind === 'kill' || kind === 'crash' ? sc.randomIn : undefined,
      reason: kind === 'crash' ? (sc.reason ?? 'chaos') : undefined,
      ms: sc.ms,
      delayMs: kind === 'delay-bus' ? (sc.delayMs ?? 100) : undefined,
      drop: kind === 'drop-bus' ? (sc.drop ?? 0.1) : undefined,
    };
    const stamp = { seed: sc.seed, step, random: r.random };
    try {
      injectFault(s.deps, req, stamp);
    } catch (err) {
      // A step that fails never ends the schedule (nor this process): reported, and on.
      if (!(err instanceof ChaosError))
        ctx.log.error(
          { err: { message: (err as Error).message, stack: (err as Error).stack }, step },
          'chaos step failed unexpectedly',
        );
      announceFailed(s.deps, req, err instanceof Error ? err : new Error(String(err)), stamp);
    }
    r.step++;
    if (r.step >= r.steps) {
      ctx.log.info({ seed: sc.seed, steps: r.steps }, 'chaos schedule done');
      return noreply({ ...s, running: undefined });
    }
    ctx.sendAfter(sc.everyMs, { type: 'tick', id: r.id });
    return noreply(s);
  },

  describe: (s) => ({ running: s.running !== undefined, step: s.running?.step }),
};

export const chaosChildSpec = (args: ChaosDepsArgs) =>
  GenServer.childSpec(CHAOS_PROCESS, ChaosScheduler, args, { name: CHAOS_PROCESS });
