/**
 * A simulated FreeSWITCH channel: one call leg's state, caller profile and variables.
 *
 * Contract
 * - `state` follows FreeSWITCH's channel states (CS_NEW .. CS_DESTROY) and only moves
 *   forward; `callState` (DOWN, RINGING, EARLY, ACTIVE, HANGUP) and `answerState`
 *   (ringing, early, answered, hangup) are kept as FreeSWITCH reports them.
 * - Variables are a Map; `set`/`export`/`uuid_setvar` write here and every later event
 *   carries them as `variable_<name>` headers.
 * - `headers()` gives the channel part of an event (Channel-*, Unique-ID, Answer-State,
 *   Caller-*, variable_*) with FreeSWITCH's header names and order; times are µs, 0 when
 *   the moment has not happened.
 * - A Channel holds no timers and does no I/O; the app engine and the Switch drive it.
 */
import type { Header } from './esl-wire.ts';

export const CHANNEL_STATES = [
  'CS_NEW',
  'CS_INIT',
  'CS_ROUTING',
  'CS_SOFT_EXECUTE',
  'CS_EXECUTE',
  'CS_EXCHANGE_MEDIA',
  'CS_PARK',
  'CS_CONSUME_MEDIA',
  'CS_HIBERNATE',
  'CS_RESET',
  'CS_HANGUP',
  'CS_REPORTING',
  'CS_DESTROY',
] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];
export type CallState = 'DOWN' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HELD' | 'HANGUP';
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';
export type Direction = 'inbound' | 'outbound';

export interface CallerProfile {
  callerIdName: string;
  callerIdNumber: string;
  destinationNumber: string;
  context: string;
  networkAddr: string;
  username: string;
}

export interface ChannelInit {
  uuid: string;
  direction: Direction;
  name: string;
  profile: CallerProfile;
  createdMicros: number;
  callUuid?: string;
  variables?: Record<string, string>;
}

export class Channel {
  readonly uuid: string;
  readonly direction: Direction;
  readonly name: string;
  readonly profile: CallerProfile;
  readonly variables = new Map<string, string>();
  callUuid: string;
  state: ChannelState = 'CS_NEW';
  callState: CallState = 'DOWN';
  answerState: AnswerState = 'ringing';
  hangupCause: string | undefined;
  otherLeg: string | undefined;
  /** What the other leg is to this one: `originatee` on an A-leg, `originator` on its B-leg. */
  otherType: 'originator' | 'originatee' = 'originatee';
  /** The leg this one was last bridged to: FreeSWITCH keeps the originator/originatee
   *  caller profile after an unbridge, so later events still carry Other-Leg-Unique-ID. */
  lastOtherLeg: string | undefined;
  readonly times = { created: 0, answered: 0, progress: 0, progressMedia: 0, hangup: 0, bridged: 0 };

  constructor(init: ChannelInit) {
    this.uuid = init.uuid;
    this.direction = init.direction;
    this.name = init.name;
    this.profile = init.profile;
    this.callUuid = init.callUuid ?? init.uuid;
    this.times.created = init.createdMicros;
    this.variables.set('direction', init.direction);
    this.variables.set('uuid', init.uuid);
    this.variables.set('channel_name', init.name);
    for (const [k, v] of Object.entries(init.variables ?? {})) this.variables.set(k, v);
  }

  get isAnswered(): boolean {
    return this.answerState === 'answered';
  }

  get isHungUp(): boolean {
    return this.hangupCause !== undefined;
  }

  stateNumber(): number {
    return CHANNEL_STATES.indexOf(this.state);
  }

  headers(): Header[] {
    const p = this.profile;
    const t = this.times;
    const h: Header[] = [
      ['Channel-State', this.state],
      ['Channel-Call-State', this.callState],
      ['Channel-State-Number', String(this.stateNumber())],
      ['Channel-Name', this.name],
      ['Unique-ID', this.uuid],
      ['Call-Direction', this.direction],
      ['Presence-Call-Direction', this.direction],
      ['Channel-HIT-Dialplan', this.direction === 'inbound' ? 'true' : 'false'],
      ['Channel-Call-UUID', this.callUuid],
      ['Answer-State', this.answerState],
    ];
    if (this.hangupCause !== undefined) h.push(['Hangup-Cause', this.hangupCause]);
    h.push(
      ['Channel-Read-Codec-Name', 'PCMU'],
      ['Channel-Read-Codec-Rate', '8000'],
      ['Channel-Write-Codec-Name', 'PCMU'],
      ['Channel-Write-Codec-Rate', '8000'],
      ['Caller-Direction', this.direction],
      ['Caller-Username', p.username],
      ['Caller-Dialplan', 'XML'],
      ['Caller-Caller-ID-Name', p.callerIdName],
      ['Caller-Caller-ID-Number', p.callerIdNumber],
      ['Caller-Network-Addr', p.networkAddr],
      ['Caller-ANI', p.callerIdNumber],
      ['Caller-Destination-Number', p.destinationNumber],
      ['Caller-Unique-ID', this.uuid],
      ['Caller-Source', 'mod_sofia'],
      ['Caller-Context', p.context],
      ['Caller-Channel-Name', this.name],
      ['Caller-Profile-Index', '1'],
      ['Caller-Profile-Created-Time', String(t.created)],
      ['Caller-Channel-Created-Time', String(t.created)],
      ['Caller-Channel-Answered-Time', String(t.answered)],
      ['Caller-Channel-Progress-Time', String(t.progress)],
      ['Caller-Channel-Progress-Media-Time', String(t.progressMedia)],
      ['Caller-Channel-Hangup-Time', String(t.hangup)],
      ['Caller-Channel-Transfer-Time', '0'],
      ['Caller-Channel-Bridged-Time', String(t.bridged)],
    );
    const other = this.otherLeg ?? this.lastOtherLeg;
    if (other !== undefined) h.push(['Other-Type', this.otherType], ['Other-Leg-Unique-ID', other]);
    for (const [k, v] of this.variables) h.push([`variable_${k}`, v]);
    return h;
  }

  /** A plain-object view for the control API and `show channels`. */
  snapshot(): ChannelSnapshot {
    return {
      uuid: this.uuid,
      direction: this.direction,
      name: this.name,
      state: this.state,
      callState: this.callState,
      answerState: this.answerState,
      callerIdNumber: this.profile.callerIdNumber,
      callerIdName: this.profile.callerIdName,
      destinationNumber: this.profile.destinationNumber,
      context: this.profile.context,
      otherLeg: this.otherLeg,
      hangupCause: this.hangupCause,
      variables: Object.fromEntries(this.variables),
    };
  }
}

export interface ChannelSnapshot {
  uuid: string;
  direction: Direction;
  name: string;
  state: ChannelState;
  callState: CallState;
  answerState: AnswerState;
  callerIdNumber: string;
  callerIdName: string;
  destinationNumber: string;
  context: string;
  otherLeg: string | undefined;
  hangupCause: string | undefined;
  variables: Record<string, string>;
}
