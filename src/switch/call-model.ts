/**
 * The call model: creates channels and moves them through FreeSWITCH's life cycle,
 * emitting the events a real switch emits, in its order.
 *
 * Contract (event sequences)
 * - inbound(): CHANNEL_CREATE (CS_INIT, ringing), CHANNEL_STATE CS_INIT, CHANNEL_CALLSTATE
 *   RINGING, CHANNEL_STATE CS_ROUTING, CHANNEL_STATE CS_EXECUTE, then the dialplan runs
 *   `park` through the app engine: CHANNEL_EXECUTE (park), CHANNEL_PARK (or, with
 *   `socket`, the outbound socket application instead).
 * - answer(): CHANNEL_ANSWER (Answer-State answered) then CHANNEL_CALLSTATE ACTIVE; a
 *   no-op on an answered channel. preAnswer(): CHANNEL_PROGRESS_MEDIA (early).
 *   ringReady(): CHANNEL_PROGRESS.
 * - hangup(cause): CHANNEL_HANGUP (Hangup-Cause, Answer-State hangup), CHANNEL_CALLSTATE
 *   HANGUP; running applications end (their CHANNEL_EXECUTE_COMPLETE), a parked channel
 *   gets CHANNEL_UNPARK and park's EXECUTE_COMPLETE (a running bridge unbridges and hangs
 *   up its peer: see apps); then CHANNEL_STATE CS_HANGUP, CS_REPORTING,
 *   CHANNEL_HANGUP_COMPLETE (variable_hangup_cause, variable_duration, variable_billsec),
 *   CHANNEL_STATE CS_DESTROY, CHANNEL_DESTROY; then the channel is gone. Idempotent.
 * - originate(dial): an outbound leg: CHANNEL_CREATE, CHANNEL_OUTGOING, CHANNEL_ORIGINATE, CHANNEL_STATE
 *   CS_INIT/CS_CONSUME_MEDIA, CHANNEL_CALLSTATE RINGING, CHANNEL_PROGRESS (as recorded
 *   FreeSWITCH B-legs show); a bridged B-leg moves to CS_EXCHANGE_MEDIA; resolves when the
 *   device answers (CHANNEL_ANSWER) or fails with a cause (the leg is then hung up with
 *   it). Devices are the Endpoints registry; the control API answers `manual` ones.
 * - kill(uuid): the channel vanishes without any event (a fault: what clients see when
 *   a switch dies under a call).
 */
import { Channel, type ChannelState, type CallState, type Direction } from './channel.ts';
import { sipToCause, type DeviceBehaviour, type Endpoints } from './endpoints.ts';
import type { Header, SwitchEvent } from './esl-wire.ts';
import type { EventFactory } from './event-factory.ts';
import type { SimIds } from './sim-clock.ts';
import type { AppEngine } from './app-engine.ts';

export interface InboundCall {
  from: string;
  to: string;
  callerIdName?: string;
  context?: string;
  variables?: Record<string, string>;
  /** Skip the dialplan park (the call stays in CS_EXECUTE with no application). */
  noPark?: boolean;
  /** Instead of parking, run the outbound `socket` app: `host:port [async] [full]`. */
  socket?: string;
  /** The channel's Unique-ID (unless a channel has it). */
  uuid?: string;
}

export type OriginateResult =
  | { ok: true; channel: Channel }
  | { ok: false; cause: string; /** `sip:486` when the phone refused */ protoCause?: string };

interface Ringing {
  resolve(r: OriginateResult): void;
  /** The phone's answer. */
  timer: NodeJS.Timeout | undefined;
  /** The caller's timeout (NO_ANSWER). */
  deadline: NodeJS.Timeout | undefined;
}

export class CallModel {
  readonly channels = new Map<string, Channel>();
  engine!: AppEngine;
  private readonly ringing = new Map<string, Ringing>();
  private readonly destroyed = new Map<string, Array<() => void>>();
  private readonly hungUp = new Map<string, Array<() => void>>();
  /** Phone scripts of legs that belong to a phone, and their running in-call timers. */
  private readonly scripts = new Map<string, DeviceBehaviour>();
  private readonly scriptTimers = new Map<string, NodeJS.Timeout[]>();

  constructor(
    private readonly events: EventFactory,
    private readonly emit: (ev: SwitchEvent) => void,
    private readonly ids: SimIds,
    private readonly endpoints: Endpoints,
  ) {}

  fire(name: string, ch: Channel, extra?: readonly Header[], body?: string): void {
    this.emit(this.events.make(name, { channel: ch, extra, body }));
  }

  /** Moves the channel to `state` with its CHANNEL_STATE event (no-op if already there). */
  setState(ch: Channel, state: ChannelState): void {
    if (ch.state === state) return;
    ch.state = state;
    this.fire('CHANNEL_STATE', ch);
  }

  private setCallState(ch: Channel, state: CallState): void {
    const original = ch.callState;
    ch.callState = state;
    this.fire('CHANNEL_CALLSTATE', ch, [
      ['Original-Channel-Call-State', original],
      [
        'Channel-Call-State-Number',
        String(
          ['DOWN', 'DIALING', 'RINGING', 'EARLY', 'ACTIVE', 'HELD', 'RING_WAIT', 'HANGUP'].indexOf(state),
        ),
      ],
    ]);
  }

  private create(
    direction: Direction,
    name: string,
    p: Omit<InboundCall, 'noPark' | 'socket' | 'uuid'>,
    callUuid?: string,
    givenUuid?: string,
    otherLeg?: string,
  ): Channel {
    const uuid = givenUuid !== undefined && !this.channels.has(givenUuid) ? givenUuid : this.ids.uuid();
    const ch = new Channel({
      uuid,
      callUuid,
      direction,
      name,
      createdMicros: this.events.now(),
      profile: {
        callerIdName: p.callerIdName ?? p.from,
        callerIdNumber: p.from,
        destinationNumber: p.to,
        context: p.context ?? 'default',
        networkAddr: '127.0.0.1',
        username: p.from,
      },
      variables: {
        sip_call_id: `${uuid}@127.0.0.1`,
        sip_from_user: p.from,
        sip_to_user: p.to,
        ...p.variables,
      },
    });
    this.channels.set(uuid, ch);
    if (otherLeg !== undefined) {
      ch.otherLeg = otherLeg;
      ch.otherType = 'originator';
    }
    ch.state = 'CS_INIT';
    this.fire('CHANNEL_CREATE', ch);
    return ch;
  }

  inbound(call: InboundCall, phoneScript?: DeviceBehaviour): Channel {
    const ch = this.create('inbound', `sofia/internal/${call.from}@127.0.0.1`, call, undefined, call.uuid);
    if (phoneScript !== undefined) this.scripts.set(ch.uuid, phoneScript);
    this.fire('CHANNEL_STATE', ch);
    this.setCallState(ch, 'RINGING');
    this.setState(ch, 'CS_ROUTING');
    this.setState(ch, 'CS_EXECUTE');
    if (call.socket !== undefined)
      this.engine.execute(ch, {
        app: 'socket',
        arg: call.socket,
        appUuid: this.ids.uuid(),
        eventLock: false,
        loops: 1,
      });
    else if (call.noPark !== true) this.engine.runDialplanPark(ch);
    return ch;
  }

  answer(ch: Channel): void {
    if (ch.isAnswered || ch.isHungUp) return;
    ch.answerState = 'answered';
    ch.times.answered = this.events.now();
    if (ch.times.progressMedia === 0) ch.times.progressMedia = ch.times.answered;
    this.fire('CHANNEL_ANSWER', ch);
    this.setCallState(ch, 'ACTIVE');
    const script = this.scripts.get(ch.uuid);
    if (script !== undefined) this.runScript(ch, script);
  }

  preAnswer(ch: Channel): void {
    if (ch.answerState !== 'ringing' || ch.isHungUp) return;
    ch.answerState = 'early';
    ch.times.progressMedia = this.events.now();
    this.fire('CHANNEL_PROGRESS_MEDIA', ch);
    this.setCallState(ch, 'EARLY');
  }

  ringReady(ch: Channel): void {
    if (ch.times.progress !== 0 || ch.isHungUp) return;
    ch.times.progress = this.events.now();
    this.fire('CHANNEL_PROGRESS', ch);
  }

  bridge(a: Channel, b: Channel): void {
    a.otherLeg = b.uuid;
    a.otherType = 'originatee';
    b.otherLeg = a.uuid;
    b.otherType = 'originator';
    a.times.bridged = b.times.bridged = this.events.now();
    if (b.direction === 'outbound') this.setState(b, 'CS_EXCHANGE_MEDIA');
    a.variables.set('bridge_uuid', b.uuid);
    b.variables.set('bridge_uuid', a.uuid);
    this.fire('CHANNEL_BRIDGE', a, [
      ['Bridge-A-Unique-ID', a.uuid],
      ['Bridge-B-Unique-ID', b.uuid],
    ]);
  }

  unbridge(a: Channel): void {
    const other = a.otherLeg;
    if (other === undefined) return;
    const b = this.channels.get(other);
    this.fire('CHANNEL_UNBRIDGE', a, [
      ['Bridge-A-Unique-ID', a.uuid],
      ['Bridge-B-Unique-ID', other],
    ]);
    a.lastOtherLeg = other;
    a.otherLeg = undefined;
    if (b !== undefined && b.otherLeg === a.uuid) {
      b.lastOtherLeg = a.uuid;
      b.otherLeg = undefined;
    }
  }

  hangup(ch: Channel, cause = 'NORMAL_CLEARING'): void {
    if (ch.isHungUp) return;
    ch.hangupCause = cause;
    ch.answerState = 'hangup';
    ch.times.hangup = this.events.now();
    ch.variables.set('hangup_cause', cause);
    this.fire('CHANNEL_HANGUP', ch);
    this.setCallState(ch, 'HANGUP');
    this.failRinging(ch.uuid, cause);
    this.stopScript(ch.uuid);
    this.wake(this.hungUp, ch.uuid);
    void this.engine.interrupt(ch).then(() => this.teardown(ch));
  }

  private wake(map: Map<string, Array<() => void>>, uuid: string): void {
    const waiters = map.get(uuid);
    map.delete(uuid);
    for (const w of waiters ?? []) w();
  }

  private waitOn(map: Map<string, Array<() => void>>, uuid: string): Promise<void> {
    return new Promise((resolve) => {
      const list = map.get(uuid) ?? [];
      list.push(resolve);
      map.set(uuid, list);
    });
  }

  /** Resolves when the channel hangs up or vanishes (at once if it already has). */
  whenHungUp(uuid: string): Promise<void> {
    const ch = this.channels.get(uuid);
    if (ch === undefined || ch.isHungUp) return Promise.resolve();
    return this.waitOn(this.hungUp, uuid);
  }

  private teardown(ch: Channel): void {
    const t = ch.times;
    const duration = Math.max(0, Math.round((t.hangup - t.created) / 1e6));
    const billsec = t.answered === 0 ? 0 : Math.max(0, Math.round((t.hangup - t.answered) / 1e6));
    ch.variables.set('duration', String(duration));
    ch.variables.set('billsec', String(billsec));
    if (!ch.variables.has('sip_term_status'))
      ch.variables.set('sip_term_status', ch.hangupCause === 'NORMAL_CLEARING' ? '200' : '487');
    if (!ch.variables.has('sip_hangup_disposition'))
      ch.variables.set('sip_hangup_disposition', t.answered !== 0 ? 'send_bye' : 'send_cancel');
    this.setState(ch, 'CS_HANGUP');
    this.setState(ch, 'CS_REPORTING');
    this.fire('CHANNEL_HANGUP_COMPLETE', ch);
    this.setState(ch, 'CS_DESTROY');
    this.fire('CHANNEL_DESTROY', ch);
    this.forget(ch.uuid);
  }

  private stopScript(uuid: string): void {
    for (const t of this.scriptTimers.get(uuid) ?? []) clearTimeout(t);
    this.scriptTimers.delete(uuid);
  }

  private forget(uuid: string): void {
    this.stopScript(uuid);
    this.scripts.delete(uuid);
    this.channels.delete(uuid);
    this.engine.forget(uuid);
    this.wake(this.hungUp, uuid);
    this.wake(this.destroyed, uuid);
  }

  /** Resolves when the channel is gone (at once if it is not there). */
  whenDestroyed(uuid: string): Promise<void> {
    if (!this.channels.has(uuid)) return Promise.resolve();
    return this.waitOn(this.destroyed, uuid);
  }

  /** Fault: the channel disappears with no events at all. */
  kill(uuid: string): boolean {
    const ch = this.channels.get(uuid);
    if (ch === undefined) return false;
    ch.hangupCause = 'CRASH';
    this.failRinging(uuid, 'CRASH');
    void this.engine.interrupt(ch, { silent: true });
    this.forget(uuid);
    return true;
  }

  originate(
    dial: string,
    opts: {
      from?: string;
      callerIdName?: string;
      variables?: Record<string, string>;
      timeoutMs?: number;
      callUuid?: string;
      /** origination_uuid: the new leg's Unique-ID. */
      uuid?: string;
      /** The A-leg of a bridge: the new leg carries it as Other-Leg-Unique-ID (originator). */
      otherLeg?: string;
      /** Told the new leg as soon as it exists (to cancel it while it rings). */
      onCreated?: (ch: Channel) => void;
    },
  ): Promise<OriginateResult> {
    const target = this.endpoints.resolve(dial);
    if (!target.ok) return Promise.resolve(target);
    const { device } = target;
    const ch = this.create(
      'outbound',
      target.channelName,
      {
        from: opts.from ?? '0000000000',
        to: device.user,
        callerIdName: opts.callerIdName,
        variables: opts.variables,
      },
      opts.callUuid,
      opts.uuid,
      opts.otherLeg,
    );
    this.fire('CHANNEL_OUTGOING', ch);
    // switch_ivr_originate.c fires CHANNEL_ORIGINATE on each new leg once its {vars} are set.
    this.fire('CHANNEL_ORIGINATE', ch);
    this.fire('CHANNEL_STATE', ch);
    this.setState(ch, 'CS_CONSUME_MEDIA');
    this.setCallState(ch, 'RINGING');
    this.ringReady(ch);
    const b = device.behaviour;
    this.scripts.set(ch.uuid, b);
    opts.onCreated?.(ch);
    return new Promise<OriginateResult>((resolve) => {
      const ring: Ringing = { resolve, timer: undefined, deadline: undefined };
      this.ringing.set(ch.uuid, ring);
      if (b.mode === 'reject' || b.mode === 'busy')
        setImmediate(() => this.refuseRinging(ch.uuid, b.rejectSipCode, b.rejectCause));
      else {
        if (b.mode === 'auto') ring.timer = setTimeout(() => this.answerRinging(ch.uuid), b.answerAfterMs);
        ring.deadline = setTimeout(() => this.rejectRinging(ch.uuid, 'NO_ANSWER'), opts.timeoutMs ?? 60_000);
      }
    });
  }

  /** The phone of a ringing leg answers a SIP final failure (486, 480, ...): the cause
   *  as mod_sofia maps it, and the SIP code in the variables FreeSWITCH sets. */
  refuseRinging(uuid: string, sipCode: number, cause = sipToCause(sipCode)): boolean {
    const ch = this.channels.get(uuid);
    if (!this.ringing.has(uuid) || ch === undefined) return false;
    ch.variables.set('sip_term_status', String(sipCode));
    ch.variables.set('proto_specific_hangup_cause', `sip:${sipCode}`);
    ch.variables.set('sip_hangup_disposition', 'recv_refuse');
    this.hangup(ch, cause);
    return true;
  }

  /** Starts a phone's in-call script (hang up after N ms, DTMF at given times) on an answered leg. */
  private runScript(ch: Channel, script: DeviceBehaviour): void {
    const timers: NodeJS.Timeout[] = [];
    if (script.hangupAfterMs !== undefined)
      timers.push(
        setTimeout(() => {
          ch.variables.set('sip_hangup_disposition', 'recv_bye');
          this.hangup(ch, 'NORMAL_CLEARING');
        }, script.hangupAfterMs),
      );
    for (const step of script.dtmf ?? [])
      timers.push(
        setTimeout(() => {
          for (const d of step.digits) if (!ch.isHungUp) this.engine.dtmf(ch, d, 100);
        }, step.atMs),
      );
    if (timers.length > 0) this.scriptTimers.set(ch.uuid, timers);
  }

  /** The device of a ringing outbound leg answers. False if the leg is not ringing. */
  answerRinging(uuid: string): boolean {
    const ring = this.ringing.get(uuid);
    const ch = this.channels.get(uuid);
    if (ring === undefined || ch === undefined) return false;
    this.ringing.delete(uuid);
    clearTimeout(ring.timer);
    clearTimeout(ring.deadline);
    this.answer(ch);
    ring.resolve({ ok: true, channel: ch });
    return true;
  }

  rejectRinging(uuid: string, cause: string): boolean {
    const ch = this.channels.get(uuid);
    if (!this.ringing.has(uuid) || ch === undefined) return false;
    this.hangup(ch, cause);
    return true;
  }

  isRinging(uuid: string): boolean {
    return this.ringing.has(uuid);
  }

  private failRinging(uuid: string, cause: string): void {
    const ring = this.ringing.get(uuid);
    if (ring === undefined) return;
    this.ringing.delete(uuid);
    clearTimeout(ring.timer);
    clearTimeout(ring.deadline);
    ring.resolve({
      ok: false,
      cause,
      protoCause: this.channels.get(uuid)?.variables.get('proto_specific_hangup_cause'),
    });
  }

  /** Hangs up every channel (hupall, shutdown). */
  hangupAll(cause: string): number {
    const all = [...this.channels.values()].filter((c) => !c.isHungUp);
    for (const ch of all) this.hangup(ch, cause);
    return all.length;
  }
}
