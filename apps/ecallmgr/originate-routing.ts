/**
 * The routing key of a call event (Kazoo's kapi_call:publish_event / find_event_call_id):
 * an event is keyed `call.<Event-Name>.<id>` where id is its Origination-Call-ID when it
 * has one (the leg an originate placed for another call: apps bound to that call's events
 * hear it), else its Call-ID; a loopback channel's events (Channel-Is-Loopback true, but
 * not CHANNEL_FAX_STATUS) always use their Call-ID.
 *
 * Contract: `publishCallEvent(env, fields)` builds call_event from `fields` and publishes
 * it on `callevt` with that key and the catalogue's AMQP headers (`call-id` = Call-ID);
 * it rejects when the message is invalid or the bus refuses (callers log it).
 */
import { build, callEventKey, destination, type Envelope } from '../../src/api/index.ts';
import { encodeJson, jsonProperties } from '../../src/bus/index.ts';
import { buildContext, type EcallmgrEnv } from './context.ts';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function eventRoutingCallId(ev: Record<string, unknown>): string {
  const loopback =
    ev['Event-Name'] !== 'CHANNEL_FAX_STATUS' &&
    (ev['Channel-Is-Loopback'] === true || ev['Channel-Is-Loopback'] === 'true');
  const ids = loopback
    ? [ev['Call-ID'], ev['Unique-ID']]
    : [ev['Origination-Call-ID'], ev['Call-ID'], ev['Unique-ID']];
  return ids.map(str).find((v) => v !== undefined) ?? '';
}

export async function publishCallEvent(env: EcallmgrEnv, fields: Record<string, unknown>): Promise<Envelope> {
  const msg = build('call_event', fields, buildContext(env));
  const d = destination('call_event', msg);
  // the catalogue's key is by Call-ID: made again only when the event is keyed by another id
  const id = eventRoutingCallId(msg);
  const key = id === msg['Call-ID'] ? d.routingKey : callEventKey(String(msg['Event-Name']), id);
  await env.bus.publish(
    d.exchange,
    key,
    encodeJson(msg),
    jsonProperties(Object.keys(d.headers).length > 0 ? { headers: d.headers } : undefined),
  );
  return msg;
}
