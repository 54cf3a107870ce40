/**
 * One process: a mailbox, its links, monitors, timers and exit.
 *
 * Contract
 * - The mailbox is the process's own queue of envelopes (messages, calls, casts and exit
 *   signals), in arrival order, kept flat in fixed-size chunks (three slots an envelope,
 *   no object per queued envelope; see Chunk). The runtime's scheduler (scheduler.ts)
 *   drains it in batches; no envelope costs a timer or an event-loop turn of its own.
 * - Envelopes are handled one at a time in arrival order. A handler that returns a
 *   promise holds the mailbox until it settles (OTP's one-message-at-a-time, including
 *   across awaits).
 * - A handler that throws or rejects ends the process: a thrown `Exit` with its reason,
 *   anything else with the thrown value as reason. Nothing is caught and kept quiet.
 * - Exit signals are asynchronous, as in OTP: `exitSignal(from, reason)` (what
 *   `runtime.exit`, `runtime.crash` and a dying link send) only queues the signal and
 *   returns. The process handles it later, after everything that arrived before it
 *   (so after the messages the same sender sent earlier: OTP's ordering between a pair
 *   of processes):
 *   - `'kill'` (and `runtime.crash`) ends it whatever it does (`'killed'`, or the
 *     injected reason);
 *   - a process trapping exits (checked when the signal is handled) gets
 *     `{type:'EXIT', from, reason}` as a message, in the signal's place in the queue;
 *   - otherwise `'normal'` is dropped and any other reason ends the process.
 *   A signal is handled even while an async handler holds the mailbox (OTP kills a
 *   process blocked in a receive): the messages queued before it stay unhandled, as in
 *   OTP, and the awaiting handler's later results are discarded.
 * - Exit (`terminate(reason)`), once, synchronously: the mailbox is dropped, the name is
 *   freed, timers are cancelled, pending calls to it fail with the reason, every link is
 *   sent an exit signal, every monitor a DOWN message (after the messages this process
 *   sent the watcher before, since both go through the watcher's queue), every monitor
 *   it held is removed. Nothing of the dead process stays in the runtime's tables.
 * - To wait for a signal's effect: `runtime.awaitExit(pid)` for the target's end (ask
 *   before or right after sending: the signal has not been handled yet); a trapping
 *   target's EXIT message arrives in its mailbox.
 *
 * Differences from OTP
 * - JavaScript cannot pre-empt running code: a synchronous handler runs to its end before
 *   a signal is looked at, and an async handler already running is not interrupted: its
 *   continuation runs to its next await and whatever it returns is dropped. Handlers can
 *   watch `ctx.aborted` or `ctx.signal` (an AbortSignal) to stop early.
 * - Ordering is per receiver (everything a process receives is handled in arrival
 *   order), which implies OTP's per-pair guarantee.
 */
import type { Logger } from './log.ts';
import { lazyChild, withLogContext, currentLogContext, type LogContext } from './log.ts';
import { Pid, Ref } from './pid.ts';
import { Exit, KILL, KILLED, NORMAL, reasonForLog, type ExitReason } from './exit-reason.ts';
import type { Runtime } from './runtime.ts';
import type { Deadline } from './call-timers.ts';

export const enum Kind {
  Info = 0,
  Call = 1,
  Cast = 2,
  Sys = 3,
  /** An exit signal (msg is a Signal); handled by the process, never seen by handlers. */
  Exit = 4,
  /** A dropped envelope still in the mailbox: skipped. */
  Skip = 5,
}

/**
 * A stretch of a mailbox: envelopes flat in `buf`, SLOTS slots each,
 * to read from `r`, written up to `w`. Chunks are never resized: a full one is followed
 * by a bigger one (a long queue never copies itself to grow; big chunks are allocated
 * straight in the old generation instead of being copied by each young-generation GC).
 */
class Chunk {
  readonly buf: unknown[];
  r = 0;
  w = 0;
  next: Chunk | null = null;
  constructor(slots: number) {
    this.buf = new Array<unknown>(slots);
  }
}
/** Slots an envelope: kind, msg, then the CallFrom for a call (its log context on it), else the log context. */
const SLOTS = 3;
const FIRST_CHUNK = 4 * SLOTS;
const MAX_CHUNK = 32768 * SLOTS;

/** An exit signal in a mailbox. `kill`: untrappable, ends the process with `reason`. */
export interface Signal {
  from: Pid;
  reason: ExitReason;
  kill: boolean;
}

/** What travels through a mailbox. `lc` carries the sender's log context (call-id). */
export interface Envelope {
  kind: Kind;
  msg: unknown;
  from?: CallFrom;
  lc?: LogContext;
}

/** A pending call: the address a reply goes to (OTP's From). Opaque to callbacks. */
export interface CallFrom extends Deadline {
  /** @internal */ settled: boolean;
  /** @internal */ resolve(v: unknown): void;
  /** @internal */ reject(e: unknown): void;
  /** @internal */ target: Proc | undefined;
  /** @internal The server as the caller named it (for errors). */
  to: Pid | string;
  /** @internal The caller's log context, set when the call is queued. */
  lc?: LogContext;
}

export interface ExitMessage {
  type: 'EXIT';
  from: Pid;
  reason: ExitReason;
}
export interface DownMessage {
  type: 'DOWN';
  ref: Ref;
  pid: Pid;
  reason: ExitReason;
}

export type Handler = (env: Envelope, proc: Proc) => void | Promise<void>;
type Watcher = Proc | ((reason: ExitReason) => void);

/** What a process's code can do: its own pid, messaging, links, monitors and timers. */
export interface ProcessContext {
  readonly self: Pid;
  readonly runtime: Runtime;
  readonly log: Logger;
  /** Set once the process has ended; handlers still running after an exit can check it. */
  readonly aborted: boolean;
  readonly signal: AbortSignal;
  trapExit(on: boolean): void;
  send(to: Pid | string, msg: unknown): void;
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  monitor(target: Pid | string): Ref;
  demonitor(ref: Ref): void;
  sendAfter(ms: number, msg: unknown): Ref;
  cancelTimer(ref: Ref): boolean;
  exit(pid: Pid, reason: ExitReason): void;
}

/** Internal facts a behaviour attaches to its process (read by the tree view). */
export interface ProcessMeta {
  behaviour: string;
  describe?: () => unknown;
}

export class Proc implements ProcessContext {
  alive = true;
  trapping = false;
  name: string | undefined;
  app: string | undefined;
  meta: ProcessMeta | undefined;
  /** The process that started it linked (its supervisor); itself when started unlinked. */
  parent: Pid | undefined;
  links: Set<Proc> | null = null;
  private watchers: Map<number, Watcher> | null = null;
  private monitoring: Map<number, Proc> | null = null;
  callers: Set<CallFrom> | null = null;
  private timers: Map<number, ReturnType<typeof setTimeout>> | null = null;
  private abort: AbortController | null = null;
  private logger: Logger | null = null;
  /**
   * The log context of the message being handled (kept while an async handler holds the
   * mailbox, and until the next message): what this process's log lines and the messages
   * it sends carry when no synchronous run set one (log.ts).
   */
  lc: LogContext | undefined = undefined;
  /** The mailbox: chunks from `mq` (read) to `mqTail` (written); null until first used. */
  private mq: Chunk | null = null;
  private mqTail: Chunk | null = null;
  /** Exit signals in the mailbox not yet handled. */
  private sigs = 0;
  /** An async handler holds the mailbox. */
  private busy = false;
  /** On the scheduler's run queue (or being run by it). */
  queued = false;
  exitReason: ExitReason = undefined;
  /** Called once when the process ends (used while a start is pending). */
  exitHook: ((reason: ExitReason) => void) | null = null;

  constructor(
    readonly self: Pid,
    readonly runtime: Runtime,
    private handler: Handler,
  ) {}

  // ---- mailbox --------------------------------------------------------------------

  /** Queues an envelope (kind, msg, the caller for a call, the sender's log context). */
  deliver(kind: Kind, msg: unknown, from?: CallFrom, lc?: LogContext): void {
    if (!this.alive) return;
    let t = this.mqTail;
    if (t === null) t = this.mq = this.mqTail = new Chunk(FIRST_CHUNK);
    else if (t.w === t.buf.length) {
      // (chunk lengths are multiples of SLOTS)
      t = t.next = this.mqTail = new Chunk(Math.min(MAX_CHUNK, t.buf.length * 8));
    }
    const b = t.buf;
    const w = t.w;
    b[w] = kind;
    b[w + 1] = msg;
    if (from === undefined) b[w + 2] = lc;
    else {
      from.lc = lc;
      b[w + 2] = from;
    }
    t.w = w + SLOTS;
    if (kind === Kind.Exit) this.sigs++;
    else if (this.busy) return;
    if (!this.queued) this.runtime.scheduler.ready(this);
  }

  /** Envelopes waiting in the mailbox (dropped ones not yet skipped included); walks the chunks, for metrics. */
  get mailboxLength(): number {
    let n = 0;
    for (let c = this.mq; c !== null; c = c.next) n += c.w - c.r;
    return n / SLOTS;
  }

  private get hasQueued(): boolean {
    return this.mq !== null && this.mq.r < this.mq.w;
  }

  /**
   * @internal Called by the scheduler: handles up to `max` envelopes. True when the
   * process has more it can handle now (it goes back on the run queue).
   */
  runBatch(max: number): boolean {
    for (let i = 0; i < max && this.alive; i++) {
      if (this.busy) {
        if (this.sigs > 0) this.signalsWhileBusy();
        return false;
      }
      const c = this.mq;
      if (c === null || c.r === c.w) return false;
      const q = c.buf;
      const h = c.r;
      let kind = q[h] as Kind;
      let msg = q[h + 1];
      const aux = q[h + 2];
      q[h + 1] = q[h + 2] = undefined;
      c.r = h + SLOTS;
      if (c.r === c.w) {
        // Drained: a later chunk takes over, or this one is reused from its start.
        if (c.next !== null) this.mq = c.next;
        else c.r = c.w = 0;
      }
      if (kind === Kind.Skip) continue;
      if (kind === Kind.Exit) {
        this.sigs--;
        const s = msg as Signal;
        const what = this.signalEffect(s);
        if (what === 'end') this.terminate(s.reason);
        if (what !== 'message') continue;
        kind = Kind.Info;
        msg = exitMessage(s);
      }
      if (kind === Kind.Call) this.run({ kind, msg, from: aux as CallFrom, lc: (aux as CallFrom).lc });
      else this.run({ kind, msg, from: undefined, lc: aux as LogContext | undefined });
    }
    return this.alive && (this.busy ? this.sigs > 0 : this.hasQueued);
  }

  private run(env: Envelope): void {
    let r: void | Promise<void>;
    this.lc = env.lc;
    try {
      r =
        env.lc === currentLogContext()
          ? this.handler(env, this)
          : withLogContext(env.lc, () => this.handler(env, this));
    } catch (err) {
      this.crash(err);
      return;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      this.busy = true;
      (r as Promise<void>).then(
        () => this.released(),
        (err: unknown) => {
          this.crash(err);
          this.released();
        },
      );
    }
  }

  /** An async handler settled: the mailbox is free again. */
  private released(): void {
    this.busy = false;
    if (this.alive && this.hasQueued && !this.queued) this.runtime.scheduler.ready(this);
  }

  /**
   * Exit signals queued while an async handler holds the mailbox: handled now. A trapped
   * one becomes an EXIT message in its place.
   */
  /** What an exit signal does to this process: end it, become an EXIT message, or nothing. */
  private signalEffect(s: Signal): 'end' | 'message' | 'drop' {
    if (!s.kill && this.trapping) return 'message';
    return s.kill || s.reason !== NORMAL ? 'end' : 'drop';
  }

  private signalsWhileBusy(): void {
    for (let c = this.mq; c !== null && this.sigs > 0; c = c.next) {
      const q = c.buf;
      for (let i = c.r; i < c.w && this.sigs > 0; i += SLOTS) {
        if (q[i] !== Kind.Exit) continue;
        this.sigs--;
        const s = q[i + 1] as Signal;
        const what = this.signalEffect(s);
        if (what === 'message') {
          q[i] = Kind.Info;
          q[i + 1] = exitMessage(s);
        } else if (what === 'end') {
          return this.terminate(s.reason);
        } else {
          // Dropped ('normal', not trapping): a no-op envelope keeps the chunk's shape.
          q[i] = Kind.Skip;
          q[i + 1] = undefined;
        }
      }
    }
  }

  /**
   * @internal Something threw outside the handler while this process ran (the kernel's
   * own code or a listener it called): logged at error, and the process ends with it.
   */
  fault(err: unknown): void {
    this.log.error({ err: reasonForLog(err) }, 'error in the kernel while running this process: ending it');
    try {
      this.terminate(err);
    } catch (again) {
      this.log.error({ err: reasonForLog(again) }, 'error in the kernel while ending this process');
    }
  }

  /** A handler threw: end the process with what was thrown. */
  crash(err: unknown): void {
    if (!this.alive) {
      this.log.warn({ err: reasonForLog(err) }, 'error raised after the process had ended; dropped');
      return;
    }
    this.terminate(err instanceof Exit ? err.reason : err);
  }

  setHandler(h: Handler): void {
    this.handler = h;
  }

  // ---- context API ----------------------------------------------------------------

  get log(): Logger {
    if (this.logger === null) {
      const bindings: Record<string, unknown> = { proc: this.name ?? this.self.toString() };
      if (this.app !== undefined) bindings.app = this.app;
      this.logger = lazyChild(this.runtime.log, bindings, this);
    }
    return this.logger;
  }

  /** Called when the registered name or app changes, so log lines say so. */
  resetLogger(): void {
    this.logger = null;
  }

  get aborted(): boolean {
    return !this.alive;
  }

  get signal(): AbortSignal {
    if (this.abort === null) {
      this.abort = new AbortController();
      if (!this.alive) this.abort.abort(this.exitReason);
    }
    return this.abort.signal;
  }

  trapExit(on: boolean): void {
    this.trapping = on;
  }

  send(to: Pid | string, msg: unknown): void {
    this.runtime.send(to, msg, currentLogContext() ?? this.lc);
  }

  link(pid: Pid): void {
    this.runtime.link(this.self, pid);
  }

  unlink(pid: Pid): void {
    this.runtime.unlink(this.self, pid);
  }

  monitor(target: Pid | string): Ref {
    return this.runtime.monitor(this.self, target);
  }

  demonitor(ref: Ref): void {
    this.runtime.demonitor(ref);
  }

  exit(pid: Pid, reason: ExitReason): void {
    this.runtime.exit(pid, reason, this.self);
  }

  sendAfter(ms: number, msg: unknown): Ref {
    const ref = this.runtime.makeRef();
    if (!this.alive) return ref;
    const timers = (this.timers ??= new Map());
    const lc = currentLogContext() ?? this.lc;
    timers.set(
      ref.id,
      setTimeout(
        () => {
          timers.delete(ref.id);
          this.deliver(Kind.Info, msg, undefined, lc);
        },
        Math.max(0, ms),
      ),
    );
    return ref;
  }

  cancelTimer(ref: Ref): boolean {
    const t = this.timers?.get(ref.id);
    if (t === undefined) return false;
    clearTimeout(t);
    this.timers!.delete(ref.id);
    return true;
  }

  // ---- links and monitors (called by the runtime) ---------------------------------

  addLink(other: Proc): void {
    (this.links ??= new Set()).add(other);
  }

  removeLink(other: Proc): void {
    this.links?.delete(other);
  }

  addWatcher(ref: Ref, w: Watcher): void {
    (this.watchers ??= new Map()).set(ref.id, w);
    if (w instanceof Proc) (w.monitoring ??= new Map()).set(ref.id, this);
  }

  removeWatcher(refId: number): void {
    const w = this.watchers?.get(refId);
    if (w === undefined) return;
    this.watchers!.delete(refId);
    if (w instanceof Proc) w.monitoring?.delete(refId);
  }

  get linkCount(): number {
    return this.links?.size ?? 0;
  }

  get monitorCount(): number {
    return (this.watchers?.size ?? 0) + (this.monitoring?.size ?? 0);
  }

  // ---- signals and exit -----------------------------------------------------------

  /**
   * Sends this process an exit signal from `from`: queued, handled later (see the
   * contract). `reason` `'kill'` is untrappable and ends it with `'killed'`; `kill: true`
   * ends it with `reason` whatever it does (fault injection).
   */
  exitSignal(from: Pid, reason: ExitReason, kill = reason === KILL): void {
    if (!this.alive) return;
    const s: Signal = { from, reason: kill && reason === KILL ? KILLED : reason, kill };
    this.deliver(Kind.Exit, s);
  }

  /** Ends the process with `reason`. Idempotent. */
  terminate(reason: ExitReason): void {
    if (!this.alive) return;
    this.alive = false;
    this.exitReason = reason;
    this.mq = this.mqTail = null;
    this.sigs = 0;
    this.abort?.abort(reason);
    this.runtime.forget(this);
    if (this.timers !== null) {
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers = null;
    }
    if (this.callers !== null) {
      const callers = this.callers;
      this.callers = null;
      for (const c of callers) this.runtime.failCall(c, 'exit', reason, this.self);
    }
    const propagated = reason === KILL ? KILLED : reason;
    if (this.monitoring !== null) {
      for (const [refId, target] of this.monitoring) {
        target.watchers?.delete(refId);
        this.runtime.dropRef(refId);
      }
      this.monitoring = null;
    }
    if (this.links !== null) {
      const links = this.links;
      this.links = null;
      for (const l of links) {
        l.links?.delete(this);
        l.exitSignal(this.self, propagated, false);
      }
    }
    if (this.watchers !== null) {
      const watchers = this.watchers;
      this.watchers = null;
      for (const [refId, w] of watchers) {
        this.runtime.dropRef(refId);
        if (w instanceof Proc) {
          w.monitoring?.delete(refId);
          const down: DownMessage = { type: 'DOWN', ref: new Ref(refId), pid: this.self, reason: propagated };
          w.deliver(Kind.Info, down);
        } else {
          w(propagated);
        }
      }
    }
    if (this.exitHook !== null) {
      const hook = this.exitHook;
      this.exitHook = null;
      hook(propagated);
    }
    this.runtime.reportExit(this, propagated);
  }
}

const exitMessage = (s: Signal): ExitMessage => ({ type: 'EXIT', from: s.from, reason: s.reason });

export const isExitMessage = (m: unknown): m is ExitMessage =>
  typeof m === 'object' &&
  m !== null &&
  (m as ExitMessage).type === 'EXIT' &&
  (m as ExitMessage).from instanceof Pid;

export const isDownMessage = (m: unknown): m is DownMessage =>
  typeof m === 'object' &&
  m !== null &&
  (m as DownMessage).type === 'DOWN' &&
  (m as DownMessage).ref instanceof Ref;
