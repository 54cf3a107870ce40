/**
 * The one backoff rule (src/kernel/backoff.ts): a table of delays per attempt, the
 * jitter's range, policy checking, and a property: every delay of every valid policy lies
 * between the jittered floor and the envelope, which never passes maxMs nor shrinks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../../src/kernel/index.ts';

const noJitter = (): number => 0;

describe('backoffDelay: the envelope', () => {
  const bus: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0 };
  const writer: BackoffPolicy = { initialMs: 200, maxMs: 10_000, factor: 2, jitter: 0 };
  const slow: BackoffPolicy = { initialMs: 150, maxMs: 2_000, factor: 1.7, jitter: 0 };
  const constant: BackoffPolicy = { initialMs: 300, maxMs: 300, factor: 2, jitter: 0 };
  it.each([
    ['bus', 0, 100, bus],
    ['bus', 1, 200, bus],
    ['bus', 5, 3_200, bus],
    ['bus', 6, 5_000, bus],
    ['bus', 50, 5_000, bus],
    ['bus', 5_000, 5_000, bus],
    ['writer', 0, 200, writer],
    ['writer', 5, 6_400, writer],
    ['writer', 6, 10_000, writer],
    ['factor 1.7', 1, 255, slow],
    ['factor 1.7', 3, 737, slow],
    ['factor 1.7', 4, 1_253, slow],
    ['factor 1.7', 5, 2_000, slow],
    ['initial = max', 0, 300, constant],
    ['initial = max', 9, 300, constant],
    ['negative attempt counts as 0', -3, 100, bus],
    ['fractional attempt counts as its floor', 2.9, 400, bus],
    ['NaN attempt counts as 0', Number.NaN, 100, bus],
  ] as const)('%s: attempt %d waits %d ms', (_name, attempt, ms, policy) => {
    expect(backoffDelay(attempt, policy, noJitter)).toBe(ms);
  });
});

describe('backoffDelay: jitter takes off up to its fraction, never adds', () => {
  const p: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };
  it.each([
    [0, 0, 100],
    [0, 0.5, 90],
    [0, 1, 80],
    [3, 1, 640],
    [10, 0, 5_000],
    [10, 1, 4_000],
    [10, 0.25, 4_750],
    [0, 1.5, 80],
    [0, -1, 100],
  ])('attempt %d, random %d -> %d ms', (attempt, r, ms) => {
    expect(backoffDelay(attempt, p, () => r)).toBe(ms);
  });

  it('jitter 1 spreads over the whole step, down to 0', () => {
    expect(backoffDelay(2, { ...p, jitter: 1 }, () => 1)).toBe(0);
    expect(backoffDelay(2, { ...p, jitter: 1 }, () => 0.5)).toBe(200);
  });

  it('uses Math.random when no random source is given', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(10, p)));
    expect(seen.size).toBeGreaterThan(1);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(5_000);
    }
  });
});

describe('backoffPolicy', () => {
  const defaults: BackoffPolicy = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 };

  it('fills what the caller leaves out from the defaults', () => {
    expect(backoffPolicy(undefined, defaults)).toEqual(defaults);
    expect(backoffPolicy({ initialMs: 10, maxMs: 50 }, defaults)).toEqual({
      initialMs: 10,
      maxMs: 50,
      factor: 2,
      jitter: 0.2,
    });
    expect(backoffPolicy({ jitter: 0 }, defaults)).toEqual({ ...defaults, jitter: 0 });
  });

  it.each([
    [{ initialMs: 0 }, /backoff\.initialMs must be a number of ms above 0; got 0/],
    [{ initialMs: -5 }, /backoff\.initialMs/],
    [{ initialMs: Number.POSITIVE_INFINITY }, /backoff\.initialMs/],
    [
      { initialMs: 200, maxMs: 100 },
      /backoff\.maxMs must be a number of ms at least initialMs \(200\); got 100/,
    ],
    [{ maxMs: Number.NaN }, /backoff\.maxMs/],
    [{ factor: 0.5 }, /backoff\.factor must be a number at least 1; got 0.5/],
    [{ jitter: 1.5 }, /backoff\.jitter must be a fraction from 0 to 1; got 1.5/],
    [{ jitter: -0.1 }, /backoff\.jitter/],
    [{ jitter: '0.2' as unknown as number }, /backoff\.jitter/],
    [{ initialMs: '100' as unknown as number }, /backoff\.initialMs/],
  ])('refuses %j with a RangeError that names the field', (bad, message) => {
    expect(() => backoffPolicy(bad, defaults)).toThrow(RangeError);
    expect(() => backoffPolicy(bad, defaults)).toThrow(message);
  });
});

describe('property: delays stay within bounds', () => {
  const policy = fc
    .record({
      initialMs: fc.integer({ min: 1, max: 60_000 }),
      extra: fc.integer({ min: 0, max: 600_000 }),
      factor: fc.double({ min: 1, max: 10, noNaN: true }),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ initialMs, extra, factor, jitter }) =>
      backoffPolicy(
        { initialMs, maxMs: initialMs + extra, factor, jitter },
        { initialMs: 1, maxMs: 1, factor: 1, jitter: 0 },
      ),
    );
  const attempt = fc.integer({ min: 0, max: 2_000 });
  const unit = fc.double({ min: 0, max: 1, noNaN: true });

  it('floor(base * (1 - jitter)) <= delay <= base <= maxMs, in whole ms', () => {
    fc.assert(
      fc.property(policy, attempt, unit, (p, n, r) => {
        const d = backoffDelay(n, p, () => r);
        const base = backoffDelay(n, p, noJitter);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - p.jitter)));
        expect(d).toBeLessThanOrEqual(base);
        expect(base).toBeLessThanOrEqual(p.maxMs);
        expect(base).toBeGreaterThanOrEqual(Math.min(Math.round(p.initialMs), p.maxMs));
      }),
      { numRuns: 2_000 },
    );
  });

  it('the envelope never shrinks from one attempt to the next', () => {
    fc.assert(
      fc.property(policy, attempt, (p, n) => {
        expect(backoffDelay(n + 1, p, noJitter)).toBeGreaterThanOrEqual(backoffDelay(n, p, noJitter));
      }),
      { numRuns: 2_000 },
    );
  });
});
