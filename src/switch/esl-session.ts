/**
 * One inbound event-socket connection, served as mod_event_socket serves it.
 *
 * Contract
 * - On connect: `Content-Type: auth/request`. Until `auth <password>` (or `userauth
 *   user@domain:password`) succeeds every other command gets `-ERR command not found`; a
 *   wrong password gets `-ERR invalid`, the disconnect notice and the socket closes.
 * - Commands are handled strictly one at a time in arrival order; replies go out in that
 *   order. `api` runs inline (later commands wait for it); `bgapi` replies
 *   `+OK Job-UUID: <id>` at once (honouring a client Job-UUID header) and fires
 *   BACKGROUND_JOB (Job-UUID, Job-Command, Job-Command-Arg, body = output) later.
 * - Subscriptions: `event plain|json|xml <names|ALL> [CUSTOM subclass...]` (additive),
 *   `nixevent`, `noevents`; `filter <header> <value>` (filter-in: once any filter exists an
 *   event passes only if one matches; `/regex/` values), `filter delete <h> [v]|all`;
 *   `myevents <uuid> [format]` takes that channel's events only and makes the connection
 *   control it: at its CHANNEL_HANGUP the connection gets a disconnect notice
 *   (Controlled-Session-UUID, Content-Disposition: disconnect) and closes, unless `linger
 *   [secs]` was asked, in which case the notice says `linger` and the socket stays open
 *   for the final events (for secs, or until the client leaves).
 * - `sendmsg [<uuid>]` with call-command execute | hangup | xferext (an extension: one
 *   `application: <app> <arg>` header per application, in order; nomedia/unicast are
 *   accepted as no-ops); `sendevent <NAME>`; `log`/`nolog`; `exit` (`+OK bye`, notice,
 *   close); anything else `-ERR command not found`.
 * - Outbound mode (the switch dialled the application, see outbound-socket.ts): no auth;
 *   the connection controls its channel from the start; `connect` answers with the
 *   channel's CHANNEL_DATA as a command/reply (Socket-Mode, Control); `myevents [fmt]`,
 *   `getvar <name>`, `resume`, `linger`, and `sendmsg` without a uuid act on that channel.
 * - Malformed or oversized frames (a header block over 1 MiB, a body over maxFrameBytes,
 *   a bad Content-Length): a `-ERR` reply naming the problem, a log line, the disconnect
 *   notice and close. A peer leaving mid-frame is logged. Nothing here throws
 *   out of a socket callback.
 * - A reader that does not keep up (more than maxQueuedBytes unsent) loses events, as a
 *   FreeSWITCH listener whose queue is full does; after 500 lost events it is disconnected.
 * - Faults (SwitchFaults) are applied at the points documented there.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../kernel/log.ts';
import { EslParser, EslFrameError, type EslFrame } from './esl-parser.ts';
import {
  apiResponse,
  authRequest,
  commandReply,
  disconnectNotice,
  renderEvent,
  type EventFormat,
  type Header,
  type SwitchEvent,
} from './esl-wire.ts';
import { isEventName, MYEVENTS } from './event-names.ts';
import type { SwitchFaults } from './faults.ts';

/** Set when the switch dialled out to an application (the `socket` dialplan app). */
export interface OutboundOptions {
  /** The channel this connection controls. */
  uuid: string;
  /** The `connect` reply: CHANNEL_DATA headers plus Socket-Mode / Control. */
  connectReply(): Buffer;
}

export interface SendMsg {
  /** Header names lower-cased; the last of a repeated header wins. */
  headers: Map<string, string>;
  /** Every header in order, as sent (xferext repeats `application`); `headers` when absent. */
  list?: ReadonlyArray<readonly [string, string]>;
  body?: string;
}

/** What a session needs from the switch that owns it. */
export interface SessionHost {
  readonly password: string;
  readonly faults: SwitchFaults;
  readonly log: Logger;
  readonly maxFrameBytes: number;
  /** Bytes of unsent output a connection may have before its events are dropped. */
  readonly maxQueuedBytes: number;
  api(command: string, args: string): Promise<string>;
  newUuid(): string;
  hasChannel(uuid: string): boolean;
  getVar(uuid: string, name: string): string | undefined;
  sendmsg(uuid: string, msg: SendMsg): string;
  fireEvent(name: string, headers: Header[], body?: string): void;
  sessionClosed(session: EslSession, pendingBytes: number): void;
}

const FORMATS = new Set<EventFormat>(['plain', 'json', 'xml']);
/** Events a slow reader may lose before it is disconnected (mod_event_socket's MAX_MISSED). */
const MAX_LOST = 500;

export class EslSession {
  readonly id: number;
  authed = false;
  format: EventFormat = 'plain';
  private readonly events = new Set<string>();
  private readonly subclasses = new Set<string>();
  private all = false;
  private filters: Array<[string, string]> = [];
  private controlled: string | undefined;
  private onlyControlled = false;
  private linger: number | undefined;
  private closed = false;
  private readonly parser: EslParser;
  private readonly inbox: EslFrame[] = [];
  private busy = false;
  private eventTail: Promise<void> = Promise.resolve();
  private lostEvents = 0;
  private heldIn: Buffer[] = [];
  private heldOut: Buffer[] = [];
  private readonly log: Logger;

  constructor(
    private readonly socket: Socket,
    private readonly host: SessionHost,
    id: number,
    private readonly outbound?: OutboundOptions,
  ) {
    this.id = id;
    this.log = host.log.child({ esl_session: id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    this.parser = new EslParser({
      mode: 'command',
      maxHeaderBytes: Math.min(host.maxFrameBytes, 1024 * 1024),
      maxBodyBytes: host.maxFrameBytes,
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'esl socket error'));
    socket.on('close', () => this.onClose());
    if (outbound === undefined) {
      this.write(authRequest());
      return;
    }
    this.authed = true;
    this.controlled = outbound.uuid;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.host.faults.partitioned) {
      this.heldIn.push(chunk);
      return;
    }
    let frames: EslFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      const msg = err instanceof EslFrameError ? err.message : String(err);
      this.log.warn({ reason: msg }, 'bad frame from esl client; closing');
      this.write(commandReply(`-ERR ${msg}`));
      this.close();
      return;
    }
    this.inbox.push(...frames);
    void this.drain();
  }

  private onClose(): void {
    if (this.parser.buffered > 0)
      this.log.info({ bytes: this.parser.buffered }, 'esl client left in the middle of a command');
    this.closed = true;
    this.host.sessionClosed(this, this.parser.buffered);
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.inbox.length > 0 && !this.closed) {
        const frame = this.inbox.shift();
        if (frame !== undefined) await this.handle(frame);
      }
    } catch (err) {
      this.log.error({ err }, 'esl command failed');
    } finally {
      this.busy = false;
    }
  }

  private async reply(text: string, extra: Header[] = []): Promise<void> {
    await this.host.faults.beforeReply();
    this.write(commandReply(text, extra));
  }

  private async handle(frame: EslFrame): Promise<void> {
    const line = frame.command;
    const sp = line.indexOf(' ');
    const cmd = (sp === -1 ? line : line.slice(0, sp)).toLowerCase();
    const arg = sp === -1 ? '' : line.slice(sp + 1).trim();
    if (!this.authed) return this.handleAuth(cmd, arg);
    if (this.host.faults.isRefused(cmd, arg)) {
      this.log.info({ cmd }, 'command refused (fault injection)');
      if (cmd === 'api') return this.write(apiResponse(`-ERR ${this.host.faults.refuseText}\n`));
      return this.reply(`-ERR ${this.host.faults.refuseText}`);
    }
    switch (cmd) {
      case 'api': {
        const [name = '', ...rest] = arg.split(' ');
        const out = await this.host.api(name, rest.join(' '));
        await this.host.faults.beforeReply();
        return this.write(apiResponse(out));
      }
      case 'bgapi':
        return this.bgapi(arg, frame);
      case 'event':
        return this.subscribe(arg);
      case 'nixevent':
        for (const n of arg.split(/\s+/)) this.events.delete(n.toUpperCase());
        if (/\bALL\b/i.test(arg)) this.all = false;
        return this.reply('+OK events nixed');
      case 'noevents':
        this.events.clear();
        this.subclasses.clear();
        this.all = false;
        return this.reply('+OK no longer listening for events');
      case 'filter':
        return this.filter(arg);
      case 'myevents':
        return this.myevents(arg);
      case 'linger':
        if (this.controlled === undefined) return this.reply('-ERR not controlling a session');
        this.linger = arg === '' ? -1 : Number(arg);
        return this.reply(arg === '' ? '+OK will linger' : `+OK will linger ${this.linger} seconds`);
      case 'nolinger':
        if (this.controlled === undefined) return this.reply('-ERR not controlling a session');
        this.linger = undefined;
        return this.reply('+OK will not linger');
      case 'divert_events':
        return this.reply(arg === 'on' ? '+OK events diverted' : '+OK events not diverted');
      case 'sendmsg':
        return this.sendmsg(arg, frame);
      case 'sendevent':
        return this.sendevent(arg, frame);
      case 'connect':
        if (this.outbound === undefined) return this.reply('-ERR command not found');
        await this.host.faults.beforeReply();
        return this.write(this.outbound.connectReply());
      case 'getvar': {
        if (this.controlled === undefined) return this.reply('-ERR not controlling a session');
        return this.reply(this.host.getVar(this.controlled, arg) ?? '');
      }
      case 'resume':
        return this.reply(this.controlled === undefined ? '-ERR not controlling a session' : '+OK');
      case 'log':
        return this.reply(`+OK log level ${arg === '' ? 'debug' : arg} [${arg === '' ? 7 : arg}]`);
      case 'nolog':
        return this.reply('+OK no longer logging');
      case 'exit':
        await this.reply('+OK bye');
        return this.close();
      default:
        this.log.info({ cmd }, 'unknown esl command');
        return this.reply('-ERR command not found');
    }
  }

  private async handleAuth(cmd: string, arg: string): Promise<void> {
    if (cmd !== 'auth' && cmd !== 'userauth') return this.reply('-ERR command not found');
    const given = cmd === 'auth' ? arg : arg.slice(arg.indexOf(':') + 1);
    if (given === this.host.password) {
      this.authed = true;
      this.log.debug('esl client authenticated');
      return this.reply('+OK accepted');
    }
    this.log.warn('esl client gave a wrong password');
    await this.reply('-ERR invalid');
    this.close();
  }

  private async bgapi(arg: string, frame: EslFrame): Promise<void> {
    const jobUuid = frame.headers.find(([k]) => k.toLowerCase() === 'job-uuid')?.[1] ?? this.host.newUuid();
    await this.reply(`+OK Job-UUID: ${jobUuid}`, [['Job-UUID', jobUuid]]);
    const [name = '', ...rest] = arg.split(' ');
    const args = rest.join(' ');
    void this.host.api(name, args).then((out) =>
      this.host.fireEvent(
        'BACKGROUND_JOB',
        [
          ['Job-UUID', jobUuid],
          ['Job-Command', name],
          ['Job-Command-Arg', args],
        ],
        out,
      ),
    );
  }

  private subscribe(arg: string): Promise<void> {
    const words = arg.split(/\s+/).filter((w) => w !== '');
    let format: EventFormat = 'plain';
    if (words[0] !== undefined && FORMATS.has(words[0].toLowerCase() as EventFormat))
      format = words.shift()?.toLowerCase() as EventFormat;
    let custom = false;
    let any = false;
    for (const w of words) {
      const up = w.toUpperCase();
      if (custom && !isEventName(up)) {
        this.subclasses.add(w);
        any = true;
        continue;
      }
      if (!isEventName(up)) continue;
      any = true;
      if (up === 'ALL') this.all = true;
      else this.events.add(up);
      custom = up === 'CUSTOM';
    }
    if (!any) return this.reply('-ERR no keywords supplied');
    this.format = format;
    return this.reply(`+OK event listener enabled ${format}`);
  }

  private filter(arg: string): Promise<void> {
    const [h = '', ...rest] = arg.split(' ');
    const v = rest.join(' ');
    if (h.toLowerCase() === 'delete') {
      const [dh = '', ...dv] = v.split(' ');
      const dval = dv.join(' ');
      if (dh.toLowerCase() === 'all') this.filters = [];
      else this.filters = this.filters.filter(([fh, fv]) => !(fh === dh && (dval === '' || fv === dval)));
      return this.reply(`+OK filter deleted. [${dh}]=[${dval}]`);
    }
    if (h === '' || v === '') return this.reply('-ERR invalid syntax');
    this.filters.push([h, v]);
    return this.reply(`+OK filter added. [${h}]=[${v}]`);
  }

  private myevents(arg: string): Promise<void> {
    if (this.onlyControlled) return this.reply('-ERR aready enabled.');
    const words = arg.split(/\s+/).filter((w) => w !== '');
    if (this.outbound !== undefined) words.unshift(this.outbound.uuid);
    const [uuid = '', fmt] = words;
    if (!this.host.hasChannel(uuid)) return this.reply('-ERR invalid uuid');
    this.controlled = uuid;
    this.onlyControlled = true;
    if (fmt !== undefined && FORMATS.has(fmt as EventFormat)) this.format = fmt as EventFormat;
    for (const e of MYEVENTS) this.events.add(e);
    return this.reply('+OK Events Enabled');
  }

  private async sendmsg(arg: string, frame: EslFrame): Promise<void> {
    const uuid = arg !== '' ? arg : (this.controlled ?? '');
    const headers = new Map(frame.headers.map(([k, v]) => [k.toLowerCase(), v] as const));
    // The host answers `-ERR invalid session id [<uuid>]` for a channel it does not have.
    const text = this.host.sendmsg(uuid, { headers, list: frame.headers, body: frame.body });
    if (this.host.faults.eventsBeforeReply) await new Promise((r) => setImmediate(r));
    return this.reply(text);
  }

  private sendevent(arg: string, frame: EslFrame): Promise<void> {
    const name = (arg.split(/\s+/)[0] ?? '').toUpperCase();
    if (!isEventName(name) || name === 'ALL') return this.reply('-ERR invalid event');
    const eventUuid = this.host.newUuid();
    const headers = frame.headers.filter(([k]) => k.toLowerCase() !== 'content-length' && k !== 'Event-Name');
    this.host.fireEvent(name, [...headers, ['Event-UUID', eventUuid]], frame.body);
    return this.reply(`+OK ${eventUuid}`);
  }

  private wants(ev: SwitchEvent): boolean {
    if (!this.authed || this.closed) return false;
    if (this.onlyControlled && ev.uuid !== this.controlled) return false;
    if (!this.all && !this.events.has(ev.name)) {
      if (ev.name !== 'CUSTOM' || this.subclasses.size === 0) return false;
    }
    if (ev.name === 'CUSTOM' && !this.all && this.subclasses.size > 0) {
      const sub = ev.headers.find(([k]) => k === 'Event-Subclass')?.[1];
      if (sub === undefined || !this.subclasses.has(sub)) return false;
    }
    if (this.filters.length === 0) return true;
    return this.filters.some(([h, v]) => {
      const actual = ev.headers.find(([k]) => k === h)?.[1];
      if (actual === undefined) return false;
      return v.length > 2 && v.startsWith('/') && v.endsWith('/')
        ? new RegExp(v.slice(1, -1)).test(actual)
        : actual === v;
    });
  }

  /** Delivers an event if this session is subscribed to it. */
  offer(ev: SwitchEvent): void {
    if (this.wants(ev) && !this.host.faults.swallowEvents.has(ev.name) && !this.overflowing(ev)) {
      const frame = renderEvent(ev, this.format);
      const delay = this.host.faults.eventDelayMs;
      if (delay > 0)
        this.eventTail = this.eventTail.then(
          () => new Promise<void>((r) => setTimeout(() => (this.write(frame), r()), delay)),
        );
      else this.write(frame);
    }
    if (ev.name === 'CHANNEL_HANGUP' && ev.uuid !== undefined && ev.uuid === this.controlled)
      this.controlledHangup(ev.uuid);
  }

  /** A reader too slow for its events: drop them, and after MAX_LOST drop the reader. */
  private overflowing(ev: SwitchEvent): boolean {
    if (this.socket.writableLength <= this.host.maxQueuedBytes) return false;
    this.lostEvents++;
    if (this.lostEvents === 1)
      this.log.warn(
        { queued_bytes: this.socket.writableLength, event: ev.name },
        'esl client reads too slowly: its events are being dropped',
      );
    if (this.lostEvents >= MAX_LOST) {
      this.log.error({ lost_events: this.lostEvents }, 'esl client lost too many events; disconnecting it');
      this.closed = true;
      this.socket.destroy();
    }
    return true;
  }

  private controlledHangup(uuid: string): void {
    const base: Header[] = [['Controlled-Session-UUID', uuid]];
    if (this.linger === undefined) {
      setImmediate(() => this.close([...base, ['Content-Disposition', 'disconnect']]));
      return;
    }
    this.write(
      disconnectNotice(
        [...base, ['Content-Disposition', 'linger'], ['Linger-Time', String(this.linger)]],
        '',
      ),
    );
    if (this.linger > 0) setTimeout(() => this.close(), this.linger * 1000).unref();
  }

  write(buf: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.host.faults.partitioned) {
      this.heldOut.push(buf);
      return;
    }
    if (!this.host.faults.fragmentWrites) {
      this.socket.write(buf);
      return;
    }
    for (let i = 0; i < buf.length;) {
      const n = 1 + (i % 7);
      this.socket.write(buf.subarray(i, i + n));
      i += n;
    }
  }

  /** After a partition: delivers what was held, in order, both ways. */
  heal(): void {
    const out = this.heldOut;
    const inp = this.heldIn;
    this.heldOut = [];
    this.heldIn = [];
    for (const b of out) this.write(b);
    for (const c of inp) this.onData(c);
  }

  /** Sends the disconnect notice and closes (idempotent). */
  close(extra: Header[] = [], text?: string): void {
    if (this.closed) return;
    this.write(disconnectNotice(extra, text));
    this.closed = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Fault: the connection ends with no disconnect notice, as when the switch process dies
   *  (FIN; `reset` sends a TCP RST instead, as a crashed host or a firewall does). */
  drop(reset = false): void {
    this.closed = true;
    if (reset) {
      this.socket.resetAndDestroy();
      return;
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
