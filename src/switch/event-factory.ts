/**
 * Builds switch events with the header block every FreeSWITCH event starts with.
 *
 * Contract
 * - `make(name, {channel, extra, body, subclass})` returns a SwitchEvent whose headers are,
 *   in FreeSWITCH's order: Event-Name, Core-UUID, FreeSWITCH-Hostname/-Switchname/-IPv4/
 *   -IPv6, Event-Date-Local, Event-Date-GMT, Event-Date-Timestamp (µs), Event-Calling-File/
 *   -Function/-Line-Number, Event-Sequence, [Event-Subclass], then the channel's headers,
 *   then `extra`.
 * - Event-Sequence is strictly increasing for one Core-UUID; `restart(coreUuid)` starts a
 *   new core (new Core-UUID), as a restarted FreeSWITCH has, and the sequence goes on
 *   from where it was (clients must not rely on it being reset).
 */
import type { Channel } from './channel.ts';
import type { Header, SwitchEvent } from './esl-wire.ts';
import type { SimClock } from './sim-clock.ts';

export interface EventFactoryOptions {
  coreUuid: string;
  hostname: string;
  ipv4: string;
  clock: SimClock;
}

export interface MakeEventOptions {
  channel?: Channel;
  extra?: readonly Header[];
  body?: string;
  subclass?: string;
  callingFunction?: string;
}

const pad = (n: number): string => String(n).padStart(2, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function localDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function gmtDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

export class EventFactory {
  private sequence = 0;
  coreUuid: string;

  constructor(private readonly opts: EventFactoryOptions) {
    this.coreUuid = opts.coreUuid;
  }

  now(): number {
    return this.opts.clock.nowMicros();
  }

  restart(coreUuid: string): void {
    this.coreUuid = coreUuid;
  }

  make(name: string, o: MakeEventOptions = {}): SwitchEvent {
    const micros = this.opts.clock.nowMicros();
    const d = new Date(Math.floor(micros / 1000));
    const headers: Header[] = [
      ['Event-Name', name],
      ['Core-UUID', this.coreUuid],
      ['FreeSWITCH-Hostname', this.opts.hostname],
      ['FreeSWITCH-Switchname', this.opts.hostname],
      ['FreeSWITCH-IPv4', this.opts.ipv4],
      ['FreeSWITCH-IPv6', '::1'],
      ['Event-Date-Local', localDate(d)],
      ['Event-Date-GMT', gmtDate(d)],
      ['Event-Date-Timestamp', String(micros)],
      ['Event-Calling-File', 'switch_sim.ts'],
      ['Event-Calling-Function', o.callingFunction ?? 'switch_sim_event'],
      ['Event-Calling-Line-Number', '1'],
      ['Event-Sequence', String(++this.sequence)],
    ];
    if (o.subclass !== undefined) headers.push(['Event-Subclass', o.subclass]);
    if (o.channel !== undefined) headers.push(...o.channel.headers());
    if (o.extra !== undefined) headers.push(...o.extra);
    return { name, headers, body: o.body, uuid: o.channel?.uuid };
  }
}
