/**
 * Restart intensity: may a supervisor restart once more, or must it give up?
 *
 * Pure function, OTP's rule: each restart is recorded with the time it happens; records
 * older than `period` (seconds) are forgotten (a record at time T still counts at time
 * `now` while `now <= T + period`); if more than `intensity` records remain the
 * supervisor gives up. So intensity 1, period 5 (OTP's defaults) allow one restart in
 * any 5 s, and the second within 5 s makes the supervisor stop. Intensity 0: the first
 * restart that is needed gives up.
 *
 * Difference from OTP: OTP counts in whole seconds of its monotonic clock; Fife counts in
 * milliseconds, so a window edge is exact rather than rounded to the second.
 */
export interface IntensityLimit {
  intensity: number;
  /** seconds */
  period: number;
}

export interface RestartDecision {
  /** false: the supervisor must give up */
  allowed: boolean;
  /** the restart history to keep, newest last, all within the period */
  history: number[];
}

export function addRestart(history: readonly number[], now: number, limit: IntensityLimit): RestartDecision {
  const periodMs = limit.period * 1000;
  const kept = history.filter((t) => now <= t + periodMs);
  kept.push(now);
  return { allowed: kept.length <= limit.intensity, history: kept };
}
