/**
 * Reconnect back-off: a pure function of the attempt number (0 = first retry).
 * delay = min(maxMs, initialMs * factor^attempt), then +/- jitter (a fraction, 0..1)
 * using the given random source, never below 0. Defaults follow Kazoo's local-zone
 * policy in shape (doubling, capped at 5 s) but start lower (100 ms).
 */

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };

export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, Math.max(0, attempt)));
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}
