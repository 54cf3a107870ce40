/**
 * EslConnection: a typed, promise-based, self-healing inbound event-socket client over
 * modesl's Connection (modesl itself never leaks out of this file).
 *
 * Contract
 * - `new EslConnection(opts)` does nothing until `start()`. start() connects and resolves
 *   at the first 'up'; while it cannot connect it keeps retrying with the kernel's backoff
 *   (src/kernel/backoff.ts; ESL_BACKOFF, or what `backoff` overrides: a bad value throws
 *   in the constructor), and so it does after every loss.
 *   `close()` stops for good (idempotent) and rejects start() if still waiting.
 * - Events: 'up' once authenticated and subscriptions/filters re-applied (so every event
 *   asked for before a loss flows again after it); 'down' {reason} when an up connection
 *   is lost; 'event' for every switch event (EslEvent). It never emits 'error': modesl's
 *   'error' is always listened to and logged (an unhandled EventEmitter2 error would kill
 *   the process).
 * - Requests: api(cmd) -> body; bgapi(cmd) -> the BACKGROUND_JOB body; execute(uuid, app,
 *   arg, {eventLock, loops}) -> the matching CHANNEL_EXECUTE_COMPLETE (matched on
 *   Application-UUID = the Event-UUID we send); xferext(uuid, steps) -> the
 *   CHANNEL_EXECUTE_COMPLETE of the extension's last application (matched on channel,
 *   Application and Application-Data); hangup(uuid, cause); subscribe(events);
 *   filter(h, v); filterDelete(h, v?); command(line, headers) for anything else.
 *   A `-ERR` answer rejects with EslCommandError (api/bgapi: a body starting with -ERR);
 *   a request made while down rejects at once with EslNotConnectedError; every pending
 *   request rejects with EslDisconnectedError when the socket ends or errors; an execute
 *   whose channel's CHANNEL_DESTROY arrives first rejects with EslChannelGoneError (seen
 *   only when subscribed to CHANNEL_DESTROY, as ecallmgr is); api/bgapi/
 *   command time out after `requestTimeoutMs` (default 30 s) with EslTimeoutError;
 *   execute has no default timeout (applications may run for minutes) but takes one.
 * - sendmsg goes through the command-reply FIFO (modesl's own execute() does not, and its
 *   +OK would be handed to the next caller's callback).
 * - A `text/event-json` event (every switch event, as subscribed) is decoded lazily: its
 *   name is read from its text, its subclass and Unique-ID too when asked for, and the
 *   whole JSON is parsed the first time its `headers` or `body` is read (`eventHeader(ev,
 *   h)` reads one header without that while it can). What a reader sees is what
 *   JSON.parse gives, values as strings: a field not in the plain shape (an escape,
 *   spaces, a key twice) is read by parsing the whole text.
 * - Bad bytes from the switch (header values with broken % escapes, bad JSON) are logged
 *   and decoded as best possible; they never crash the process. (JSON found bad only when
 *   a lazy event is decoded: logged, the event keeps its name, subclass and Unique-ID.)
 * - TCP_NODELAY is set on the socket (with Nagle a sendmsg could wait ~40 ms for a delayed
 *   ACK); a command is written as one string (modesl's own send writes it line by line),
 *   and the socket is corked from a command until the next tick: the commands sent in one
 *   tick leave in one system call.
 * - The password is never logged.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Connection, Event as ModeslEvent } from 'modesl';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../kernel/backoff.ts';
import { createRootLogger, type Logger } from '../kernel/log.ts';
import { safeUrlDecode } from './esl-wire.ts';
import {
  EslChannelGoneError,
  EslCommandError,
  EslDisconnectedError,
  EslNotConnectedError,
  EslTimeoutError,
  eventHeader,
  type EslEvent,
} from './esl-errors.ts';

const modesl = createRequire(import.meta.url)('modesl') as typeof import('modesl');

/** `send` (modesl writing a command: one socket write, see oneWrite) with the socket corked
 * until the next tick, so that every command sent in this tick leaves in one write. */
function corked(conn: Connection, send: () => void): void {
  const socket = conn.socket as Socket;
  socket.cork();
  try {
    send();
  } finally {
    process.nextTick(() => socket.uncork());
  }
}

/**
 * modesl's `send` writes a command line by line (a socket write per header); this one
 * writes the same bytes (`command\n`, `key: value\n` per header, `\n`) as one string,
 * and reports a failed write as modesl does ('error').
 */
function oneWrite(conn: Connection): void {
  conn.send = (command, args) => {
    let text = `${command}\n`;
    if (args) for (const key of Object.keys(args)) text += `${key}: ${String(args[key])}\n`;
    try {
      (conn.socket as Socket).write(`${text}\n`);
    } catch (e) {
      conn.emit('error', e);
    }
  };
}

/** Header lines `Name: value` without % escapes, as modesl's parser reads them (the value
 * is what follows the first `: `; Content-Length a number). */
function plainHeaders(text: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    const key = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 2);
    out[key] = key === 'Content-Length' ? parseInt(value, 10) : value;
  }
  return out;
}

/** What jsonStringField answers when only a full parse can tell. */
const UNSURE: unique symbol = Symbol('unsure');

/** Where the next `"<key>"` starts at or after `from` (`tail` = `<key>"`), or -1. The
 *  search is for the tail (its first letter is rarer in the text than a quote). */
function nextQuoted(json: string, tail: string, from: number): number {
  for (;;) {
    const i = json.indexOf(tail, from);
    if (i < 0) return -1;
    if (json.charCodeAt(i - 1) === 0x22) return i - 1;
    from = i + 1;
  }
}

/**
 * The string value of the top-level key `key` of the JSON object text `json`, read
 * without parsing it (a switch event's JSON is a flat object of strings): undefined when
 * `"key"` is nowhere in the text; UNSURE when the text is not in the plain shape read
 * here, and only a full parse can tell: the quoted key not right after `{` or `,`, or not
 * followed by `:"`; an escape (`\`) in the value; the value not followed by `,` or `}`;
 * `"key"` once more further on (JSON.parse keeps the last of two).
 */
export function jsonStringField(json: string, key: string): string | undefined | typeof UNSURE {
  const tail = `${key}"`;
  const at = nextQuoted(json, tail, 0);
  if (at < 0) return undefined;
  const before = json.charCodeAt(at - 1);
  if (before !== 0x7b && before !== 0x2c) return UNSURE; // { ,
  const start = at + tail.length + 3;
  if (json.charCodeAt(start - 2) !== 0x3a || json.charCodeAt(start - 1) !== 0x22) return UNSURE; // :"
  const end = json.indexOf('"', start);
  if (end < 0) return UNSURE;
  const after = json.charCodeAt(end + 1);
  if (after !== 0x2c && after !== 0x7d) return UNSURE;
  const value = json.slice(start, end);
  if (value.includes('\\') || nextQuoted(json, tail, end) >= 0) return UNSURE;
  return value;
}

/** A parsed `text/event-json` object as the event's headers (values as strings, `_body`
 *  taken out) and body. */
function eventFields(fields: Record<string, unknown>): { headers: Record<string, string>; body: string } {
  for (const k in fields) if (typeof fields[k] !== 'string') fields[k] = String(fields[k]);
  const body = (fields._body as string | undefined) ?? '';
  if (fields._body !== undefined) delete fields._body;
  return { headers: fields as Record<string, string>, body };
}

/**
 * A `text/event-json` event whose name was read from its text (jsonStringField): its
 * Unique-ID and subclass are read from the text when first asked for, and the whole text
 * is parsed only the first time `headers` or `body` is read; `header(h)` reads one header
 * from the text while it is not. Events that only pass through (an execute's completion,
 * a hang-up that only changes a phase) are never parsed whole. Text that turns out not
 * to be JSON (the frame was damaged past the fields already read) is logged, and the
 * event keeps its name (and the Unique-ID and subclass if they could be read).
 */
class JsonEvent implements EslEvent {
  private decoded: { headers: Record<string, string>; body: string } | undefined;
  private id: string | undefined | typeof UNSURE | null = null;
  private sub: string | undefined | typeof UNSURE | null = null;

  constructor(
    private readonly json: string,
    readonly name: string,
    private readonly log: Logger,
  ) {}

  get uuid(): string | undefined {
    return this.read('Unique-ID', (this.id ??= this.field('Unique-ID')));
  }

  get subclass(): string | undefined {
    return this.read('Event-Subclass', (this.sub ??= this.field('Event-Subclass')));
  }

  get headers(): Record<string, string> {
    return (this.decoded ??= this.decode()).headers;
  }

  get body(): string {
    return (this.decoded ??= this.decode()).body;
  }

  header(name: string): string | undefined {
    return this.read(name, this.field(name));
  }

  /** The field from the text while the event is not decoded (UNSURE: decode it). */
  private field(name: string): string | undefined | typeof UNSURE {
    return this.decoded !== undefined || name === '_body' ? UNSURE : jsonStringField(this.json, name);
  }

  private read(name: string, v: string | undefined | typeof UNSURE): string | undefined {
    return v === UNSURE ? this.headers[name] : v;
  }

  private decode(): { headers: Record<string, string>; body: string } {
    let data: unknown;
    try {
      data = JSON.parse(this.json);
    } catch (err) {
      data = err;
    }
    if (typeof data === 'object' && data !== null && !Array.isArray(data) && !(data instanceof Error))
      return eventFields(data as Record<string, unknown>);
    this.log.error(
      { err: String(data), event: this.name, sample: this.json.slice(0, 200) },
      'switch event with bad JSON: only its name, subclass and Unique-ID are kept',
    );
    const headers: Record<string, string> = { 'Event-Name': this.name };
    const sub = this.sub ?? jsonStringField(this.json, 'Event-Subclass');
    const id = this.id ?? jsonStringField(this.json, 'Unique-ID');
    if (typeof sub === 'string') headers['Event-Subclass'] = sub;
    if (typeof id === 'string') headers['Unique-ID'] = id;
    return { headers, body: '' };
  }
}

/** The event of a `text/event-json` body read lazily (JsonEvent), or undefined when its
 *  text is not in the plain shape (then it is parsed whole). */
function lazyJsonEvent(json: string, log: Logger): JsonEvent | undefined {
  if (json.charCodeAt(0) !== 0x7b || json.charCodeAt(json.length - 1) !== 0x7d) return undefined;
  const name = jsonStringField(json, 'Event-Name');
  return typeof name === 'string' ? new JsonEvent(json, name, log) : undefined;
}

export interface EslConnectionOptions {
  host?: string;
  port?: number;
  password?: string;
  logger?: Logger;
  /** Reconnect delays; what is left out comes from ESL_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  /** Time allowed from TCP connect to authenticated (default 5000 ms). */
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** 100 ms doubling to 10 s; up to 20 % of each wait is taken off at random. */
export const ESL_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 };

export interface EslConnectionEvents {
  up: [info: { attempt: number }];
  down: [info: { reason: string }];
  event: [event: EslEvent];
}

interface Pending {
  what: string;
  reject(err: Error): void;
}

type Headers = Record<string, string | number | boolean>;

export class EslConnection extends EventEmitter<EslConnectionEvents> {
  private readonly host: string;
  private readonly port: number;
  private readonly password: string;
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private conn: Connection | undefined;
  private up = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Pending>();
  private readonly executions = new Map<string, (ev: EslEvent) => void>();
  /** Unique-ID -> (Application-UUID -> reject) of executes still running there. */
  private readonly executingOn = new Map<string, Map<string, () => void>>();
  /** xferext extensions still running: key -> the channel and its last application. */
  private readonly extensions = new Map<
    string,
    { uuid: string; app: string; arg: string; done: (ev: EslEvent) => void }
  >();
  private readonly jobs = new Map<string, (ev: EslEvent) => void>();
  private readonly subscriptions = new Set<string>();
  private readonly filters: Array<[string, string]> = [];
  private firstUp: { resolve(): void; reject(e: Error): void; promise: Promise<void> } | undefined;

  constructor(opts: EslConnectionOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 8021;
    this.password = opts.password ?? 'ClueCon';
    this.log = (opts.logger ?? createRootLogger({ node: 'esl-client' })).child({
      component: 'esl',
      switch: this.target,
    });
    this.backoff = backoffPolicy(opts.backoff, ESL_BACKOFF);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  get target(): string {
    return `${this.host}:${this.port}`;
  }

  get isUp(): boolean {
    return this.up;
  }

  start(): Promise<void> {
    if (this.up) return Promise.resolve();
    if (this.stopped)
      return Promise.reject(new Error(`EslConnection to ${this.target} is closed; make a new one`));
    if (this.firstUp === undefined) {
      let settle!: { resolve(): void; reject(e: Error): void };
      const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      this.firstUp = { ...settle, promise };
    }
    if (this.conn === undefined && this.retryTimer === undefined) this.connect();
    return this.firstUp.promise;
  }

  // ---- connection life cycle ---------------------------------------------------------

  private connect(): void {
    this.retryTimer = undefined;
    this.attempt++;
    const conn = new modesl.Connection(this.host, this.port, this.password);
    this.conn = conn;
    const socket = conn.socket as Socket;
    // A command's lines used to leave in several writes; with Nagle on, the tail waited for
    // the switch's delayed ACK: ~40 ms per sendmsg. FreeSWITCH sets TCP_NODELAY on its
    // side; so do we.
    socket.setNoDelay(true);
    oneWrite(conn);
    let lost = false;
    const lose = (reason: string): void => {
      if (lost) return;
      lost = true;
      clearTimeout(authTimer);
      this.onLost(conn, reason);
    };
    const authTimer = setTimeout(() => {
      this.log.warn({ ms: this.connectTimeoutMs }, 'esl connect/auth timed out');
      socket.destroy();
      lose('connect timeout');
    }, this.connectTimeoutMs);
    conn.on('error', (err: unknown) =>
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'esl connection error'),
    );
    conn.on('esl::connect', () => this.guardParser(conn));
    conn.on('esl::event::auth::fail', () => {
      this.log.error(
        'esl authentication failed: the switch refused the password (check the configured ESL password)',
      );
      socket.destroy();
    });
    conn.on('esl::event::disconnect::notice', (ev: ModeslEvent) =>
      this.log.info({ notice: ev.getBody().split('\n')[0] }, 'switch sent a disconnect notice'),
    );
    conn.on('esl::event::**', (ev: ModeslEvent, headers: Record<string, unknown> | undefined) =>
      this.onModeslEvent(ev, headers),
    );
    conn.once('esl::ready', () => {
      clearTimeout(authTimer);
      void this.onReady(conn);
    });
    socket.on('close', () => lose('socket closed'));
    socket.on('error', (err) => lose(err.message));
  }

  /**
   * Adjusts modesl's parser: header decoding that logs and survives bad % escapes (and
   * skips decoding when there is no escape); the
   * end of a header block found by Buffer.indexOf, not a byte loop from the buffer's
   * start; and `text/event-json` frames (every switch event, as subscribed) decoded here,
   * straight into an EslEvent (lazily: JsonEvent), without modesl's Event object (which
   * looks every header up by a linear scan as it adds it) and its wildcard emit. Other
   * frames (replies, auth, notices, plain/xml events, bad JSON) take modesl's own path.
   */
  private guardParser(conn: Connection): void {
    const parser = conn.parser;
    if (parser === undefined) return;
    parser._indexOfHeaderEnd = () => parser.buffer.indexOf('\n\n');
    const parseEvent = parser._parseEvent.bind(parser);
    parser._parseEvent = (headers, body) => {
      if (headers['Content-Type'] !== 'text/event-json' || body === undefined)
        return parseEvent(headers, body);
      const lazy = lazyJsonEvent(body, this.log);
      if (lazy !== undefined) return this.onEvent(lazy);
      let data: unknown;
      try {
        data = JSON.parse(body);
      } catch {
        return parseEvent(headers, body); // modesl reports it ('error', logged) and the frame is dropped
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return parseEvent(headers, body);
      const fields = eventFields(data as Record<string, unknown>);
      this.onSwitchEvent('text/event-json', fields.headers, fields.body);
    };
    const original = parser._parseHeaderText.bind(parser);
    parser._parseHeaderText = (text: string) => {
      // a frame's own headers (Content-Type, Content-Length, Reply-Text) rarely have a %
      // escape: then nothing to decode, and modesl's split/reduce/decodeURIComponent is skipped
      if (!text.includes('%')) return plainHeaders(text);
      try {
        return original(text);
      } catch (err) {
        this.log.warn(
          { err: err instanceof Error ? err.message : String(err), sample: text.slice(0, 200) },
          'malformed header value from the switch; decoded leniently',
        );
        const out: Record<string, string | number> = {};
        for (const line of text.split('\n')) {
          const [key = '', ...rest] = line.split(': ');
          const value = safeUrlDecode(rest.join(': '));
          out[key] = key === 'Content-Length' ? parseInt(value, 10) : value;
        }
        return out;
      }
    };
  }

  private async onReady(conn: Connection): Promise<void> {
    try {
      if (this.subscriptions.size > 0)
        await this.sendRecv(
          conn,
          `event json ${[...this.subscriptions, 'BACKGROUND_JOB', 'CHANNEL_EXECUTE_COMPLETE'].join(' ')}`,
          undefined,
          'resubscribe',
        );
      for (const [h, v] of this.filters)
        await this.sendRecv(conn, `filter ${h} ${v}`, undefined, 're-filter');
    } catch (err) {
      this.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'could not restore subscriptions after connecting',
      );
    }
    if (this.conn !== conn || this.stopped) return;
    this.up = true;
    const attempt = this.attempt;
    this.attempt = 0;
    this.log.info({ attempt }, 'esl connection up');
    this.firstUp?.resolve();
    this.firstUp = undefined;
    this.emit('up', { attempt });
  }

  private onLost(conn: Connection, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    conn.removeAllListeners();
    conn.on('error', () => undefined);
    conn.socket?.destroy();
    const wasUp = this.up;
    this.up = false;
    this.failPending(reason);
    if (wasUp) {
      this.log.warn({ reason }, 'esl connection down');
      this.emit('down', { reason });
    }
    if (this.stopped) return;
    // this.attempt counts connects (1 = the first): the first retry is backoff attempt 0.
    const delay = backoffDelay(this.attempt - 1, this.backoff);
    this.log.debug({ reason, attempt: this.attempt, delay_ms: delay }, 'esl reconnect scheduled');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Fault injection: drops the socket now, as a network failure would ('down' follows,
   * then the usual reconnect with backoff). False when there was no connection.
   */
  drop(reason = 'dropped on purpose'): boolean {
    const conn = this.conn;
    if (conn === undefined) return false;
    this.log.warn({ reason }, 'esl: dropping the event socket (fault injection)');
    this.onLost(conn, reason);
    return true;
  }

  private failPending(reason: string): void {
    const all = [...this.pending];
    this.executions.clear();
    this.executingOn.clear();
    this.extensions.clear();
    this.jobs.clear();
    for (const p of all) p.reject(new EslDisconnectedError(this.target, p.what, reason));
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.firstUp?.reject(new Error(`EslConnection to ${this.target} closed before it came up`));
    this.firstUp = undefined;
    const conn = this.conn;
    if (conn === undefined) return;
    const socket = conn.socket;
    const closed =
      socket === null || socket.destroyed
        ? Promise.resolve()
        : new Promise<void>((r) => socket.once('close', () => r()));
    conn.send('exit');
    socket?.end();
    setTimeout(() => socket?.destroy(), 1000).unref();
    await closed;
  }

  // ---- events ------------------------------------------------------------------------

  private onModeslEvent(ev: ModeslEvent, frameHeaders: Record<string, unknown> | undefined): void {
    const type = frameHeaders?.['Content-Type'];
    if (typeof type !== 'string' || !type.startsWith('text/event-')) return;
    const headers: Record<string, string> = {};
    for (const h of ev.headers) headers[h.name] = String(h.value);
    this.onSwitchEvent(type, headers, ev.getBody() ?? '');
  }

  /** One switch event (`type`: the frame's Content-Type), its headers decoded. */
  private onSwitchEvent(type: string, headers: Record<string, string>, body: string): void {
    const name = headers['Event-Name'];
    if (name === undefined) {
      this.log.warn({ type }, 'event frame without Event-Name dropped');
      return;
    }
    this.onEvent({ name, subclass: headers['Event-Subclass'], uuid: headers['Unique-ID'], headers, body });
  }

  /** One switch event: the request it completes, if any, then the 'event' listeners. */
  private onEvent(event: EslEvent): void {
    const name = event.name;
    try {
      if (name === 'CHANNEL_EXECUTE_COMPLETE') {
        const done = this.executions.get(eventHeader(event, 'Application-UUID') ?? '');
        if (done !== undefined) done(event);
        else if (this.extensions.size > 0) this.extensionStepDone(event);
      } else if (name === 'CHANNEL_DESTROY' && event.uuid !== undefined)
        for (const gone of [...(this.executingOn.get(event.uuid)?.values() ?? [])]) gone();
      else if (name === 'BACKGROUND_JOB') this.jobs.get(eventHeader(event, 'Job-UUID') ?? '')?.(event);
      this.emit('event', event);
    } catch (err) {
      this.log.error({ err, event: name }, 'event listener threw');
    }
  }

  /** A completion that may be the last application of an xferext extension. */
  private extensionStepDone(event: EslEvent): void {
    let app: string | undefined;
    let arg: string | undefined;
    for (const x of this.extensions.values()) {
      if (x.uuid !== event.uuid) continue;
      app ??= eventHeader(event, 'Application');
      arg ??= eventHeader(event, 'Application-Data') ?? '';
      if (x.app === app && x.arg === arg) return x.done(event);
    }
  }

  // ---- requests ----------------------------------------------------------------------

  /** Runs fn with a pending entry that rejects on disconnect and (optionally) on timeout. */
  private track<T>(
    what: string,
    timeoutMs: number | undefined,
    fn: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const entry: Pending = { what, reject: (e) => settle(() => reject(e)) };
      const settle = (f: () => void): void => {
        if (!this.pending.delete(entry)) return;
        clearTimeout(timer);
        f();
      };
      this.pending.add(entry);
      if (timeoutMs !== undefined && timeoutMs > 0)
        timer = setTimeout(() => entry.reject(new EslTimeoutError(what, timeoutMs)), timeoutMs);
      fn((v) => settle(() => resolve(v)), entry.reject);
    });
  }

  private live(what: string): Connection {
    if (!this.up || this.conn === undefined) throw new EslNotConnectedError(this.target, what);
    return this.conn;
  }

  private sendRecv(
    conn: Connection,
    line: string,
    headers: Headers | undefined,
    what: string,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<string> {
    return this.track<string>(what, timeoutMs, (resolve, reject) => {
      corked(conn, () =>
        conn.sendRecv(line, headers, (ev) => {
          const reply = ev.getHeader('Reply-Text') ?? '';
          if (reply.startsWith('-ERR')) reject(new EslCommandError(what, reply));
          else resolve(reply);
        }),
      );
    });
  }

  /** Any command with a command/reply answer; resolves with its Reply-Text. */
  async command(line: string, headers?: Headers): Promise<string> {
    return this.sendRecv(this.live(line), line, headers, line);
  }

  async api(cmd: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const what = `api ${cmd}`;
    const conn = this.live(what);
    return this.track<string>(what, opts.timeoutMs ?? this.requestTimeoutMs, (resolve, reject) => {
      corked(conn, () =>
        conn.api(cmd, '', (ev) => {
          const body = ev.getBody() ?? '';
          if (body.startsWith('-ERR')) reject(new EslCommandError(what, body));
          else resolve(body);
        }),
      );
    });
  }

  async bgapi(cmd: string, opts: { jobUuid?: string; timeoutMs?: number } = {}): Promise<string> {
    const what = `bgapi ${cmd}`;
    const conn = this.live(what);
    const jobUuid = opts.jobUuid ?? randomUUID();
    const filtered = this.filters.length > 0;
    if (filtered) await this.sendRecv(conn, `filter Job-UUID ${jobUuid}`, undefined, what);
    const result = this.track<string>(what, opts.timeoutMs ?? this.requestTimeoutMs, (resolve, reject) => {
      this.jobs.set(jobUuid, (ev) => {
        this.jobs.delete(jobUuid);
        if (ev.body.startsWith('-ERR')) reject(new EslCommandError(what, ev.body));
        else resolve(ev.body);
      });
      this.sendRecv(conn, `bgapi ${cmd}`, { 'Job-UUID': jobUuid }, what).catch(reject);
    });
    return result.finally(() => {
      this.jobs.delete(jobUuid);
      if (filtered && this.up && this.conn === conn)
        this.sendRecv(conn, `filter delete Job-UUID ${jobUuid}`, undefined, what).catch(() => undefined);
    });
  }

  async execute(
    uuid: string,
    app: string,
    arg = '',
    opts: { eventLock?: boolean; loops?: number; timeoutMs?: number } = {},
  ): Promise<EslEvent> {
    const what = `execute ${app} on ${uuid}`;
    const conn = this.live(what);
    const appUuid = randomUUID();
    const headers: Headers = {
      'call-command': 'execute',
      'execute-app-name': app,
      'execute-app-arg': arg,
      'Event-UUID': appUuid,
    };
    if (opts.eventLock === true) headers['event-lock'] = 'true';
    if (opts.loops !== undefined) headers.loops = opts.loops;
    // a child logger per execute costs (pino's bindings, redaction): only when it will log
    if (this.log.isLevelEnabled('debug')) this.log.debug({ call_id: uuid, app, arg }, 'execute');
    return this.sendTracked(conn, uuid, appUuid, headers, what, opts.timeoutMs, {
      watch: (resolve) => this.executions.set(appUuid, resolve),
      unwatch: () => this.executions.delete(appUuid),
    });
  }

  /**
   * Transfers the channel into an extension of `steps` (sendmsg `call-command: xferext`,
   * one `application: <app> <arg>` header each, in order: Kazoo's ecallmgr_util:send_cmd
   * "xferext"). The switch names the applications' Application-UUIDs itself, so this
   * resolves with the CHANNEL_EXECUTE_COMPLETE on `uuid` of the last step's application
   * and data; rejects as execute() does (EslCommandError, EslChannelGoneError at the
   * channel's CHANNEL_DESTROY: an extension abandoned at hangup). A step with a line
   * break cannot be sent: rejects with an Error.
   */
  async xferext(
    uuid: string,
    steps: ReadonlyArray<readonly [string, string]>,
    opts: { timeoutMs?: number } = {},
  ): Promise<EslEvent> {
    const what = `xferext ${steps.map(([app]) => app).join(', ')} on ${uuid}`;
    const last = steps[steps.length - 1];
    if (last === undefined) throw new Error(`${what}: no application`);
    const lines = steps.map(([app, arg]) => (arg === '' ? app : `${app} ${arg}`));
    if (lines.some((l) => /[\r\n]/.test(l))) throw new Error(`${what}: an application has a line break`);
    const conn = this.live(what);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ call_id: uuid, apps: lines }, 'xferext');
    // modesl writes one line per key: the repeated `application` header goes as one value
    // holding the line breaks between them.
    const headers: Headers = { 'call-command': 'xferext', application: lines.join('\napplication: ') };
    const key = `xferext:${randomUUID()}`;
    return this.sendTracked(conn, uuid, key, headers, what, opts.timeoutMs, {
      watch: (resolve) => this.extensions.set(key, { uuid, app: last[0], arg: last[1], done: resolve }),
      unwatch: () => this.extensions.delete(key),
    });
  }

  /**
   * Sends a `sendmsg` to `uuid` and resolves with the completion `watch` is handed (the
   * caller files it where its event arrives; `unwatch` removes it). Rejects with
   * EslChannelGoneError when the channel's CHANNEL_DESTROY comes first (executingOn, under
   * `key`), with the send's error, or at the timeout; every way out forgets both entries.
   */
  private sendTracked(
    conn: Connection,
    uuid: string,
    key: string,
    headers: Headers,
    what: string,
    timeoutMs: number | undefined,
    w: { watch: (resolve: (ev: EslEvent) => void) => void; unwatch: () => void },
  ): Promise<EslEvent> {
    const onChannel = this.executingOn.get(uuid) ?? new Map<string, () => void>();
    this.executingOn.set(uuid, onChannel);
    const forget = (): void => {
      w.unwatch();
      onChannel.delete(key);
      if (onChannel.size === 0 && this.executingOn.get(uuid) === onChannel) this.executingOn.delete(uuid);
    };
    return this.track<EslEvent>(what, timeoutMs, (resolve, reject) => {
      w.watch((ev) => {
        forget();
        resolve(ev);
      });
      onChannel.set(key, () => {
        forget();
        reject(new EslChannelGoneError(what, uuid));
      });
      this.sendRecv(conn, `sendmsg ${uuid}`, headers, what).catch((err: Error) => {
        forget();
        reject(err);
      });
    }).finally(forget);
  }

  async hangup(uuid: string, cause = 'NORMAL_CLEARING'): Promise<void> {
    const what = `hangup ${uuid}`;
    await this.sendRecv(
      this.live(what),
      `sendmsg ${uuid}`,
      { 'call-command': 'hangup', 'hangup-cause': cause },
      what,
    );
  }

  /** Adds event names to the subscription (json); kept and re-applied after a reconnect. */
  async subscribe(events: readonly string[]): Promise<void> {
    for (const e of events) this.subscriptions.add(e);
    const what = `event json ${events.join(' ')}`;
    await this.sendRecv(
      this.live(what),
      `event json ${[...this.subscriptions, 'BACKGROUND_JOB', 'CHANNEL_EXECUTE_COMPLETE'].join(' ')}`,
      undefined,
      what,
    );
  }

  async filter(header: string, value: string): Promise<void> {
    const what = `filter ${header} ${value}`;
    await this.sendRecv(this.live(what), what, undefined, what);
    this.filters.push([header, value]);
  }

  async filterDelete(header: string, value?: string): Promise<void> {
    const what = `filter delete ${header}${value === undefined ? '' : ` ${value}`}`;
    await this.sendRecv(this.live(what), what, undefined, what);
    for (let i = this.filters.length - 1; i >= 0; i--) {
      const [h, v] = this.filters[i] ?? ['', ''];
      if (header === 'all' || (h === header && (value === undefined || v === value)))
        this.filters.splice(i, 1);
    }
  }
}
