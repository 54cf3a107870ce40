/**
 * The application engine: runs dialplan applications on channels, as sendmsg
 * `call-command: execute` asks, with FreeSWITCH's execute events and ordering.
 *
 * Contract
 * - execute(ch, req): every application yields CHANNEL_EXECUTE then, when it ends,
 *   CHANNEL_EXECUTE_COMPLETE, both carrying Application, Application-Data and
 *   Application-UUID (= the sendmsg's Event-UUID); the completion adds
 *   Application-Response. `loops: N` runs the application N times in one pair of events.
 * - One channel runs its requests in arrival order. A request arriving while another
 *   application runs waits for it, except that applications which service the channel's
 *   message queue while they run (park, playback, say, sleep, record, read,
 *   play_and_get_digits, echo) let it run nested at once, as FreeSWITCH does, unless an
 *   application on the channel was started with `event-lock: true`, which holds every
 *   later request until it completes.
 * - park is a background state: CHANNEL_EXECUTE (park) + CHANNEL_PARK; later requests run
 *   while parked; at hangup CHANNEL_UNPARK then park's CHANNEL_EXECUTE_COMPLETE.
 * - interrupt(ch): on hangup, every running application is told to stop (its completion
 *   is still emitted, with the response it gives); queued requests are dropped. The
 *   returned promise resolves when all have ended. `silent` (a killed channel) emits
 *   nothing.
 * - runExtension(ch, reqs) (sendmsg xferext): the applications one after the other, each
 *   as execute() runs it, the next once the previous has completed; when the channel has
 *   hung up the rest of the extension is abandoned (not run, no events, no error).
 * - unpark(ch): a transfer ends the channel's park (CHANNEL_UNPARK, park's completion).
 * - stopBridge(ch, reason): aborts the channel's running bridge with that reason (a
 *   transfer out of the bridge, bridge-exit.ts); resolves when it has completed.
 * - dtmf(ch, digit): emits DTMF (DTMF-Digit, DTMF-Duration, DTMF-Source) and hands the
 *   digit to the innermost running application that reads digits (playback, record,
 *   read, play_and_get_digits), which buffers it until it asks; other digits are dropped.
 * - An unknown application completes at once with Application-Response
 *   `-ERR invalid application` (a documented difference: see README); an application
 *   that throws completes with `-ERR <message>` and a log line.
 */
import type { Logger } from '../kernel/log.ts';
import type { Channel } from './channel.ts';
import type { CallModel } from './call-model.ts';
import type { Header } from './esl-wire.ts';
import type { SimIds } from './sim-clock.ts';
import {
  APPLICATIONS,
  interruptible,
  type AppContext,
  type Application,
  type SimMediaOptions,
} from './apps.ts';

export interface ExecRequest {
  app: string;
  arg: string;
  appUuid: string;
  eventLock: boolean;
  loops: number;
  /** Called once the application has completed (its CHANNEL_EXECUTE_COMPLETE fired);
   *  never when it is dropped or the channel killed. */
  then?: () => void;
}

interface Running {
  readonly req: ExecRequest;
  readonly abort: AbortController;
  readonly digits: string[];
  wake: (() => void) | undefined;
  done: Promise<void>;
}

interface ChannelApps {
  queue: ExecRequest[];
  running: Running[];
  parked: ExecRequest | undefined;
  silent: boolean;
}

function completeHeaders(req: ExecRequest, response: string): Header[] {
  return [
    ['Application', req.app],
    ['Application-Data', req.arg],
    ['Application-Response', response],
    ['Application-UUID', req.appUuid],
  ];
}

/** Applications that take the channel's digits (the innermost one running gets them). */
const DIGIT_APPS = new Set(['playback', 'say', 'play_and_get_digits', 'read', 'record']);

function waitForDigit(running: Running, ms: number): Promise<string | 'timeout' | 'aborted'> {
  const signal = running.abort.signal;
  return new Promise((resolve) => {
    const first = running.digits.shift();
    if (first !== undefined) return resolve(first);
    if (signal.aborted) return resolve('aborted');
    const finish = (r: string): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      running.wake = undefined;
      resolve(r);
    };
    const onAbort = (): void => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), ms);
    running.wake = () => finish(running.digits.shift() ?? 'timeout');
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const NESTABLE = new Set([
  'socket',
  'park',
  'playback',
  'say',
  'sleep',
  'record',
  'read',
  'play_and_get_digits',
  'echo',
  'gentones',
  'endless_playback',
]);

export class AppEngine {
  private readonly perChannel = new Map<string, ChannelApps>();

  constructor(
    private readonly model: CallModel,
    private readonly ids: SimIds,
    private readonly media: SimMediaOptions,
    private readonly log: Logger,
    private readonly extraApps: Readonly<Record<string, Application>> = {},
    /** Fault injection: an application named here waits this long before it runs. */
    private readonly appDelayMs: ReadonlyMap<string, number> = new Map(),
  ) {}

  private apps(ch: Channel): ChannelApps {
    let st = this.perChannel.get(ch.uuid);
    if (st === undefined) {
      st = { queue: [], running: [], parked: undefined, silent: false };
      this.perChannel.set(ch.uuid, st);
    }
    return st;
  }

  forget(uuid: string): void {
    this.perChannel.delete(uuid);
  }

  /** Name of the application a channel is running (innermost), if any. */
  current(uuid: string): string | undefined {
    const st = this.perChannel.get(uuid);
    return st?.running[st.running.length - 1]?.req.app ?? st?.parked?.app;
  }

  runDialplanPark(ch: Channel): void {
    this.execute(ch, { app: 'park', arg: '', appUuid: this.ids.uuid(), eventLock: false, loops: 1 });
  }

  execute(ch: Channel, req: ExecRequest): boolean {
    if (ch.isHungUp) {
      this.log.child({ call_id: ch.uuid }).debug({ app: req.app }, 'execute after hangup dropped');
      return false;
    }
    const st = this.apps(ch);
    const canNest = st.running.every((r) => NESTABLE.has(r.req.app) && !r.req.eventLock);
    if (st.queue.length === 0 && canNest) this.start(ch, st, req);
    else st.queue.push(req);
    return true;
  }

  /** Runs an extension's applications (sendmsg xferext) one after the other, each as
   *  execute() would, the next on a later turn once the previous has completed; the rest
   *  is abandoned, unrun and with no event, once the channel has hung up. */
  runExtension(ch: Channel, reqs: readonly ExecRequest[]): void {
    const [first, ...rest] = reqs;
    if (first === undefined) return;
    const then = rest.length === 0 ? undefined : () => setImmediate(() => this.runExtension(ch, rest));
    if (!ch.isHungUp) return void this.execute(ch, { ...first, then });
    this.log
      .child({ call_id: ch.uuid })
      .debug({ apps: reqs.map((r) => r.app) }, 'extension abandoned at hangup');
  }

  private pump(ch: Channel, st: ChannelApps): void {
    if (ch.isHungUp) {
      st.queue.length = 0;
      return;
    }
    while (st.queue.length > 0 && st.running.every((r) => NESTABLE.has(r.req.app) && !r.req.eventLock)) {
      const next = st.queue.shift();
      if (next !== undefined) this.start(ch, st, next);
    }
  }

  private execHeaders(ch: Channel, req: ExecRequest): Header[] {
    ch.variables.set('current_application', req.app);
    ch.variables.set('current_application_data', req.arg);
    return [
      ['Application', req.app],
      ['Application-Data', req.arg],
      ['Application-UUID', req.appUuid],
    ];
  }

  private start(ch: Channel, st: ChannelApps, req: ExecRequest): void {
    this.model.fire('CHANNEL_EXECUTE', ch, this.execHeaders(ch, req));
    if (req.app === 'park') {
      const previous = st.parked;
      st.parked = req;
      if (previous === undefined) this.model.fire('CHANNEL_PARK', ch);
      return;
    }
    const running: Running = {
      req,
      abort: new AbortController(),
      digits: [],
      wake: undefined,
      done: Promise.resolve(),
    };
    st.running.push(running);
    // Start on a microtask so that `done` is set before the application runs: an
    // application that hangs up its own channel makes interrupt() wait for `done`.
    running.done = Promise.resolve().then(() => this.run(ch, st, running));
  }

  private async run(ch: Channel, st: ChannelApps, running: Running): Promise<void> {
    const { req } = running;
    const impl = this.extraApps[req.app] ?? APPLICATIONS[req.app];
    let response = '-ERR invalid application';
    const log = this.log.child({ call_id: ch.uuid });
    if (impl === undefined) {
      log.warn({ app: req.app }, 'unknown application');
      await Promise.resolve();
    } else {
      const delay = this.appDelayMs.get(req.app) ?? 0;
      if (delay > 0) {
        log.warn({ app: req.app, delay_ms: delay }, 'fault: application delayed');
        await interruptible(delay, running.abort.signal);
      }
      for (let i = 0; i < Math.max(1, req.loops); i++) {
        try {
          response = await impl(this.context(ch, running, log));
        } catch (err) {
          response = `-ERR ${err instanceof Error ? err.message : String(err)}`;
          log.error({ app: req.app, err }, 'application failed');
        }
        if (running.abort.signal.aborted) break;
      }
    }
    st.running.splice(st.running.indexOf(running), 1);
    if (st.silent) return;
    ch.variables.set('current_application_response', response);
    this.model.fire('CHANNEL_EXECUTE_COMPLETE', ch, completeHeaders(req, response));
    this.pump(ch, st);
    req.then?.();
  }

  private context(ch: Channel, running: Running, log: Logger): AppContext {
    return {
      ch,
      arg: running.req.arg,
      model: this.model,
      media: this.media,
      signal: running.abort.signal,
      waitForDigit: (ms) => waitForDigit(running, ms),
      log,
    };
  }

  dtmf(ch: Channel, digit: string, durationMs: number): void {
    this.model.fire('DTMF', ch, [
      ['DTMF-Digit', digit],
      ['DTMF-Duration', String(durationMs * 8)],
      ['DTMF-Source', 'RTP'],
    ]);
    const st = this.perChannel.get(ch.uuid);
    const target = [...(st?.running ?? [])].reverse().find((r) => DIGIT_APPS.has(r.req.app));
    if (target === undefined) return;
    target.digits.push(digit);
    target.wake?.();
  }

  /** Stops a channel's applications (hangup or kill); resolves when all have ended. */
  async interrupt(ch: Channel, opts: { silent?: boolean } = {}): Promise<void> {
    const st = this.perChannel.get(ch.uuid);
    if (st === undefined) return;
    st.silent = opts.silent === true;
    st.queue.length = 0;
    for (const r of st.running) r.abort.abort();
    await Promise.all(st.running.map((r) => r.done));
    const park = st.parked;
    st.parked = undefined;
    if (park !== undefined && !st.silent) {
      this.model.fire('CHANNEL_UNPARK', ch);
      this.model.fire('CHANNEL_EXECUTE_COMPLETE', ch, completeHeaders(park, '_none_'));
    }
  }

  /** Ends the channel's park (a transfer takes it elsewhere): CHANNEL_UNPARK, then park's
   *  CHANNEL_EXECUTE_COMPLETE; nothing when it is not parked. */
  unpark(ch: Channel): void {
    const st = this.perChannel.get(ch.uuid);
    const park = st?.parked;
    if (st === undefined || park === undefined) return;
    st.parked = undefined;
    this.model.fire('CHANNEL_UNPARK', ch);
    this.model.fire('CHANNEL_EXECUTE_COMPLETE', ch, completeHeaders(park, '_none_'));
  }

  /** Stops the channel's running `bridge` application with `reason` (bridge-exit.ts);
   *  resolves once it has completed, undefined when none runs. */
  stopBridge(ch: Channel, reason: unknown): Promise<void> | undefined {
    const bridge = this.perChannel.get(ch.uuid)?.running.find((r) => r.req.app === 'bridge');
    if (bridge === undefined) return undefined;
    bridge.abort.abort(reason);
    return bridge.done;
  }

  /** Stops the channel's media applications (uuid_break): they complete as if a terminator was pressed. */
  breakMedia(ch: Channel): void {
    const st = this.perChannel.get(ch.uuid);
    for (const r of st?.running ?? []) if (r.req.app !== 'bridge') r.abort.abort('break');
  }
}
