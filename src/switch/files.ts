/**
 * The simulated switch's recorded files: an in-memory table, path -> recorded length.
 *
 * Contract
 * - `put(path, ms)` makes (or replaces) the file `path` of `ms` milliseconds of audio, as
 *   FreeSWITCH's `record` leaves a file on the switch's disk when it stops.
 * - `get(path)` is its length in ms, or undefined when there is no such file; `remove(path)`
 *   deletes it (mod_kazoo's kz_http_put removes an uploaded file); `clear()` empties the
 *   table (a restarted switch has none of the files: they were in its memory).
 * - Bounded: at most `maxFiles` files and `maxTotalMs` of audio in all; a new file that
 *   passes a bound evicts the oldest files first, each with a warn line (a full disk on a
 *   real switch fails recordings instead; the simulator keeps the newest).
 * - Only lengths are kept; the audio itself is made when a file is read (wav.ts).
 */
import type { Logger } from '../kernel/log.ts';

export interface SwitchFilesOptions {
  /** Most files kept (default 10 000). */
  maxFiles?: number;
  /** Most recorded audio kept, in ms, all files together (default 24 hours). */
  maxTotalMs?: number;
}

export class SwitchFiles {
  private readonly files = new Map<string, number>();
  private totalMs = 0;
  private readonly maxFiles: number;
  private readonly maxTotalMs: number;

  constructor(
    private readonly log: Logger,
    opts: SwitchFilesOptions = {},
  ) {
    this.maxFiles = opts.maxFiles ?? 10_000;
    this.maxTotalMs = opts.maxTotalMs ?? 24 * 3600 * 1000;
  }

  get size(): number {
    return this.files.size;
  }

  put(path: string, ms: number): void {
    const length = Math.max(0, Math.floor(ms));
    this.remove(path);
    this.files.set(path, length);
    this.totalMs += length;
    for (const [oldest, oldMs] of this.files) {
      if (this.files.size <= this.maxFiles && this.totalMs <= this.maxTotalMs) break;
      if (oldest === path) break;
      this.remove(oldest);
      this.log.warn({ path: oldest, ms: oldMs }, 'recorded file evicted: the file table is full');
    }
  }

  get(path: string): number | undefined {
    return this.files.get(path);
  }

  remove(path: string): boolean {
    const ms = this.files.get(path);
    if (ms === undefined) return false;
    this.files.delete(path);
    this.totalMs -= ms;
    return true;
  }

  clear(): void {
    this.files.clear();
    this.totalMs = 0;
  }
}
