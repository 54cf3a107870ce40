/**
 * Identity and time for the simulator: UUIDs, the event clock and the event sequence.
 *
 * Contract
 * - `createSimIds({seed})`: without a seed, UUIDs are random v4 (crypto). With a seed,
 *   UUIDs come from a small PRNG (mulberry32) and are the same on every run with that
 *   seed, so a recorded session replays identically.
 * - `createSimClock({startMicros, stepMicros})`: without options it is the wall clock in
 *   microseconds (as Event-Date-Timestamp); with `startMicros` it is a fake clock that
 *   advances `stepMicros` (default 1000) on every read, so it is deterministic too.
 *   Readings are strictly increasing in both modes.
 * - Timers are always real (setTimeout); only the stamps on events are faked.
 */
import { seededRandom } from '../kernel/seeded-random.ts';
import { randomUUID } from 'node:crypto';

export interface SimIds {
  uuid(): string;
}

export function createSimIds(opts: { seed?: number } = {}): SimIds {
  if (opts.seed === undefined) return { uuid: () => randomUUID() };
  const rand = seededRandom(opts.seed);
  const hex = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
    return s;
  };
  return {
    uuid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(rand() * 4)]}${hex(3)}-${hex(12)}`,
  };
}

export interface SimClock {
  /** Microseconds since the epoch, strictly increasing. */
  nowMicros(): number;
}

export function createSimClock(opts: { startMicros?: number; stepMicros?: number } = {}): SimClock {
  if (opts.startMicros !== undefined) {
    let t = opts.startMicros;
    const step = opts.stepMicros ?? 1000;
    return { nowMicros: () => (t += step) };
  }
  let last = 0;
  const origin = Date.now() * 1000 - Math.round(performance.now() * 1000);
  return {
    nowMicros: () => {
      const now = origin + Math.round(performance.now() * 1000);
      last = now > last ? now : last + 1;
      return last;
    },
  };
}
