/**
 * The scheduler: runs the processes of one runtime that have something in their mailbox,
 * in slices, the way one Erlang scheduler (`+S 1:1`) does.
 *
 * Contract
 * - `ready(p)` puts a process on the run queue (once; a process already on it stays
 *   where it is). A process is ready when its mailbox went from empty to non-empty, when
 *   an async handler that held its mailbox settled and more is queued, or when an exit
 *   signal arrives while a handler holds the mailbox (signals are handled even then).
 * - A drain takes processes off the run queue in order and lets each handle up to
 *   `BATCH` envelopes (Proc.runBatch); one that has more goes to the back of the queue,
 *   so one busy process cannot starve the others.
 * - Drains run as microtasks (a call's round trip needs no event-loop turn) while the
 *   current slice lasts: a slice is `SLICE_MS` of draining between two turns of the
 *   event loop (the clock is read every 8 batches, so a slice can run over by that
 *   much). Past it the next drain waits for the turn, so timers and I/O run every few ms
 *   however much messaging goes on (Erlang's reductions do the same for its
 *   schedulers).
 * - The turn is a message to the runtime's nact actor (nact handles each message in its
 *   own setImmediate): nact is what hands control back to the event loop.
 * - A throw that escapes a process's batch (not from its handler, which ends the process:
 *   from the kernel's own code, e.g. an event listener) is logged and ends that process
 *   (Proc.fault); the scheduler goes on with the others.
 * - At each turn `onTurn` runs (the runtime drops idle call timers there).
 * - `stop()`: nothing runs any more.
 */
import { spawn as nactSpawn, dispatch as nactDispatch } from 'nact';
import { performance } from 'node:perf_hooks';
import type { Proc } from './process.ts';

/** Envelopes one process handles before the next ready process gets its turn. */
export const BATCH = 64;
/** Longest stretch of draining (ms) before timers and I/O get the event loop. */
export const SLICE_MS = 2;
const CLOCK_EVERY = 8;

export class Scheduler {
  private runq: Proc[] = [];
  private head = 0;
  /** A drain is queued (as a microtask, or waiting for the turn) or running. */
  private drainQueued = false;
  /** Draining waits for the turn: the slice is used up. */
  private waitingForTurn = false;
  /** A slice is open: the turn that closes it has been asked for and has not come yet. */
  private sliceOpen = false;
  private sliceStart = 0;
  private batches = 0;
  private stopped = false;
  private readonly actor: ReturnType<typeof nactSpawn>;
  private readonly drainTask = (): void => this.drain();

  constructor(
    nactSystem: Parameters<typeof nactSpawn>[0],
    private readonly onTurn: () => void,
  ) {
    this.actor = nactSpawn(nactSystem, () => this.turn(), 'scheduler');
  }

  ready(p: Proc): void {
    if (p.queued || this.stopped) return;
    p.queued = true;
    this.runq.push(p);
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(this.drainTask);
  }

  stop(): void {
    this.stopped = true;
    for (let i = this.head; i < this.runq.length; i++) this.runq[i]!.queued = false;
    this.runq = [];
    this.head = 0;
  }

  /** The event loop has turned (nact's setImmediate): a new slice may start. */
  private turn(): void {
    this.sliceOpen = false;
    this.onTurn();
    if (this.waitingForTurn) {
      this.waitingForTurn = false;
      this.drain();
    }
  }

  /** Runs ready processes until none is left (then `drainQueued` is cleared) or time is up. */
  private drain(): void {
    if (this.stopped) return;
    if (!this.sliceOpen) {
      this.sliceOpen = true;
      this.sliceStart = performance.now();
      nactDispatch(this.actor, 0);
    }
    while (this.head < this.runq.length) {
      // The clock is read every CLOCK_EVERY batches (a call's round trip is one batch).
      if ((++this.batches & (CLOCK_EVERY - 1)) === 0 && performance.now() - this.sliceStart >= SLICE_MS) {
        this.waitingForTurn = true;
        return;
      }
      const p = this.runq[this.head]!;
      this.runq[this.head++] = undefined as unknown as Proc;
      // p stays marked queued while it runs: what it sends itself does not queue it twice.
      let more: boolean;
      try {
        more = p.runBatch(BATCH);
      } catch (err) {
        more = false;
        p.fault(err);
      }
      if (more) this.runq.push(p);
      else p.queued = false;
      if (this.head >= 1024 && this.head * 2 >= this.runq.length) {
        this.runq = this.runq.slice(this.head);
        this.head = 0;
      }
    }
    this.runq.length = 0;
    this.head = 0;
    this.drainQueued = false;
  }
}
