/**
 * Backoff: the one retry-delay rule of Fife (bus reconnects, event-socket reconnects, the
 * store adapters' change feeds, the retrying writer). Pure: no timers, no state.
 *
 * Contract
 * - A policy is {initialMs, maxMs, factor, jitter}. `backoffDelay(attempt, policy,
 *   random?)` answers the wait in whole ms before retry number `attempt` (0 = the first
 *   retry after the first failure; a negative or fractional attempt counts as its floor,
 *   at least 0).
 * - Envelope: base = min(maxMs, initialMs * factor^attempt), never decreasing with the
 *   attempt and never above maxMs.
 * - Jitter is proportional and downward: delay = base * (1 - jitter * r), r = random() in
 *   [0, 1] (clamped). So base * (1 - jitter) <= delay <= base <= maxMs, before rounding to
 *   whole ms. jitter 0 is exact (tests); jitter 1 is AWS's "full jitter" (0..base).
 *   Why this and not full jitter: a retry is never much sooner than the envelope says (no
 *   near-0 ms reconnect to a switch or broker that just went away), yet nodes that lost
 *   the same peer at the same moment are spread over the last `jitter` part of each step
 *   instead of retrying in lockstep. Why downward and not +/-: maxMs stays the longest
 *   wait there is, which is what an operator reads it as.
 * - `backoffPolicy(overrides, defaults)` merges a caller's partial policy over a user's
 *   defaults and checks it: initialMs > 0, maxMs >= initialMs (both finite), factor >= 1
 *   (finite), 0 <= jitter <= 1. A bad one throws a RangeError naming the field, at
 *   construction of the user (never later, at the first outage).
 */

export interface BackoffPolicy {
  /** Wait before the first retry (ms), > 0. */
  readonly initialMs: number;
  /** Longest wait (ms), >= initialMs. */
  readonly maxMs: number;
  /** Growth per attempt, >= 1 (1 = constant delay). */
  readonly factor: number;
  /** Fraction of each wait that is random, 0..1 (0 = none). */
  readonly jitter: number;
}

export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(attempt) ? Math.max(0, Math.floor(attempt)) : 0;
  // initialMs > 0 and factor >= 1: the product is positive or Infinity, never NaN.
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** n);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - policy.jitter * r));
}

export function backoffPolicy(
  overrides: Partial<BackoffPolicy> | undefined,
  defaults: BackoffPolicy,
): BackoffPolicy {
  const p: BackoffPolicy = {
    initialMs: overrides?.initialMs ?? defaults.initialMs,
    maxMs: overrides?.maxMs ?? defaults.maxMs,
    factor: overrides?.factor ?? defaults.factor,
    jitter: overrides?.jitter ?? defaults.jitter,
  };
  const bad = (field: keyof BackoffPolicy, rule: string): never => {
    throw new RangeError(`backoff.${field} must be ${rule}; got ${String(p[field])}`);
  };
  if (!(Number.isFinite(p.initialMs) && p.initialMs > 0)) bad('initialMs', 'a number of ms above 0');
  if (!(Number.isFinite(p.maxMs) && p.maxMs >= p.initialMs))
    bad('maxMs', `a number of ms at least initialMs (${p.initialMs})`);
  if (!(Number.isFinite(p.factor) && p.factor >= 1)) bad('factor', 'a number at least 1');
  if (!(typeof p.jitter === 'number' && p.jitter >= 0 && p.jitter <= 1))
    bad('jitter', 'a fraction from 0 to 1');
  return p;
}
