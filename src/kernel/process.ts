/**
 * One process: a mailbox (a nact actor), its links, monitors, timers and exit.
 *
 * Contract
 * - Envelopes are handled one at a time in arrival order. A handler that returns a
 *   promise holds the mailbox until it settles (OTP's one-message-at-a-time, including
 *   across awaits).
 * - A handler that throws or rejects ends the process: a thrown `Exit` with its reason,
 *   anything else with the thrown value as reason. Nothing is caught and kept quiet.
 * - Exit (`terminate(reason)`), once, synchronously: the mailbox is dropped (nact actor
 *   stopped), the name is freed, timers are cancelled, pending calls to it fail with the
 *   reason, every link gets an exit signal, every monitor a DOWN message, every monitor
 *   it held is removed. Nothing of the dead process stays in the runtime's tables.
 * - An exit signal arriving (`signal(from, reason)`): `'kill'` ends the process with
 *   `'killed'` whatever it does; a process trapping exits gets `{type:'EXIT', from,
 *   reason}` as a message; otherwise `'normal'` is ignored and any other reason ends the
 *   process with that reason at once, even while a handler is awaiting (JavaScript cannot
 *   pre-empt running code: the awaiting handler's later results are discarded).
 *
 * Differences from OTP
 * - Exit signals to a non-trapping process take effect at once (as in OTP), but an
 *   async handler already running is not interrupted: its continuation runs to its next
 *   await and whatever it returns is dropped. Handlers can watch `ctx.aborted` or
 *   `ctx.signal` (an AbortSignal) to stop early.
 */
import { spawn as nactSpawn, dispatch as nactDispatch, stop as nactStop } from 'nact';
import type { Logger } from './log.ts';
import { withLogContext, currentLogContext, type LogContext } from './log.ts';
import { Pid, Ref } from './pid.ts';
import { Exit, KILL, KILLED, NORMAL, reasonForLog, type ExitReason } from './exit-reason.ts';
import type { Runtime } from './runtime.ts';

export const enum Kind {
  Info = 0,
  Call = 1,
  Cast = 2,
  Sys = 3,
}

/** What travels through a mailbox. `lc` carries the sender's log context (call-id). */
export interface Envelope {
  kind: Kind;
  msg: unknown;
  from?: CallFrom;
  lc?: LogContext;
}

/** A pending call: the address a reply goes to (OTP's From). Opaque to callbacks. */
export interface CallFrom {
  /** @internal */ settled: boolean;
  /** @internal */ resolve(v: unknown): void;
  /** @internal */ reject(e: unknown): void;
  /** @internal */ timer?: ReturnType<typeof setTimeout>;
  /** @internal */ target?: Proc;
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
  private readonly actor: ReturnType<typeof nactSpawn>;
  exitReason: ExitReason = undefined;
  /** Called once when the process ends (used while a start is pending). */
  exitHook: ((reason: ExitReason) => void) | null = null;

  constructor(
    readonly self: Pid,
    readonly runtime: Runtime,
    private handler: Handler,
    nactParent: Parameters<typeof nactSpawn>[0],
  ) {
    this.actor = nactSpawn(nactParent, (_s: unknown, env: Envelope) => this.run(env), `p${self.id}`, { onCrash: resumeAfterCrash });
  }

  // ---- mailbox --------------------------------------------------------------------

  deliver(env: Envelope): void {
    if (this.alive) nactDispatch(this.actor, env);
  }

  private run(env: Envelope): void | Promise<void> {
    if (!this.alive) return;
    let r: void | Promise<void>;
    try {
      r = env.lc === currentLogContext() ? this.handler(env, this) : withLogContext(env.lc, () => this.handler(env, this));
    } catch (err) {
      this.crash(err);
      return;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      return (r as Promise<void>).then(undefined, (err: unknown) => this.crash(err));
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
      this.logger = this.runtime.log.child(bindings);
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
    this.runtime.send(to, msg);
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
    const lc = currentLogContext();
    timers.set(
      ref.id,
      setTimeout(() => {
        timers.delete(ref.id);
        this.deliver({ kind: Kind.Info, msg, lc });
      }, Math.max(0, ms)),
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

  /** An exit signal from `from` with `reason` reaches this process. */
  exitSignal(from: Pid, reason: ExitReason, untrappable: boolean): void {
    if (!this.alive) return;
    if (untrappable) return this.terminate(KILLED);
    if (this.trapping) {
      const m: ExitMessage = { type: 'EXIT', from, reason };
      this.deliver({ kind: Kind.Info, msg: m, lc: undefined });
      return;
    }
    if (reason === NORMAL) return;
    this.terminate(reason);
  }

  /** Ends the process with `reason`. Idempotent. */
  terminate(reason: ExitReason): void {
    if (!this.alive) return;
    this.alive = false;
    this.exitReason = reason;
    nactStop(this.actor);
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
          w.deliver({ kind: Kind.Info, msg: down, lc: undefined });
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const resumeAfterCrash = (_msg: unknown, _err: unknown, ctx: any): any => ctx.resume;

export const isExitMessage = (m: unknown): m is ExitMessage =>
  typeof m === 'object' && m !== null && (m as ExitMessage).type === 'EXIT' && (m as ExitMessage).from instanceof Pid;

export const isDownMessage = (m: unknown): m is DownMessage =>
  typeof m === 'object' && m !== null && (m as DownMessage).type === 'DOWN' && (m as DownMessage).ref instanceof Ref;

