/**
 * CallHandle: what a running module sees of its call (Kazoo's kapps_call plus the
 * blocking kapps_call_command functions a cf_* module calls).
 *
 * Contract
 * - `send(app, fields)` publishes the dialplan command `dialplan.<app>` to the call's
 *   control queue (Server-ID = the executor's queue). `exec(app, fields)` sends it and
 *   waits for its CHANNEL_EXECUTE_COMPLETE (Application-Name `app`), Kazoo's b_* calls;
 *   a dialplan_error for the call rejects it with CommandError.
 * - `nextEvent(pred, timeoutMs)` answers the first call event (or error) matching `pred`
 *   that arrived since the module started and was not taken yet, or waits for one;
 *   'timeout' when none came in time (Kazoo's selective receive in the module's process).
 *   Events the module never asks for are dropped past EVENT_BUFFER. With `signal`, the
 *   wait ends ('timeout', its timer cleared) when the signal aborts: a module that races
 *   several waits aborts the losers before it returns, so none takes a later module's event.
 * - `doc(id)` reads a document of the call's account through the node's callflow cache;
 *   `owned(ownerId, type)` lists the ids of documents owned by a user (attributes/owned).
 * - When the call hangs up or the executor ends, `abort(reason)` rejects every pending
 *   and later wait with HangupError and clears its timers: nothing of the module stays.
 * - `runtime` is the node's runtime (voicemail reaches callflow_vm_store with it). Voicemail
 *   uses the same handle: record (`send('record', ...)`), DTMF (`nextEvent`),
 *   play (`exec('play', ...)`) and documents (`doc`; messages through callflow_vm_store).
 */
import type { Logger, Runtime } from '../../src/kernel/index.ts';
import { build, type BuildContext } from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type BusTransport, type Envelope } from '../../src/bus/index.ts';

/** The call ended under a waiting module: the normal end of a call, so no stack trace
 *  (capturing one would cost more than the rest of the error, and say nothing useful). */
export class HangupError extends Error {
  constructor(reason: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`call ended: ${reason}`);
    Error.stackTraceLimit = limit;
    this.name = 'HangupError';
  }
}

export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface CallInfo {
  readonly callId: string;
  readonly controlQueue: string;
  readonly accountId: string;
  readonly accountDb: string;
  /** The dialled number the callflow was found by. */
  readonly number: string;
  readonly callerIdNumber?: string;
  readonly callerIdName?: string;
  /** The route_req's Custom-Channel-Vars (the channel's `ecallmgr_*` variables). */
  readonly customChannelVars?: Readonly<Record<string, unknown>>;
}

export interface CallDeps {
  readonly bus: BusTransport;
  readonly ctx: BuildContext;
  /** A document of the account database, through the callflow cache. */
  readonly doc: (db: string, id: string) => Promise<Record<string, unknown>>;
  /** Ids of the documents of `type` owned by `ownerId` (attributes/owned). */
  readonly owned: (db: string, ownerId: string, type: string) => Promise<string[]>;
  /** The node's runtime, for modules that talk to the app's other processes (voicemail). */
  readonly runtime?: Runtime;
}

const EVENT_BUFFER = 256;

interface Waiter {
  pred: (m: Envelope) => boolean;
  resolve: (m: Envelope | 'timeout') => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** Detaches the wait from its abort signal. */
  off?: () => void;
}

export class CallHandle {
  private readonly buffer: Envelope[] = [];
  private readonly waiters = new Set<Waiter>();
  /** Why the handle ended; its HangupError is made only when someone is told (a stack costs). */
  private ended: string | undefined;

  constructor(
    readonly info: CallInfo,
    private readonly queue: string,
    private readonly deps: CallDeps,
    readonly log: Logger,
  ) {}

  get runtime(): Runtime | undefined {
    return this.deps.runtime;
  }

  /** The node's bus and build context, for modules that talk to another app (acdc_member). */
  get bus(): BusTransport {
    return this.deps.bus;
  }

  get buildCtx(): BuildContext {
    return this.deps.ctx;
  }

  get callId(): string {
    return this.info.callId;
  }

  /** The executor hands every event of the call here, in arrival order. */
  deliver(m: Envelope): void {
    if (this.ended !== undefined) return;
    for (const w of this.waiters) {
      if (!w.pred(m)) continue;
      this.waiters.delete(w);
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.off?.();
      w.resolve(m);
      return;
    }
    this.buffer.push(m);
    if (this.buffer.length > EVENT_BUFFER) this.buffer.shift();
  }

  abort(reason: string): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    this.buffer.length = 0;
    if (this.waiters.size === 0) return;
    const err = new HangupError(reason);
    for (const w of this.waiters) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.off?.();
      w.reject(err);
    }
    this.waiters.clear();
  }

  get aborted(): boolean {
    return this.ended !== undefined;
  }

  nextEvent(
    pred: (m: Envelope) => boolean,
    timeoutMs = Infinity,
    signal?: AbortSignal,
  ): Promise<Envelope | 'timeout'> {
    if (this.ended !== undefined) return Promise.reject(new HangupError(this.ended));
    if (signal?.aborted === true) return Promise.resolve('timeout');
    const i = this.buffer.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.buffer.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w: Waiter = { pred, resolve, reject };
      const end = (): void => {
        this.waiters.delete(w);
        if (w.timer !== undefined) clearTimeout(w.timer);
        w.off?.();
        resolve('timeout');
      };
      if (Number.isFinite(timeoutMs)) w.timer = setTimeout(end, timeoutMs);
      if (signal !== undefined) {
        signal.addEventListener('abort', end, { once: true });
        w.off = () => signal.removeEventListener('abort', end);
      }
      this.waiters.add(w);
    });
  }

  /** Event waits not answered yet (a module that returned should leave none). */
  get pendingWaits(): number {
    return this.waiters.size;
  }

  async send(app: string, fields: Record<string, unknown> = {}): Promise<Envelope> {
    if (this.ended !== undefined) throw new HangupError(this.ended);
    const msg = build(
      `dialplan.${app}`,
      { 'Call-ID': this.callId, 'Server-ID': this.queue, ...fields },
      this.deps.ctx,
    ) as unknown as Envelope;
    await this.deps.bus.publish('callctl', this.info.controlQueue, encodeJson(msg), jsonProperties());
    return msg;
  }

  /** Sends `app` and waits for its completion (Kazoo's b_<app>); `signal` ends the wait (CommandError). */
  async exec(app: string, fields: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Envelope> {
    await this.send(app, fields);
    const m = await this.nextEvent(
      (e) =>
        (e['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && e['Application-Name'] === app) ||
        (e['Event-Category'] === 'error' && e['Event-Name'] === 'dialplan'),
      Infinity,
      signal,
    );
    if (m === 'timeout') throw new CommandError(`${app}: no completion`);
    if (m['Event-Category'] === 'error')
      throw new CommandError(`${app}: ${String(m['Error-Message'] ?? 'dialplan error')}`);
    return m;
  }

  doc(id: string): Promise<Record<string, unknown>> {
    return this.deps.doc(this.info.accountDb, id);
  }

  owned(ownerId: string, type: string): Promise<string[]> {
    return this.deps.owned(this.info.accountDb, ownerId, type);
  }
}
