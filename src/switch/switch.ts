/**
 * Switch: the FreeSWITCH simulator. A TCP server speaking the inbound event socket,
 * the channels behind it, and the control API tests and demos drive it with.
 *
 * Contract
 * - `Switch.start(opts)` resolves once listening (port 0 = an ephemeral port, read it from
 *   `sw.port`); host defaults to 127.0.0.1, password to ClueCon. `close()` is idempotent:
 *   it sends every connection FreeSWITCH's shutdown notice, closes the server, and drops
 *   all channels and timers.
 * - Control API (in-process; `control-server.ts` exposes the same over HTTP):
 *   placeCall({from, to, ...}) -> uuid of a new inbound call, created and parked with the
 *   events of a real one (or, with `socket: 'host:port async full'`, handed to an
 *   application's outbound-socket server); pressDigits(uuid, digits); hangup(uuid, cause); answer(uuid)
 *   (the device answers a ringing leg, or the call is answered); reject(uuid, cause);
 *   registerEndpoint(user, behaviour) for bridge/originate targets; channel(uuid) /
 *   channels() snapshots; whenDestroyed(uuid); onEvent(listener) sees every event;
 *   raiseEvent(name, headers) fires a channel-less event; fireHeartbeat() / heartbeatMs;
 *   onSendmsg(listener) sees every sendmsg answered (uuid, call-command, reply).
 * - sendmsg `call-command: xferext` (what Kazoo's ecallmgr sends for a bridge): the
 *   `application: <app> <arg>` headers, in order, run on the channel one after the other,
 *   each with its CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE (a fresh Application-UUID
 *   each, as the dialplan's applications get); a channel that hangs up abandons the rest.
 *   FreeSWITCH transfers the channel into the extension (its park ends); here the
 *   applications run as sendmsg executes do, beside the park (README).
 * - Faults: `faults` (SwitchFaults: stall/delay replies, delay/swallow events, events
 *   before replies, refuse commands, fragmented writes); dropConnections({reset}) ends
 *   every socket with no notice (FIN, or RST); partition() holds all bytes both ways with
 *   sockets open until healed; killChannel(uuid) makes a channel vanish without events;
 *   restart({downMs}) drops sockets and channels, stops listening for downMs, and comes
 *   back on the same port with a new Core-UUID; injectRaw(bytes) writes bytes to every
 *   authenticated connection (malformed frames for client tests).
 * - authCalls: placeCall from a registered phone first fires a directory fetch and waits
 *   for its `fife::fetch_reply` (call-auth.ts); found -> the call with the user's variables,
 *   else the channel is hung up at once with CALL_REJECTED (403). The UUID is returned at once.
 * - Files: `files` is the switch's table of recorded files (files.ts: `record` makes them,
 *   `api http_put|kz_http_put <url> <file>` uploads them, http-media.ts); a restart
 *   empties it.
 * - Determinism: `seed` makes UUIDs reproducible, `clock` makes Event-Date-Timestamp a
 *   counter (see sim-clock.ts).
 * - The password is never logged.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createRootLogger, type Logger } from '../kernel/log.ts';
import { AppEngine } from './app-engine.ts';
import { createApi, type ApiRunner } from './api-commands.ts';
import type { SimMediaOptions } from './apps.ts';
import { CallAuth, FETCH_REPLY_SUBCLASS } from './call-auth.ts';
import { CallModel, type InboundCall } from './call-model.ts';
import type { ChannelSnapshot } from './channel.ts';
import { Endpoints, sipToCause, type Device, type DeviceBehaviour, type PhoneScript } from './endpoints.ts';
import { PhoneRegistrations } from './phone-registrations.ts';
import type { BusTransport } from '../bus/index.ts';
import { EslSession, type OutboundOptions, type SendMsg, type SessionHost } from './esl-session.ts';
import { SHUTDOWN_TEXT, type Header, type SwitchEvent } from './esl-wire.ts';
import { EventFactory } from './event-factory.ts';
import { SwitchFaults } from './faults.ts';
import { SwitchFiles, type SwitchFilesOptions } from './files.ts';
import { fileApi, fileApps } from './http-media.ts';
import { createSocketApp, type OutboundHost } from './outbound-socket.ts';
import { createSimClock, createSimIds, type SimIds } from './sim-clock.ts';

export interface SwitchOptions {
  port?: number;
  host?: string;
  password?: string;
  hostname?: string;
  seed?: number;
  clock?: { startMicros: number; stepMicros?: number };
  logger?: Logger;
  media?: Partial<SimMediaOptions>;
  /** Largest command frame accepted, in bytes (default 16 MiB, as mod_event_socket). */
  maxFrameBytes?: number;
  /** Unsent bytes a connection may have before its events are dropped (default 64 MiB). */
  maxQueuedBytes?: number;
  /** Fire HEARTBEAT events this often (FreeSWITCH: 20 s); off when absent or 0. */
  heartbeatMs?: number;
  /** A bus connection: phones that register publish reg_success on it, as Kamailio does. */
  bus?: BusTransport;
  /** Realm, Expires and Contact port of those registrations (default `fife.test`, 3600 s, 5060). */
  registration?: { realm?: string; expiresS?: number; contactPort?: number };
  /** Bounds of the recorded-file table (files.ts). */
  files?: SwitchFilesOptions;
  /** Longest wait for an HTTP answer of http_put / playback of a URL (default 10 s). */
  httpTimeoutMs?: number;
  /** Authenticate calls placed by registered phones with a directory fetch, as a sofia
   *  profile with `auth-calls` does (call-auth.ts); `timeoutMs` for the answer (default 5 s). */
  authCalls?: boolean | { timeoutMs?: number };
}

export type EventListener = (ev: SwitchEvent) => void;

export class Switch implements SessionHost, OutboundHost {
  readonly faults = new SwitchFaults();
  readonly endpoints = new Endpoints();
  /** Files recorded on this switch (path -> ms); gone at a restart. */
  readonly files: SwitchFiles;
  readonly log: Logger;
  readonly password: string;
  readonly host: string;
  readonly maxFrameBytes: number;
  readonly maxQueuedBytes: number;
  port: number;
  private readonly ids: SimIds;
  readonly events: EventFactory;
  private readonly model: CallModel;
  private readonly engine: AppEngine;
  private readonly api_: ApiRunner;
  private server: Server | undefined;
  private readonly sessions = new Set<EslSession>();
  private readonly listeners = new Set<EventListener>();
  private readonly closeListeners = new Set<(info: { id: number; pendingBytes: number }) => void>();
  private readonly sendmsgListeners = new Set<
    (m: { uuid: string; command: string; reply: string }) => void
  >();
  private nextSession = 1;
  private callsSinceStart = 0;
  private closed = false;
  private readonly startedMs = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Present when the switch has a bus: phone registrations published as reg_success. */
  readonly registrations: PhoneRegistrations | undefined;
  /** Present with `authCalls`: calls from registered phones wait for a directory fetch. */
  private readonly callAuth: CallAuth | undefined;
  private readonly realm: string;
  /** Bumped by restart(): an authentication that outlived its switch places nothing. */
  private generation = 0;

  private constructor(opts: SwitchOptions) {
    this.log = (opts.logger ?? createRootLogger({ node: 'switch-sim' })).child({ component: 'switch-sim' });
    this.password = opts.password ?? 'ClueCon';
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 8021;
    this.maxFrameBytes = opts.maxFrameBytes ?? 16 * 1024 * 1024;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.ids = createSimIds({ seed: opts.seed });
    this.registrations =
      opts.bus === undefined
        ? undefined
        : new PhoneRegistrations({
            bus: opts.bus,
            realm: opts.registration?.realm ?? 'fife.test',
            expiresS: opts.registration?.expiresS ?? 3600,
            contactHost: this.host,
            contactPort: opts.registration?.contactPort ?? 5060,
            logger: this.log,
          });
    this.realm = opts.registration?.realm ?? 'fife.test';
    this.callAuth =
      opts.authCalls === undefined || opts.authCalls === false
        ? undefined
        : new CallAuth({
            fire: (name, headers) => this.fireEvent(name, headers),
            newUuid: () => this.ids.uuid(),
            timeoutMs: (typeof opts.authCalls === 'object' ? opts.authCalls.timeoutMs : undefined) ?? 5000,
          });
    const clock = createSimClock(opts.clock ?? {});
    const hostname = opts.hostname ?? 'fife-switch-sim';
    this.events = new EventFactory({ coreUuid: this.ids.uuid(), hostname, ipv4: this.host, clock });
    this.model = new CallModel(this.events, (ev) => this.emit(ev), this.ids, this.endpoints);
    const media: SimMediaOptions = {
      playbackMs: opts.media?.playbackMs ?? 1000,
      recordMaxMs: opts.media?.recordMaxMs ?? 5000,
    };
    this.files = new SwitchFiles(this.log, opts.files);
    const http = { timeoutMs: opts.httpTimeoutMs ?? 10_000, log: this.log };
    this.engine = new AppEngine(
      this.model,
      this.ids,
      media,
      this.log,
      {
        socket: createSocketApp(this),
        ...fileApps(this.files, http),
      },
      this.faults.appDelayMs,
    );
    this.model.engine = this.engine;
    const fileCommands = fileApi(this.files, http);
    const coreApi = createApi({
      model: this.model,
      engine: this.engine,
      events: this.events,
      ids: this.ids,
      hostname,
      startedMs: this.startedMs,
      totalCalls: () => this.callsSinceStart,
    });
    this.api_ = (name, args) => {
      const key = name.toLowerCase();
      const fileCommand = Object.hasOwn(fileCommands, key) ? fileCommands[key] : undefined;
      return fileCommand === undefined ? coreApi(name, args) : fileCommand(args);
    };
  }

  static async start(opts: SwitchOptions = {}): Promise<Switch> {
    const sw = new Switch(opts);
    await sw.listen();
    if (opts.heartbeatMs !== undefined && opts.heartbeatMs > 0)
      sw.heartbeat = setInterval(() => sw.fireHeartbeat(), opts.heartbeatMs).unref();
    sw.log.debug({ host: sw.host, port: sw.port, core_uuid: sw.coreUuid }, 'switch simulator listening');
    return sw;
  }

  get coreUuid(): string {
    return this.events.coreUuid;
  }

  private listen(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'esl server error'));
        const addr = server.address();
        if (addr !== null && typeof addr === 'object') this.port = addr.port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.closed) return void socket.destroy();
    const session = new EslSession(socket, this, this.nextSession++);
    this.sessions.add(session);
    this.log.debug({ esl_session: session.id }, 'esl client connected');
  }

  serveOutbound(socket: Socket, opts: OutboundOptions): void {
    if (this.closed) return void socket.destroy();
    const session = new EslSession(socket, this, this.nextSession++, opts);
    this.sessions.add(session);
    this.log.child({ call_id: opts.uuid }).debug({ esl_session: session.id }, 'outbound esl connection made');
  }

  getVar(uuid: string, name: string): string | undefined {
    return this.model.channels.get(uuid)?.variables.get(name);
  }

  // ---- SessionHost -------------------------------------------------------------------

  api(command: string, args: string): Promise<string> {
    return this.api_(command, args).catch((err: unknown) => {
      this.log.error({ err, command }, 'api command failed');
      return `-ERR ${err instanceof Error ? err.message : String(err)}\n`;
    });
  }

  newUuid(): string {
    return this.ids.uuid();
  }

  hasChannel(uuid: string): boolean {
    return this.model.channels.has(uuid);
  }

  sendmsg(uuid: string, msg: SendMsg): string {
    const reply = this.sendmsg_(uuid, msg);
    for (const l of this.sendmsgListeners) l({ uuid, command: msg.headers.get('call-command') ?? '', reply });
    return reply;
  }

  /** Called for every sendmsg the switch answers (an ESL session's, on any channel). */
  onSendmsg(listener: (m: { uuid: string; command: string; reply: string }) => void): () => void {
    this.sendmsgListeners.add(listener);
    return () => this.sendmsgListeners.delete(listener);
  }

  private sendmsg_(uuid: string, msg: SendMsg): string {
    const ch = this.model.channels.get(uuid);
    if (ch === undefined) return `-ERR invalid session id [${uuid}]`;
    const h = msg.headers;
    const command = (h.get('call-command') ?? '').toLowerCase();
    if (command === 'xferext') {
      // switch_ivr_parse_event: each `application` header is `<app> <arg>`, in order.
      const reqs = (msg.list ?? [...h])
        .filter(([k]) => k.toLowerCase() === 'application')
        .map(([, v]) => {
          const at = v.indexOf(' ');
          const [app, arg] = at < 0 ? [v, ''] : [v.slice(0, at), v.slice(at + 1)];
          return { app, arg, appUuid: this.ids.uuid(), eventLock: false, loops: 1 };
        })
        .filter((r) => r.app !== '');
      if (reqs.length === 0) return '-ERR no application in xferext';
      setImmediate(() => this.engine.runExtension(ch, reqs));
      return '+OK';
    }
    if (command === 'execute') {
      const app = h.get('execute-app-name');
      if (app === undefined || app === '') return '-ERR no execute-app-name';
      const arg =
        h.get('execute-app-arg') ?? (h.get('content-type') === 'text/plain' ? (msg.body ?? '') : '');
      const req = {
        app,
        arg,
        appUuid: h.get('event-uuid') ?? this.ids.uuid(),
        eventLock: h.get('event-lock') === 'true',
        loops: Math.max(1, Number(h.get('loops') ?? 1) || 1),
      };
      setImmediate(() => this.engine.execute(ch, req));
      return '+OK';
    }
    if (command === 'hangup') {
      const cause = (h.get('hangup-cause') ?? 'NORMAL_CLEARING').toUpperCase();
      setImmediate(() => this.model.hangup(ch, cause));
      return '+OK';
    }
    if (['nomedia', 'unicast'].includes(command)) return '+OK';
    return '-ERR invalid command';
  }

  fireEvent(name: string, headers: Header[], body?: string): void {
    const sub = headers.find(([k]) => k === 'Event-Subclass')?.[1];
    if (name === 'CUSTOM' && sub === FETCH_REPLY_SUBCLASS) this.callAuth?.onReply(headers);
    this.emit(
      this.events.make(name, { extra: headers.filter(([k]) => k !== 'Event-Subclass'), body, subclass: sub }),
    );
  }

  sessionClosed(session: EslSession, pendingBytes: number): void {
    this.sessions.delete(session);
    this.log.debug({ esl_session: session.id }, 'esl client disconnected');
    for (const l of this.closeListeners) l({ id: session.id, pendingBytes });
  }

  /** Called whenever an ESL connection ends; pendingBytes = bytes of an unfinished command. */
  onConnectionClosed(listener: (info: { id: number; pendingBytes: number }) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private emit(ev: SwitchEvent): void {
    for (const s of this.sessions) s.offer(ev);
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.log.error({ err }, 'event listener threw');
      }
    }
  }

  // ---- control API -------------------------------------------------------------------

  /** A new inbound call from `from` to `to`, created and parked; returns its Unique-ID. */
  placeCall(call: InboundCall & { caller?: PhoneScript; callee?: PhoneScript }): string {
    this.callsSinceStart++;
    if (call.callee !== undefined && !this.endpoints.scriptNext(call.to, call.callee))
      this.log.warn({ to: call.to }, 'callee script ignored: no phone registered as that user');
    const phone = this.endpoints.get(call.from);
    const script =
      phone === undefined && call.caller === undefined ? undefined : { ...phone?.behaviour, ...call.caller };
    if (this.callAuth !== undefined && phone !== undefined) {
      const uuid = call.uuid ?? this.ids.uuid();
      void this.authenticateThenPlace(this.callAuth, { ...call, uuid }, script);
      return uuid;
    }
    const ch = this.model.inbound(call, script);
    this.log.child({ call_id: ch.uuid }).debug({ from: call.from, to: call.to }, 'inbound call placed');
    return ch.uuid;
  }

  /** A registered phone's INVITE on an auth-calls profile: the directory fetch first, then
   *  the call with the user's variables, or refused (403, CALL_REJECTED) as sofia does. */
  private async authenticateThenPlace(
    auth: CallAuth,
    call: InboundCall & { uuid: string },
    script: DeviceBehaviour | undefined,
  ): Promise<void> {
    const realm = call.variables?.sip_from_host ?? this.realm;
    const log = this.log.child({ call_id: call.uuid });
    const generation = this.generation;
    const r = await auth.authenticate({
      user: call.from,
      realm,
      callId: `${call.uuid}@127.0.0.1`,
      toUser: call.to,
    });
    if (this.closed || generation !== this.generation) return;
    if (r.found) {
      this.model.inbound(
        {
          ...call,
          variables: {
            ...call.variables,
            ...r.variables,
            sip_authorized: 'true',
            sip_auth_username: call.from,
            sip_auth_realm: realm,
            user_name: call.from,
            domain_name: realm,
          },
        },
        script,
      );
      log.debug({ from: call.from, to: call.to, realm }, 'inbound call authenticated and placed');
      return;
    }
    log.warn(
      { from: call.from, realm, why: r.why },
      'inbound call refused: the caller was not authenticated',
    );
    const ch = this.model.inbound({
      ...call,
      noPark: true,
      variables: {
        ...call.variables,
        sip_term_status: '403',
        proto_specific_hangup_cause: 'sip:403',
        sip_hangup_disposition: 'send_refuse',
      },
    });
    this.model.hangup(ch, 'CALL_REJECTED');
  }

  pressDigits(uuid: string, digits: string, opts: { durationMs?: number } = {}): boolean {
    const ch = this.model.channels.get(uuid);
    if (ch === undefined || ch.isHungUp) return false;
    for (const d of digits) this.engine.dtmf(ch, d, opts.durationMs ?? 100);
    return true;
  }

  hangup(uuid: string, cause = 'NORMAL_CLEARING'): boolean {
    const ch = this.model.channels.get(uuid);
    if (ch === undefined || ch.isHungUp) return false;
    this.model.hangup(ch, cause);
    return true;
  }

  /** The device answers: a ringing outbound leg is answered; any other channel is answered as `uuid_answer`. */
  answer(uuid: string): boolean {
    if (this.model.answerRinging(uuid)) return true;
    const ch = this.model.channels.get(uuid);
    if (ch === undefined || ch.isHungUp) return false;
    this.model.answer(ch);
    return true;
  }

  /** A ringing leg refuses: with `sipCode` as that SIP answer (cause mapped as mod_sofia does
   *  unless given, the code in sip_term_status), else with `cause`. */
  reject(uuid: string, cause?: string, sipCode?: number): boolean {
    if (sipCode !== undefined) return this.model.refuseRinging(uuid, sipCode, cause ?? sipToCause(sipCode));
    return this.model.rejectRinging(uuid, cause ?? 'CALL_REJECTED');
  }

  /** A phone registers (again: its script is replaced); with a bus, reg_success is published. */
  registerEndpoint(user: string, behaviour: DeviceBehaviour = {}): Device {
    const device = this.endpoints.register(user, behaviour);
    this.registrations?.register(user);
    this.log.debug({ user, mode: device.behaviour.mode }, 'phone registered');
    return device;
  }

  /** The next call to a registered phone follows `script` instead of its own. False if not registered. */
  scriptNextCall(user: string, script: PhoneScript): boolean {
    return this.endpoints.scriptNext(user, script);
  }

  unregisterEndpoint(user: string): boolean {
    const had = this.endpoints.unregister(user);
    if (had) this.registrations?.unregister(user);
    return had;
  }

  channel(uuid: string): ChannelSnapshot | undefined {
    return this.model.channels.get(uuid)?.snapshot();
  }

  channels(): ChannelSnapshot[] {
    return [...this.model.channels.values()].map((c) => c.snapshot());
  }

  get channelCount(): number {
    return this.model.channels.size;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  whenDestroyed(uuid: string): Promise<void> {
    return this.model.whenDestroyed(uuid);
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fires an event with no channel (HEARTBEAT, CUSTOM, ...). */
  raiseEvent(name: string, headers: Header[] = [], body?: string): void {
    this.fireEvent(name, headers, body);
  }

  /** Fires one HEARTBEAT event (as FreeSWITCH does every 20 s). */
  fireHeartbeat(): void {
    const upMs = Date.now() - this.startedMs;
    this.fireEvent('HEARTBEAT', [
      ['Event-Info', 'System Ready'],
      [
        'Up-Time',
        `0 years, 0 days, ${Math.floor(upMs / 3_600_000)} hours, ${Math.floor(upMs / 60_000) % 60} minutes, ${Math.floor(upMs / 1000) % 60} seconds, ${upMs % 1000} milliseconds, 0 microseconds`,
      ],
      ['FreeSWITCH-Version', '1.10.12-release~64bit'],
      ['Uptime-msec', String(upMs)],
      ['Session-Count', String(this.model.channels.size)],
      ['Max-Sessions', '1000'],
      ['Session-Per-Sec', '30'],
      ['Session-Since-Startup', String(this.callsSinceStart)],
      ['Idle-CPU', '100.000000'],
    ]);
  }

  // ---- faults ------------------------------------------------------------------------

  /** Ends every ESL connection without a notice (FIN), or with a TCP RST when `reset`. */
  dropConnections(opts: { reset?: boolean } = {}): number {
    const n = this.sessions.size;
    for (const s of [...this.sessions]) {
      s.drop(opts.reset === true);
      this.sessions.delete(s);
    }
    this.log.warn({ connections: n, reset: opts.reset === true }, 'fault: dropped every esl connection');
    return n;
  }

  /** Fault: a network partition. Bytes are held both ways (sockets stay open) until the
   *  returned heal function (or heal()) delivers them, in order. */
  partition(): () => void {
    this.faults.partitioned = true;
    this.log.warn({ connections: this.sessions.size }, 'fault: network partition');
    return () => this.heal();
  }

  heal(): void {
    if (!this.faults.partitioned) return;
    this.faults.partitioned = false;
    for (const s of [...this.sessions]) s.heal();
    this.log.warn('fault: partition healed');
  }

  killChannel(uuid: string): boolean {
    const ok = this.model.kill(uuid);
    if (ok) this.log.warn({ call_id: uuid }, 'fault: channel killed without events');
    return ok;
  }

  injectRaw(bytes: string | Buffer): number {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let n = 0;
    for (const s of this.sessions) {
      if (s.authed) {
        s.write(buf);
        n++;
      }
    }
    return n;
  }

  async restart(opts: { downMs?: number } = {}): Promise<void> {
    this.generation++;
    this.callAuth?.cancelAll('switch restarted');
    this.dropConnections();
    for (const uuid of [...this.model.channels.keys()]) this.model.kill(uuid);
    this.files.clear();
    await this.closeServer();
    if (opts.downMs !== undefined && opts.downMs > 0) await new Promise((r) => setTimeout(r, opts.downMs));
    this.events.restart(this.ids.uuid());
    await this.listen();
    this.log.warn(
      { core_uuid: this.coreUuid, port: this.port },
      'fault: switch restarted with a new Core-UUID',
    );
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.callAuth?.cancelAll('switch closed');
    clearInterval(this.heartbeat);
    this.registrations?.close();
    this.faults.reset();
    for (const s of [...this.sessions]) s.close([], SHUTDOWN_TEXT);
    for (const uuid of [...this.model.channels.keys()]) this.model.kill(uuid);
    this.listeners.clear();
    await this.closeServer();
    this.closeListeners.clear();
    this.log.info('switch simulator stopped');
  }
}
