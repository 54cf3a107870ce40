/**
 * gen_server: a process that owns a state and answers calls, casts and other messages.
 *
 * Callbacks (each may return a value or a promise of it; `ctx` is the process context)
 * - `init(args, ctx)`: `ok(state)` starts the server (`start` resolves `{type:'ok', pid}`
 *   only after init returned); `ignore()` ends it with reason `normal` (`start` resolves
 *   `{type:'ignore'}`; a linked starter that traps exits gets the EXIT, as in OTP);
 *   `stop(reason)` or a throw fails the start (`{type:'error', reason}`) and the process
 *   exits with that reason (a linked starter that does not trap exits dies with it, as
 *   in OTP).
 * - `handleCall(request, from, state, ctx)`: `reply(value, state)` answers the caller;
 *   `noreply(state)` leaves the answer for later, given with `reply(from, value)` from
 *   anywhere; `stop(reason, state, value?)` answers (when a value is given) and stops.
 *   A server without handleCall crashes on a call (its caller fails at once).
 * - `handleCast(msg, state, ctx)` / `handleInfo(msg, state, ctx)`: `noreply(state)` or
 *   `stop(reason, state)`, or `unexpected(msg, state)` for a message the server does not
 *   expect. A cast without handleCast crashes the server. A message without handleInfo,
 *   or given back with `unexpected`, is logged at warn with its type (not its content)
 *   and counted for the process (tree view), as OTP's gen_server logs it.
 * - `terminate(reason, state, ctx)`: runs when a callback returns stop, when a callback
 *   throws (reason = the thrown value), on `GenServer.stop`, and when the server traps
 *   exits and its parent (the supervisor that started it) sends an exit signal, e.g.
 *   `shutdown`. It does not run when the server is killed, or when it does not trap exits
 *   and an exit signal ends it: as OTP. A throw in terminate becomes the exit reason.
 * - Any result may carry `{timeout: ms}`: if no message arrives within ms, handleInfo
 *   receives `'timeout'`.
 * - A callback that returns something that is not one of the results above crashes the
 *   server with `{bad_return_value: ...}`.
 * - `codeChange(oldVsn, state, extra, ctx)` (optional, OTP's code_change/3): called on the
 *   *new* behaviour when an app upgrade moves a running server to it (app-upgrade.ts);
 *   it gets the old version's state and returns the new one (or throws: the server stays
 *   on its old code with its old state). `codeChanged(state, ctx)` runs once the swap is
 *   made (behaviours built on gen_server, such as gen_listener, swap what they own there).
 *
 * Client API
 * - `call(rt, server, request, timeout = 5000)`: the reply, or a CallError: `noproc` at
 *   once if the server is not running, `exit` (with the server's reason) if it ends before
 *   replying, `timeout` when the time is up. A reply that comes after the timeout is
 *   dropped. `'infinity'` waits for ever.
 * - `cast(rt, server, msg)`: fire and forget; returns whether the server was alive.
 * - `stop(rt, server, reason = 'normal')`: runs terminate and waits for the exit; rejects
 *   with a CallError `noproc` if the server is not running, or `exit` with the actual
 *   reason if it ended with another one (e.g. terminate threw), as OTP's stop/3.
 * - `suspend(rt, server, timeoutMs)` (OTP's sys:suspend): resolves once the server has
 *   finished what it was doing and holds its mailbox; messages that arrive meanwhile wait
 *   there, in order (exit signals still act). The handle can `prepare` a code change
 *   (runs the new behaviour's codeChange on the current state, keeps the result),
 *   `commit` it (swaps behaviour and state) and `resume` the server. A server that does
 *   not get to the suspension within timeoutMs is left running (`timeout`).
 */
import {
  Kind,
  isExitMessage,
  type CallFrom,
  type Envelope,
  type Proc,
  type ProcessContext,
} from './process.ts';
import { CallError, NameTakenError, type Runtime } from './runtime.ts';
import { currentLogContext } from './log.ts';
import { noteUnexpected } from './proc-stats.ts';
import { removeDeadline } from './call-timers.ts';
import { Exit, NORMAL, formatReason, type ExitReason } from './exit-reason.ts';
import type { Pid, Ref } from './pid.ts';
import type { ChildSpec } from './child-spec.ts';

export interface Timed {
  timeout?: number;
}
export type InitResult<S> =
  ({ type: 'ok'; state: S } & Timed) | { type: 'ignore' } | { type: 'stop'; reason: ExitReason };
export type CallResult<S, R = unknown> =
  | ({ type: 'reply'; reply: R; state: S } & Timed)
  | ({ type: 'noreply'; state: S } & Timed)
  | { type: 'stop'; reason: ExitReason; state: S; reply?: R; hasReply?: boolean };
export type NoReplyResult<S> =
  | ({ type: 'noreply'; state: S } & Timed)
  | { type: 'stop'; reason: ExitReason; state: S }
  | UnexpectedResult<S>;
/** handleInfo / handleCast give a message back to the kernel: see `unexpected`. */
export interface UnexpectedResult<S> {
  type: 'unexpected';
  msg: unknown;
  state: S;
}

type MaybeAsync<T> = T | Promise<T>;
export type From = CallFrom;

export interface GenServerBehaviour<S, A = void, Call = never, Cast = never> {
  /** A name for logs and the tree view (e.g. 'reg_server'). */
  readonly name: string;
  init(args: A, ctx: ProcessContext): MaybeAsync<InitResult<S>>;
  handleCall?(request: Call, from: From, state: S, ctx: ProcessContext): MaybeAsync<CallResult<S>>;
  handleCast?(msg: Cast, state: S, ctx: ProcessContext): MaybeAsync<NoReplyResult<S>>;
  handleInfo?(msg: unknown, state: S, ctx: ProcessContext): MaybeAsync<NoReplyResult<S>>;
  terminate?(reason: ExitReason, state: S, ctx: ProcessContext): MaybeAsync<void>;
  /** What the tree view shows of this server's state (optional). */
  describe?(state: S): unknown;
  /**
   * OTP's code_change/3, on the new behaviour: the old version's state in, this version's
   * state out. `oldVsn` is the app's version before the upgrade; `extra` the new app
   * definition's `codeChangeExtra`. A throw keeps the server on its old code and state.
   */
  codeChange?(oldVsn: string | undefined, state: unknown, extra: unknown, ctx: ProcessContext): MaybeAsync<S>;
  /** Runs in the server right after it moved to this behaviour (for behaviours built on gen_server). */
  codeChanged?(state: S, ctx: ProcessContext): MaybeAsync<void>;
}

// ---- result constructors (OTP's words) -------------------------------------------

export const ok = <S>(state: S, opts?: Timed): InitResult<S> => ({ type: 'ok', state, ...opts });
export const ignore = (): { type: 'ignore' } => ({ type: 'ignore' });
// (no spread when there are no options: these run once a message)
export const reply = <S, R>(value: R, state: S, opts?: Timed): CallResult<S, R> =>
  opts === undefined
    ? { type: 'reply', reply: value, state }
    : { type: 'reply', reply: value, state, ...opts };
export const noreply = <S>(state: S, opts?: Timed): { type: 'noreply'; state: S } & Timed =>
  opts === undefined ? { type: 'noreply', state } : { type: 'noreply', state, ...opts };
export function stop(reason: ExitReason): { type: 'stop'; reason: ExitReason };
export function stop<S>(reason: ExitReason, state: S): { type: 'stop'; reason: ExitReason; state: S };
export function stop<S, R>(
  reason: ExitReason,
  state: S,
  replyValue: R,
): { type: 'stop'; reason: ExitReason; state: S; reply: R; hasReply: true };
export function stop(reason: ExitReason, ...rest: unknown[]): unknown {
  return rest.length >= 2
    ? { type: 'stop', reason, state: rest[0], reply: rest[1], hasReply: true }
    : { type: 'stop', reason, state: rest[0] };
}

/**
 * From handleInfo or handleCast: `msg` was not expected. The kernel logs it at warn with
 * its type, counts it for the process (tree view) and goes on with `state`, as OTP's
 * gen_server does for a message that has no handle_info.
 */
export const unexpected = <S>(msg: unknown, state: S): UnexpectedResult<S> => ({
  type: 'unexpected',
  msg,
  state,
});

export type StartResult =
  { type: 'ok'; pid: Pid } | { type: 'ignore' } | { type: 'error'; reason: ExitReason };

export interface StartOptions {
  /** Link to this process (start_link); a supervisor passes itself. */
  link?: Pid;
  /** Register under this name. */
  name?: string;
  app?: string;
  /** ms to wait for init; default infinity. On timeout the process is unlinked and killed, and the start answers `timeout` once it has ended. */
  timeout?: number;
}

const TIMEOUT = Symbol('gen_server timeout');
const metas = new WeakMap<object, { behaviour: string }>();
/** One shared meta object per behaviour (processes are many, behaviours few). */
const metaOf = (b: { name: string }): { behaviour: string } => {
  let m = metas.get(b);
  if (m === undefined) metas.set(b, (m = { behaviour: b.name }));
  return m;
};
const SYS_STOP = 'stop';
const isThenable = (x: unknown): x is Promise<unknown> =>
  typeof x === 'object' && x !== null && typeof (x as Promise<unknown>).then === 'function';

/** Starts a gen_server; resolves after its init returned. */
export function start<S, A>(
  rt: Runtime,
  behaviour: GenServerBehaviour<S, A, any, any>,
  args: A,
  opts: StartOptions = {},
): Promise<StartResult> {
  if (opts.name !== undefined) {
    const holder = rt.whereis(opts.name);
    if (holder !== undefined) return Promise.resolve({ type: 'error', reason: { already_started: holder } });
  }
  return new Promise<StartResult>((resolve) => {
    let done = false;
    const finish = (r: StartResult): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(r);
    };
    let pid: Pid;
    try {
      pid = rt.spawn((env, proc) => initHandler(env, proc), {
        link: opts.link,
        name: opts.name,
        app: opts.app,
      });
    } catch (err) {
      if (err instanceof NameTakenError)
        return finish({ type: 'error', reason: { already_started: err.holder } });
      throw err;
    }
    const proc = rt.proc(pid)!;
    proc.meta = metaOf(behaviour);
    proc.exitHook = (reason) => finish({ type: 'error', reason });
    // On timeout (OTP's proc_lib kill_flush): unlink, kill, and answer once the process is
    // gone, so its name is free again when the start returns.
    const timer =
      opts.timeout === undefined
        ? undefined
        : setTimeout(() => {
            proc.exitHook = () => finish({ type: 'error', reason: 'timeout' });
            if (opts.link !== undefined) rt.unlink(opts.link, pid);
            rt.exit(pid, 'kill');
          }, opts.timeout);

    const initHandler = (_env: Envelope, p: Proc): void | Promise<void> => {
      let r: MaybeAsync<InitResult<S>>;
      try {
        r = behaviour.init(args, p);
      } catch (err) {
        return initFailed(p, err instanceof Exit ? err.reason : err);
      }
      if (isThenable(r))
        return r.then(
          (v) => initDone(p, v),
          (err: unknown) => initFailed(p, err instanceof Exit ? err.reason : err),
        );
      return initDone(p, r);
    };
    const initDone = (p: Proc, r: InitResult<S>): void => {
      if (!p.alive) return;
      switch (r?.type) {
        case 'ok': {
          const server = new Server(behaviour, r.state, p);
          p.exitHook = null;
          p.setHandler(server.handle);
          servers.set(p, server);
          server.setMeta();
          server.arm(r.timeout);
          return finish({ type: 'ok', pid });
        }
        case 'ignore':
          // OTP: the process exits `normal`, so a linked starter that traps exits sees it
          finish({ type: 'ignore' });
          return p.terminate(NORMAL);
        case 'stop':
          return initFailed(p, r.reason);
        default:
          return initFailed(p, { bad_return_value: r });
      }
    };
    const initFailed = (p: Proc, reason: ExitReason): void => {
      finish({ type: 'error', reason });
      p.terminate(reason);
    };
    proc.deliver(Kind.Sys, 'init', undefined, currentLogContext());
  });
}

/** A suspension request travelling as a system message; `cancelled` once its asker gave up. */
interface SuspendToken {
  cancelled: boolean;
  held(s: Suspended): void;
}

/** A suspended server (see `suspend`). */
export interface Suspended {
  readonly pid: Pid;
  /** Runs `next.codeChange(oldVsn, state, extra)` in the server; rejects with what it threw. */
  prepare(
    next: GenServerBehaviour<any, any, any, any>,
    oldVsn: string | undefined,
    extra: unknown,
  ): Promise<void>;
  /** Moves the server to the prepared behaviour and state (then runs its codeChanged). */
  commit(): Promise<void>;
  /** Lets the server go on with its mailbox. Idempotent. */
  resume(): void;
}

const servers = new WeakMap<Proc, Server<any>>();

/** The running server: state plus the message loop. */
class Server<S> {
  private timer: Ref | undefined;
  constructor(
    private b: GenServerBehaviour<S, any, any, any>,
    public state: S,
    private readonly p: Proc,
  ) {}

  setMeta(): void {
    const b = this.b;
    this.p.meta =
      b.describe === undefined ? metaOf(b) : { behaviour: b.name, describe: () => b.describe!(this.state) };
  }

  /** Holds the mailbox until resumed (a system message's handler that settles later). */
  private hold(token: SuspendToken): void | Promise<void> {
    if (token.cancelled || !this.p.alive) return;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let pending: { b: GenServerBehaviour<S, any, any, any>; state: S } | undefined;
    const p = this.p;
    token.held({
      pid: p.self,
      prepare: async (next, oldVsn, extra) => {
        if (!p.alive) throw new CallError('exit', p.exitReason, String(p.self));
        if (next.codeChange === undefined) throw new Error(`${next.name}: no codeChange`);
        try {
          pending = { b: next, state: await next.codeChange(oldVsn, this.state, extra, p) };
        } catch (err) {
          throw err instanceof Exit ? new Error(formatReason(err.reason)) : err;
        }
      },
      commit: async () => {
        if (pending === undefined || !p.alive) return;
        this.b = pending.b;
        this.state = pending.state;
        pending = undefined;
        this.setMeta();
        if (this.b.codeChanged !== undefined) await this.b.codeChanged(this.state, p);
      },
      resume: () => release(),
    });
    return released;
  }

  arm(timeout: number | undefined): void {
    if (timeout !== undefined) this.timer = this.p.sendAfter(timeout, TIMEOUT);
  }

  readonly handle = (env: Envelope): void | Promise<void> => {
    if (this.timer !== undefined) {
      this.p.cancelTimer(this.timer);
      this.timer = undefined;
    }
    const { b, p } = this;
    let r: MaybeAsync<CallResult<S> | NoReplyResult<S>>;
    try {
      switch (env.kind) {
        case Kind.Call:
          if (b.handleCall === undefined) throw new Exit({ unhandled_call: env.msg, server: b.name });
          r = b.handleCall(env.msg as never, env.from!, this.state, p);
          break;
        case Kind.Cast:
          if (b.handleCast === undefined) throw new Exit({ unhandled_cast: env.msg, server: b.name });
          r = b.handleCast(env.msg as never, this.state, p);
          break;
        case Kind.Sys: {
          const sys = env.msg as { stop?: ExitReason; suspend?: SuspendToken };
          if (sys.suspend !== undefined) return this.hold(sys.suspend);
          return this.terminate(sys.stop);
        }
        default: {
          const m = env.msg;
          if (isExitMessage(m) && p.trapping && p.parent !== undefined && m.from.id === p.parent.id)
            return this.terminate(m.reason);
          if (b.handleInfo === undefined) return noteUnexpected(p, b.name, m);
          r = b.handleInfo(m === TIMEOUT ? 'timeout' : m, this.state, p);
        }
      }
    } catch (err) {
      return this.terminate(err instanceof Exit ? err.reason : err);
    }
    if (isThenable(r))
      return r.then(
        (v) => this.apply(v, env),
        (err: unknown) => this.terminate(err instanceof Exit ? err.reason : err),
      );
    return this.apply(r, env);
  };

  private apply(r: CallResult<S> | NoReplyResult<S>, env: Envelope): void | Promise<void> {
    if (!this.p.alive) return;
    switch (r?.type) {
      case 'reply':
        if (env.kind !== Kind.Call) return this.terminate({ bad_return_value: r });
        this.state = r.state;
        replyTo(env.from!, r.reply);
        return this.arm(r.timeout);
      case 'noreply':
        this.state = r.state;
        return this.arm(r.timeout);
      case 'unexpected':
        if (env.kind === Kind.Call) return this.terminate({ bad_return_value: r });
        this.state = r.state;
        return noteUnexpected(this.p, this.b.name, r.msg);
      case 'stop':
        if ('state' in r) this.state = r.state;
        if (env.kind === Kind.Call && (r as { hasReply?: boolean }).hasReply)
          replyTo(env.from!, (r as { reply?: unknown }).reply);
        return this.terminate(r.reason);
      default:
        return this.terminate({ bad_return_value: r });
    }
  }

  /** Runs the terminate callback (if any), then ends the process. */
  private terminate(reason: ExitReason): void | Promise<void> {
    const { b, p } = this;
    if (!p.alive) return;
    if (b.terminate === undefined) return p.terminate(reason);
    let r: MaybeAsync<void>;
    try {
      r = b.terminate(reason, this.state, p);
    } catch (err) {
      return p.terminate(err instanceof Exit ? err.reason : err);
    }
    if (isThenable(r))
      return r.then(
        () => p.terminate(reason),
        (err: unknown) => p.terminate(err instanceof Exit ? err.reason : err),
      );
    p.terminate(reason);
  }
}

// ---- client API --------------------------------------------------------------------

export function call<R = unknown>(
  rt: Runtime,
  server: Pid | string,
  request: unknown,
  timeout: number | 'infinity' = 5000,
): Promise<R> {
  const p = rt.resolve(server);
  if (p === undefined) return Promise.reject(new CallError('noproc', 'noproc', String(server)));
  return new Promise<R>((resolve, reject) => {
    const from: CallFrom = {
      settled: false,
      resolve: resolve as (v: unknown) => void,
      reject,
      target: p,
      to: server,
      lc: undefined,
      deadline: 0,
      prev: null,
      next: null,
      list: null,
    };
    (p.callers ??= new Set()).add(from);
    if (timeout !== 'infinity') rt.callTimers.add(from, timeout);
    p.deliver(Kind.Call, request, from, currentLogContext());
  });
}

/** Answers a call: from handleCall's `from`, now or later, from any code. Late replies are dropped. */
export function replyTo(from: From, value: unknown): void {
  if (from.settled) return;
  from.settled = true;
  removeDeadline(from);
  from.target?.callers?.delete(from);
  from.resolve(value);
}

export function cast(rt: Runtime, server: Pid | string, msg: unknown): boolean {
  const p = rt.resolve(server);
  if (p === undefined) return false;
  p.deliver(Kind.Cast, msg, undefined, currentLogContext());
  return true;
}

/** Stops a server with `reason` (terminate runs) and resolves once it has exited with it. */
export async function stopServer(
  rt: Runtime,
  server: Pid | string,
  reason: ExitReason = NORMAL,
): Promise<void> {
  const p = rt.resolve(server);
  if (p === undefined) throw new CallError('noproc', 'noproc', String(server));
  const exited = rt.awaitExit(p.self);
  p.deliver(Kind.Sys, { [SYS_STOP]: reason }, undefined, currentLogContext());
  const actual = await exited;
  // OTP's gen_server:stop: an exit with another reason (terminate failed) is raised
  if (actual !== reason) throw new CallError('exit', actual, String(server));
}

/**
 * Suspends a gen_server (OTP's sys:suspend): resolves once it holds its mailbox, or
 * rejects with a CallError (`noproc`; `timeout` when it did not get there in time: it is
 * left running). Resume it with the handle, always.
 */
export function suspend(rt: Runtime, server: Pid | string, timeoutMs = 5000): Promise<Suspended> {
  const p = rt.resolve(server);
  if (p === undefined) return Promise.reject(new CallError('noproc', 'noproc', String(server)));
  if (!servers.has(p))
    return Promise.reject(new Error(`${String(server)} is not a running gen_server: it cannot be suspended`));
  return new Promise<Suspended>((resolve, reject) => {
    const timer = setTimeout(() => {
      token.cancelled = true;
      reject(new Error(`${String(server)} did not suspend within ${timeoutMs} ms: left running`));
    }, timeoutMs);
    const token: SuspendToken = {
      cancelled: false,
      held: (s) => {
        clearTimeout(timer);
        token.cancelled = true; // (settled: a later exit is the holder's business)
        resolve(s);
      },
    };
    void rt.awaitExit(p.self).then((reason) => {
      if (token.cancelled) return;
      token.cancelled = true;
      clearTimeout(timer);
      reject(new CallError('exit', reason, String(server)));
    });
    p.deliver(Kind.Sys, { suspend: token }, undefined, currentLogContext());
  });
}

/** A worker child spec that starts `behaviour` with `args`, linked to its supervisor. */
export function childSpec<S, A>(
  id: string,
  behaviour: GenServerBehaviour<S, A, any, any>,
  args: A,
  opts: Omit<ChildSpec, 'id' | 'start'> & { name?: string } = {},
): ChildSpec {
  const { name, ...rest } = opts;
  return {
    id,
    ...rest,
    behaviour,
    start: (ctx) => start(ctx.runtime, behaviour, args, { link: ctx.parent, name, app: ctx.app }),
  };
}

/** The namespace apps use: GenServer.start, GenServer.call, ... */
export const GenServer = { start, call, cast, reply: replyTo, stop: stopServer, childSpec, suspend };
