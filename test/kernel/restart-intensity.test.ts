import { describe, it, expect } from 'vitest';
import { RestartLog } from '../../src/kernel/restart-intensity.ts';

describe('restart intensity (pure rule)', () => {
  // [history (ms), now (ms), intensity, period (s)] -> allowed, kept history length
  const table: Array<[number[], number, number, number, boolean, number]> = [
    [[], 0, 1, 5, true, 1],
    [[0], 4_000, 1, 5, false, 2],
    [[0], 5_000, 1, 5, false, 2], // still inside: now <= t + period
    [[0], 5_001, 1, 5, true, 1], // the old restart is forgotten
    [[], 0, 0, 5, false, 1], // intensity 0 gives up at the first restart
    [[0, 1_000, 2_000], 2_500, 3, 5, false, 4],
    [[0, 1_000, 2_000], 6_500, 3, 5, true, 2],
    [[0, 10, 20], 50_000, 3, 60, false, 4],
  ];
  for (const [history, now, intensity, period, allowed, kept] of table) {
    it(`history ${JSON.stringify(history)} now ${now} limit ${intensity}/${period}s -> ${allowed ? 'restart' : 'give up'}`, () => {
      const log = new RestartLog({ intensity, period }, history);
      expect(log.add(now)).toBe(allowed);
      expect(log.size).toBe(kept);
      expect(log.history.at(-1)).toBe(now);
    });
  }

  it('RestartLog keeps only the window across many restarts (compaction)', () => {
    const log = new RestartLog({ intensity: 10, period: 1 });
    for (let t = 0; t < 100_000; t += 200) expect(log.add(t)).toBe(true);
    expect(log.size).toBe(6);
  });
});
