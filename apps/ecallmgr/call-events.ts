/**
 * call_events: one per call. Turns the call's switch events into call_event messages
 * (Kazoo's ecallmgr_call_events) and publishes them on `callevt` with the routing key
 * `call.<Event-Name>.<id>` (id: the event's Origination-Call-ID before its Call-ID, as Kazoo;
 * originate-routing.ts) and AMQP header `call-id`.
 *
 * Contract
 * - Receives `{type:'switch_event', ev}` from the node connection, in the switch's order,
 *   and publishes in that order. What is published and how it is renamed:
 *   event-convert.ts. Events Kazoo does not publish are skipped silently (by design, not
 *   by accident: the filter is the table in event-convert.ts; the node connection does
 *   not even send them here).
 * - It traps exits: a shutdown from its supervisor is handled after the events already
 *   received, so a CHANNEL_DESTROY that arrived first is still published.
 * - A conversion or publish failure is logged with the call-id and the event name; the
 *   process carries on.
 * - `{type:'b_leg_events', events}` (call_control, when it runs a bridge with
 *   B-Leg-Events): events of the bridged leg with those names, `{type:'other_leg_event'}`
 *   from the node connection once the bridge is up, are published too, under the leg's
 *   own Call-ID (Kazoo's listen_for_other_leg/3). Others of that leg are skipped.
 *   CHANNEL_UNBRIDGE among them: the switch fires it only on the call, so the leg's is
 *   derived from the call's (unbridge-view.ts) and published right after it.
 * - After CHANNEL_DESTROY is published the process ends with `normal`. `{type:
 *   'channel_gone'}` (the channel vanished while the switch connection was down, so its
 *   CHANNEL_DESTROY was lost) publishes a CHANNEL_DESTROY with Hangup-Cause
 *   NORMAL_UNSPECIFIED and Disposition `channel_gone`, then ends the same way, so that
 *   apps waiting for the end of the call are not left waiting.
 * - A restarted call_events (the call's table, owned by the call's supervisor, says an
 *   earlier incarnation ran) may have missed the call's end while it was down: events
 *   that came meanwhile had no process to go to. It asks the switch (`uuid_exists`,
 *   answered through the node connection's mailbox, so after the events that preceded
 *   the answer) as Kazoo's call_events does on start: gone -> it publishes the
 *   channel_gone CHANNEL_DESTROY above, tells call_control `channel_gone` and ends;
 *   there -> it goes on; no answer (switch away) -> it goes on, the node connection's
 *   resync or call_control's checks end the call if need be.
 */
import {
  Table,
  noreply,
  ok,
  stop,
  unexpected,
  type GenServerBehaviour,
  type Logger,
} from '../../src/kernel/index.ts';
import type { EslEvent } from '../../src/switch/index.ts';
import { names, type EcallmgrEnv, type SwitchLink } from './context.ts';
import { castSwitchOp, type SwitchReply } from './node-ops.ts';
import type { CallRows } from './call-control.ts';
import { publishCallEvent } from './originate-routing.ts';
import { callEventFields } from './event-convert.ts';
import { otherLegUnbridge } from './unbridge-view.ts';

export interface CallEventsArgs {
  readonly callId: string;
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
}

interface State {
  readonly a: CallEventsArgs;
  readonly log: Logger;
  published: number;
  /** Events of the bridged leg to publish (the bridges' B-Leg-Events). */
  bLegEvents: Set<string>;
}

type Msg =
  | { type: 'switch_event'; ev: EslEvent }
  | { type: 'other_leg_event'; ev: EslEvent }
  | { type: 'b_leg_events'; events: string[] }
  | { type: 'channel_gone' }
  | SwitchReply;

/** The tag of this process's one switch question (after a restart). */
const EXISTS_CHECK = 'call_events_exists_check';

function send(s: State, fields: Record<string, unknown>): void {
  s.published++;
  publishCallEvent(s.a.env, fields, (err: unknown) =>
    s.log.error({ err: String(err), event: fields['Event-Name'] }, 'call event not published'),
  );
}

function convertAndSend(s: State, ev: EslEvent): void {
  let fields: Record<string, unknown> | undefined;
  try {
    fields = callEventFields(ev, s.a.link.identity);
  } catch (err) {
    s.log.error({ err: String(err), event: ev.name }, 'switch event could not be converted; skipped');
  }
  if (fields === undefined) return;
  send(s, fields);
  if (ev.name === 'CHANNEL_UNBRIDGE' && s.bLegEvents.has('CHANNEL_UNBRIDGE')) {
    const view = otherLegUnbridge(fields);
    if (view !== undefined) send(s, view);
  }
}

/** The channel's CHANNEL_DESTROY was lost: one is published for it, and the process ends. */
function channelGone(s: State) {
  send(s, {
    'Event-Name': 'CHANNEL_DESTROY',
    'Call-ID': s.a.callId,
    'Hangup-Cause': 'NORMAL_UNSPECIFIED',
    Disposition: 'channel_gone',
    'Switch-Nodename': s.a.link.identity.name,
  });
  return stop('normal', s);
}

export const CallEvents: GenServerBehaviour<State, CallEventsArgs> = {
  name: 'ecallmgr_call_events',
  init: (a, ctx) => {
    // Trapping exits: a shutdown from the call's supervisor is queued behind the events
    // already in the mailbox (CHANNEL_DESTROY among them), so they are published first.
    ctx.trapExit(true);
    const log = ctx.log.child({ call_id: a.callId });
    const table = Table.open<CallRows['key'], CallRows['value']>(ctx, names.callTable(a.callId));
    if (!table.insertNew('events_started', true)) {
      const asked = castSwitchOp(
        ctx,
        a.link,
        { kind: 'api', command: `uuid_exists ${a.callId}` },
        EXISTS_CHECK,
      );
      log.warn(
        { asked },
        asked
          ? 'call_events restarted: asking the switch whether the channel still exists'
          : 'call_events restarted with no switch connection: the call is checked when it is back',
      );
    }
    return ok({ a, log, published: 0, bLegEvents: new Set() });
  },

  handleInfo(raw, s, ctx) {
    const m = raw as Msg;
    if (m?.type === 'switch_reply' && m.tag === EXISTS_CHECK) {
      if (m.error !== undefined) {
        s.log.warn({ err: String(m.error) }, 'could not ask the switch about the channel after a restart');
        return noreply(s);
      }
      if (m.reply?.trim() === 'true') return noreply(s);
      s.log.warn('the channel ended while call_events was down: publishing its end');
      const control = ctx.runtime.whereis(names.control(s.a.callId));
      if (control !== undefined) ctx.send(control, { type: 'channel_gone' });
      return channelGone(s);
    }
    if (m?.type === 'channel_gone') return channelGone(s);
    if (m?.type === 'b_leg_events') {
      for (const e of m.events) s.bLegEvents.add(e);
      return noreply(s);
    }
    if (m?.type === 'other_leg_event') {
      const name = m.ev.name === 'CUSTOM' ? m.ev.subclass : m.ev.name;
      if (name !== undefined && s.bLegEvents.has(name)) convertAndSend(s, m.ev);
      return noreply(s);
    }
    if (m?.type !== 'switch_event') return unexpected(raw, s);
    convertAndSend(s, m.ev);
    return m.ev.name === 'CHANNEL_DESTROY' ? stop('normal', s) : noreply(s);
  },

  describe: (s) => ({ call_id: s.a.callId, published: s.published }),
};
