/**
 * Property: random crash sequences against a real supervisor give the same restart and
 * give-up decisions as a small reference model of OTP's rules.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { newRuntime, manualClock, workerSpec, okPid } from './helpers.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import { GenServer } from '../../src/kernel/gen-server.ts';
import type { RestartType, Strategy } from '../../src/kernel/child-spec.ts';
import type { Pid } from '../../src/kernel/pid.ts';

type Reason = 'normal' | 'shutdown' | 'boom';

interface ModelChild {
  id: string;
  restart: RestartType;
  running: boolean;
  generation: number;
}
interface Model {
  alive: boolean;
  children: ModelChild[];
  history: number[];
}

/** OTP's rules, written as plainly as possible. */
function modelCrash(
  m: Model,
  strategy: Strategy,
  intensity: number,
  periodMs: number,
  now: number,
  i: number,
  reason: Reason,
): void {
  const c = m.children[i]!;
  c.running = false;
  const normal = reason !== 'boom';
  const restart = c.restart === 'permanent' || (c.restart === 'transient' && !normal);
  if (!restart) {
    if (c.restart === 'temporary') m.children.splice(i, 1);
    return;
  }
  m.history = [...m.history.filter((t) => now <= t + periodMs), now];
  if (m.history.length > intensity) {
    m.alive = false;
    return;
  }
  const group =
    strategy === 'one_for_all' ? [...m.children] : strategy === 'rest_for_one' ? m.children.slice(i) : [c];
  for (const g of group) {
    if (g !== c && g.restart === 'temporary') {
      m.children.splice(m.children.indexOf(g), 1);
      continue;
    }
    g.running = true;
    g.generation++;
  }
}

const restartType = fc.constantFrom<RestartType>('permanent', 'transient', 'temporary');
const step = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      crash: fc.nat({ max: 3 }),
      reason: fc.constantFrom<Reason>('normal', 'shutdown', 'boom', 'boom'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ wait: fc.integer({ min: 100, max: 4000 }) }) },
);

describe('supervisor decisions match the OTP reference model', () => {
  it('random crash sequences', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Strategy>('one_for_one', 'one_for_all', 'rest_for_one'),
        fc.array(restartType, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(step, { minLength: 1, maxLength: 14 }),
        async (strategy, types, intensity, period, steps) => {
          const clock = manualClock();
          const { rt } = newRuntime({ clock: clock.now });
          const children = types.map((restart, k) => workerSpec({ id: `c${k}` }, { restart }));
          const sup = okPid(await Supervisor.start(rt, { flags: { strategy, intensity, period }, children }));
          const m: Model = {
            alive: true,
            history: [],
            children: types.map((restart, k) => ({ id: `c${k}`, restart, running: true, generation: 0 })),
          };
          let pids = new Map<string, Pid | undefined>(
            (await Supervisor.whichChildren(rt, sup)).map((c) => [c.id!, c.pid]),
          );

          for (const s of steps) {
            if (!m.alive) break;
            if ('wait' in s) {
              clock.advance(s.wait);
              continue;
            }
            const running = m.children.filter((c) => c.running);
            if (running.length === 0) continue;
            const target = running[s.crash % running.length]!;
            const before = new Map(m.children.map((c) => [c.id, c.generation]));
            modelCrash(
              m,
              strategy,
              intensity,
              period * 1000,
              clock.now(),
              m.children.indexOf(target),
              s.reason,
            );

            const pid = pids.get(target.id)!;
            const exited = rt.awaitExit(pid);
            GenServer.cast(rt, pid, { stop: s.reason });
            await exited;
            if (!m.alive) {
              const ended = await Promise.race([
                rt.awaitExit(sup),
                new Promise((r) => setTimeout(() => r('still running'), 1000)),
              ]);
              expect(ended).toBe('shutdown');
              break;
            }
            const kids = await Supervisor.whichChildren(rt, sup);
            // OTP's which_children order: newest first
            expect(kids.map((k) => k.id)).toEqual(m.children.map((c) => c.id).reverse());
            for (const c of m.children) {
              const real = kids.find((k) => k.id === c.id)!;
              expect(real.status === 'running', `${c.id} running`).toBe(c.running);
              const restartedNow = c.generation !== before.get(c.id);
              if (c.running) expect(real.pid !== pids.get(c.id), `${c.id} restarted`).toBe(restartedNow);
            }
            pids = new Map(kids.map((k) => [k.id!, k.pid]));
          }
          expect(rt.isAlive(sup)).toBe(m.alive);
          await rt.shutdown();
        },
      ),
      { numRuns: 150 },
    );
  });
});
