/**
 * Restart intensity: may a supervisor restart once more, or must it give up?
 *
 * Deterministic (time comes in as an argument; no I/O), OTP's rule: each restart is recorded with the time it happens; records
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

/**
 * The restart history of one supervisor (or app): times of restarts, oldest first.
 * `add(now)` records a restart and says whether it is allowed. Amortized O(1): expired
 * records are skipped with a moving head and compacted now and then.
 */
export class RestartLog {
  private times: number[] = [];
  private head = 0;

  constructor(
    private readonly limit: IntensityLimit,
    initial: readonly number[] = [],
  ) {
    this.times = [...initial];
  }

  add(now: number): boolean {
    const periodMs = this.limit.period * 1000;
    const t = this.times;
    while (this.head < t.length && now > t[this.head]! + periodMs) this.head++;
    t.push(now);
    if (this.head > 64 && this.head * 2 > t.length) {
      this.times = t.slice(this.head);
      this.head = 0;
    }
    return this.size <= this.limit.intensity;
  }

  /** Restarts still inside the window (as of the last add). */
  get size(): number {
    return this.times.length - this.head;
  }

  /** The counted restart times, oldest first. */
  get history(): number[] {
    return this.times.slice(this.head);
  }
}
