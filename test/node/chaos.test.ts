import { describe, expect, it } from 'vitest';
import { chaosSuite } from './chaos-suite.ts';
import { planSchedule, seededRandom } from '../../src/node/chaos.ts';

describe('fault injection on a node on the embedded bus', () => chaosSuite('embedded'));

describe('chaos schedule plan', () => {
  it('the same seed gives the same plan; another seed another one', () => {
    const kinds = ['kill', 'crash', 'sever-bus', 'store-down', 'drop-bus'] as const;
    const targets = ['a', 'b/c', 'd', 'e'];
    const one = planSchedule(42, 50, kinds, targets);
    expect(planSchedule(42, 50, kinds, targets)).toEqual(one);
    expect(planSchedule(43, 50, kinds, targets)).not.toEqual(one);
    expect(new Set(one.map((s) => s.kind))).toEqual(new Set(kinds));
    for (const s of one)
      expect(s.kind === 'kill' || s.kind === 'crash' ? targets : [undefined]).toContain(s.target);
  });

  it('seededRandom is uniform enough to pick every item', () => {
    const r = seededRandom(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[Math.floor(r() * 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
