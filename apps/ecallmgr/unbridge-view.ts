/**
 * The bridged leg's view of a CHANNEL_UNBRIDGE. FreeSWITCH fires CHANNEL_UNBRIDGE once, on
 * the originator (switch_ivr_bridge.c), so the leg it was bridged to has no event of its
 * own; when a bridge's B-Leg-Events ask for that leg's CHANNEL_UNBRIDGE, call_events
 * publishes this one under the leg's Call-ID (a Fife addition: Kazoo 4.3 publishes none).
 *
 * Contract: `otherLegUnbridge(fields)` takes the published fields of the call's
 * CHANNEL_UNBRIDGE and returns the leg's: Event-Name CHANNEL_UNBRIDGE, Call-ID = the
 * call's Other-Leg-Call-ID, Other-Leg-Call-ID = the call, the same Msg-ID, Timestamp and
 * switch headers; none of the call's own channel data (caller id, variables). Undefined
 * when the event names no other leg. Pure.
 */
const SHARED = ['Msg-ID', 'Timestamp', 'Media-Server', 'Switch-Hostname', 'Switch-Nodename', 'Switch-URL'];

export function otherLegUnbridge(
  fields: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  const leg = fields['Other-Leg-Call-ID'];
  if (typeof leg !== 'string' || leg === '' || fields['Event-Name'] !== 'CHANNEL_UNBRIDGE') return undefined;
  const view: Record<string, unknown> = {
    'Event-Name': 'CHANNEL_UNBRIDGE',
    'Call-ID': leg,
    'Other-Leg-Call-ID': fields['Call-ID'],
  };
  for (const k of SHARED) if (fields[k] !== undefined) view[k] = fields[k];
  return view;
}
