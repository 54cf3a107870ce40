/**
 * The runtime: one node's process table on top of one nact actor system.
 *
 * Contract
 * - `spawn(handler, opts)` starts a process (optionally linked to `opts.link`, optionally
 *   registered under `opts.name`) and returns its Pid at once.
 * - `send(to, msg)`: to a Pid, never fails (a dead target drops the message, as in OTP);
 *   to a name that is not registered, throws NoProcError (OTP's badarg).
 * - `exit(pid, reason, from?)` sends an exit signal and returns at once (OTP's exit/2):
 *   the target handles it later, after what it received before (see process.ts). To
 *   wait for the effect, `await runtime.awaitExit(pid)` (asked before or right after the
 *   exit call), or wait for the EXIT message a trapping target gets.
 * - `crash(pid, reason)` (fault injection) sends an untrappable signal that ends the
 *   process with `reason`, trapping or not; asynchronous like `exit`.
 * - `link(a, b)` / `unlink`: links are two-way; linking to a dead process sends the
 *   linker a `'noproc'` exit signal, as OTP does.
 * - `monitor(watcher, target)` returns a Ref; when the target ends the watcher gets
 *   `{type:'DOWN', ref, pid, reason}` (reason `'noproc'` at once if it was already dead).
 *   `demonitor(ref)` removes it.
 * - `register(name, pid)` fails if the name is taken or the process is dead (NameTakenError);
 *   a dead process's name is freed with it. `whereis(name)` returns the Pid or undefined.
 * - `awaitExit(pid)` resolves with the reason the process ends with (`'noproc'` if dead);
 *   `onExit(pid, fn)` calls `fn(reason)` synchronously as it ends (false if it is dead).
 * - Every exit is published on `events` (`exit`), and an abnormal one is logged as a
 *   crash report at error level with its reason.
 * - `now()` is the runtime's monotonic clock in ms: supervisors count restarts with it;
 *   tests may inject their own clock.
 * - Processes run on the runtime's scheduler (scheduler.ts), over one nact actor system.
 * - `shutdown()` kills every process left and stops the scheduler and the nact system.
 */
import { start as nactStart, stop as nactStop } from 'nact';
import { performance } from 'node:perf_hooks';
import { createRootLogger, currentLogContext, type LogContext, type Logger } from './log.ts';
import { Pid, Ref } from './pid.ts';
import { Scheduler } from './scheduler.ts';
import { CallTimers, removeDeadline } from './call-timers.ts';
import { Proc, Kind, type Handler, type CallFrom, type ProcessContext } from './process.ts';
import { KernelEvents } from './events.ts';
import { isNormalExit, reasonForLog, formatReason, type ExitReason } from './exit-reason.ts';

export class NoProcError extends Error {
  constructor(readonly target: string) {
    super(`no process: ${target}`);
    this.name = 'NoProcError';
  }
}

export class NameTakenError extends Error {
  constructor(
    readonly regName: string,
    readonly holder: Pid | undefined,
  ) {
    super(
      holder === undefined
        ? `cannot register '${regName}': the process is not alive`
        : `name '${regName}' is already registered to ${holder}`,
    );
    this.name = 'NameTakenError';
  }
}

/** Why a call failed: no such process, it did not answer in time, or it ended first. */
export class CallError extends Error {
  constructor(
    readonly kind: 'noproc' | 'timeout' | 'exit',
    readonly reason: ExitReason,
    readonly target: string,
  ) {
    super(
      kind === 'timeout'
        ? `call to ${target} timed out`
        : kind === 'noproc'
          ? `call to ${target}: no process`
          : `call to ${target}: process exited (${formatReason(reason)})`,
    );
    this.name = 'CallError';
  }
}

export interface SpawnOptions {
  /** Link the new process to this one (OTP spawn_link). */
  link?: Pid;
  /** Register the process under this name (fails the spawn if taken). */
  name?: string;
  /** The app the process belongs to (for logs); inherited from `link` when omitted. */
  app?: string;
  trapExit?: boolean;
}

export interface RuntimeOptions {
  node?: string;
  logger?: Logger;
  clock?: () => number;
}

let systems = 0;

export class Runtime {
  readonly node: string;
  readonly log: Logger;
  readonly events = new KernelEvents();
  private readonly procs = new Map<number, Proc>();
  private readonly names = new Map<string, Proc>();
  private readonly system: ReturnType<typeof nactStart>;
  /** @internal */
  readonly scheduler: Scheduler;
  /** @internal Timeouts of pending gen_server calls. */
  readonly callTimers = new CallTimers<CallFrom>((c) => {
    c.target?.callers?.delete(c);
    this.failCall(c, 'timeout', 'timeout', c.to);
  });
  private nextPid = 1;
  private nextRef = 1;
  private readonly clock: () => number;
  private stopped = false;

  constructor(opts: RuntimeOptions = {}) {
    this.node = opts.node ?? 'fife@localhost';
    this.log = opts.logger ?? createRootLogger({ node: this.node });
    this.clock = opts.clock ?? (() => performance.now());
    this.system = nactStart({ name: `fife-${process.pid}-${++systems}` } as never);
    this.scheduler = new Scheduler(this.system, () => this.callTimers.sweep());
  }

  now(): number {
    return this.clock();
  }

  makeRef(): Ref {
    return new Ref(this.nextRef++);
  }

  // ---- processes ------------------------------------------------------------------

  spawn(handler: Handler, opts: SpawnOptions = {}): Pid {
    if (this.stopped) throw new Error('runtime is shut down');
    if (opts.name !== undefined && this.names.has(opts.name))
      throw new NameTakenError(opts.name, this.names.get(opts.name)!.self);
    const pid = new Pid(this.nextPid++, this.node);
    const proc = new Proc(pid, this, handler);
    this.procs.set(pid.id, proc);
    if (opts.trapExit) proc.trapping = true;
    if (opts.name !== undefined) {
      proc.name = opts.name;
      this.names.set(opts.name, proc);
    }
    const linkTo = opts.link === undefined ? undefined : this.procs.get(opts.link.id);
    proc.app = opts.app ?? linkTo?.app;
    // As proc_lib: a process started without a link is its own parent.
    proc.parent = opts.link ?? pid;
    if (opts.link !== undefined) {
      if (linkTo === undefined) proc.exitSignal(opts.link, 'noproc', false);
      else {
        proc.addLink(linkTo);
        linkTo.addLink(proc);
      }
    }
    if (this.events.listenerCount('spawn') > 0) this.events.emit('spawn', { pid, name: opts.name });
    return pid;
  }

  /** @internal The live process behind a pid, if any. */
  proc(pid: Pid): Proc | undefined {
    const p = this.procs.get(pid.id);
    return p !== undefined && p.self.node === pid.node ? p : undefined;
  }

  /** @internal */
  resolve(target: Pid | string): Proc | undefined {
    return typeof target === 'string' ? this.names.get(target) : this.proc(target);
  }

  /** The context of a live process, for code running on its behalf. */
  context(pid: Pid): ProcessContext | undefined {
    return this.proc(pid);
  }

  isAlive(pid: Pid): boolean {
    return this.proc(pid) !== undefined;
  }

  processes(): Pid[] {
    return [...this.procs.values()].map((p) => p.self);
  }

  get processCount(): number {
    return this.procs.size;
  }

  info(
    pid: Pid,
  ):
    | { name?: string; app?: string; links: number; monitors: number; trapExit: boolean; behaviour?: string }
    | undefined {
    const p = this.proc(pid);
    if (p === undefined) return undefined;
    return {
      name: p.name,
      app: p.app,
      links: p.linkCount,
      monitors: p.monitorCount,
      trapExit: p.trapping,
      behaviour: p.meta?.behaviour,
    };
  }

  // ---- messages -------------------------------------------------------------------

  /** `lc`: the log context the message carries (default: the current one; log.ts). */
  send(to: Pid | string, msg: unknown, lc: LogContext | undefined = currentLogContext()): void {
    const p = this.resolve(to);
    if (p === undefined) {
      if (typeof to === 'string') throw new NoProcError(to);
      return;
    }
    p.deliver(Kind.Info, msg, undefined, lc);
  }

  // ---- exit signals, links, monitors ----------------------------------------------

  /** Sends `pid` an exit signal (from `from`, else from itself); returns at once. */
  exit(pid: Pid, reason: ExitReason, from?: Pid): void {
    this.proc(pid)?.exitSignal(from ?? pid, reason);
  }

  /**
   * Fault injection: `pid` will end with `reason`, whether it traps exits or not (like
   * 'kill', but with the reason you choose; terminate callbacks do not run). Links and
   * monitors see `reason`. Returns at once (false if `pid` is not alive); the process
   * handles the signal after what it received before. Not an OTP primitive: OTP's exit/2
   * to a trapping process only delivers a message.
   */
  crash(pid: Pid, reason: ExitReason): boolean {
    const p = this.proc(pid);
    if (p === undefined) return false;
    p.log.warn({ reason: reasonForLog(reason) }, 'fault injected: process crashed on purpose');
    p.exitSignal(pid, reason, true);
    return true;
  }

  link(a: Pid, b: Pid): void {
    const pa = this.proc(a);
    const pb = this.proc(b);
    if (pa === undefined) return;
    if (pb === undefined) return pa.exitSignal(b, 'noproc', false);
    if (pa === pb) return;
    pa.addLink(pb);
    pb.addLink(pa);
  }

  unlink(a: Pid, b: Pid): void {
    const pa = this.proc(a);
    const pb = this.proc(b);
    if (pa !== undefined && pb !== undefined) {
      pa.removeLink(pb);
      pb.removeLink(pa);
    }
  }

  monitor(watcher: Pid, target: Pid | string): Ref {
    const ref = this.makeRef();
    const w = this.proc(watcher);
    if (w === undefined) return ref;
    const t = this.resolve(target);
    if (t === undefined) {
      const targetPid = typeof target === 'string' ? new Pid(0, this.node) : target;
      w.deliver(Kind.Info, { type: 'DOWN', ref, pid: targetPid, reason: 'noproc' });
      return ref;
    }
    this.refTargets.set(ref.id, t);
    t.addWatcher(ref, w);
    return ref;
  }

  private readonly refTargets = new Map<number, Proc>();

  /** @internal A monitor ended (target died or watcher died). */
  dropRef(refId: number): void {
    this.refTargets.delete(refId);
  }

  demonitor(ref: Ref): void {
    const t = this.refTargets.get(ref.id);
    if (t === undefined) return;
    this.refTargets.delete(ref.id);
    t.removeWatcher(ref.id);
  }

  /**
   * Calls `fn(reason)` synchronously as `pid` ends (before the processes linked to or
   * monitoring it handle the exit); false, and `fn` never called, if it is not alive. What
   * a process's own code would get from `ctx.signal`'s abort event, without an
   * AbortController per process.
   */
  onExit(pid: Pid, fn: (reason: ExitReason) => void): boolean {
    const p = this.proc(pid);
    if (p === undefined) return false;
    const ref = this.makeRef();
    this.refTargets.set(ref.id, p);
    p.addWatcher(ref, fn);
    return true;
  }

  /** Resolves with the reason `pid` ends with; `'noproc'` if it is not alive. */
  awaitExit(pid: Pid): Promise<ExitReason> {
    const p = this.proc(pid);
    if (p === undefined) return Promise.resolve('noproc');
    return new Promise((resolve) => {
      const ref = this.makeRef();
      this.refTargets.set(ref.id, p);
      p.addWatcher(ref, resolve);
    });
  }

  // ---- names ----------------------------------------------------------------------

  register(name: string, pid: Pid): void {
    const p = this.proc(pid);
    const holder = this.names.get(name);
    if (holder !== undefined) throw new NameTakenError(name, holder.self);
    if (p === undefined) throw new NameTakenError(name, undefined);
    if (p.name !== undefined) throw new Error(`${pid} is already registered as '${p.name}'`);
    p.name = name;
    p.resetLogger();
    this.names.set(name, p);
  }

  unregister(name: string): boolean {
    const p = this.names.get(name);
    if (p === undefined) return false;
    this.names.delete(name);
    p.name = undefined;
    p.resetLogger();
    return true;
  }

  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.self;
  }

  registered(): string[] {
    return [...this.names.keys()];
  }

  // ---- calls (used by gen_server) -------------------------------------------------

  /** @internal Fails a pending call, once. */
  failCall(c: CallFrom, kind: CallError['kind'], reason: ExitReason, target: Pid | string): void {
    if (c.settled) return;
    c.settled = true;
    removeDeadline(c);
    c.reject(new CallError(kind, reason, String(target)));
  }

  // ---- bookkeeping (called by Proc) -----------------------------------------------

  /** @internal */
  forget(p: Proc): void {
    this.procs.delete(p.self.id);
    if (p.name !== undefined && this.names.get(p.name) === p) this.names.delete(p.name);
  }

  /** @internal */
  reportExit(p: Proc, reason: ExitReason): void {
    if (!isNormalExit(reason) && !this.stopped && this.log.isLevelEnabled('error')) {
      p.log.error({ reason: reasonForLog(reason), behaviour: p.meta?.behaviour }, 'process crashed');
    }
    if (this.events.listenerCount('exit') > 0)
      this.events.emit('exit', { pid: p.self, name: p.name, reason });
  }

  /** Kills every process left (no terminate callbacks) and stops the actor system. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of [...this.procs.values()]) p.terminate('killed');
    this.scheduler.stop();
    this.callTimers.stop();
    nactStop(this.system);
  }
}
