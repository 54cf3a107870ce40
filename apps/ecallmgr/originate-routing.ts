/**
 * The routing key of a call event (Kazoo's kapi_call:publish_event / find_event_call_id):
 * an event is keyed `call.<Event-Name>.<id>` where id is its Origination-Call-ID when it
 * has one (the leg an originate placed for another call: apps bound to that call's events
 * hear it), else its Call-ID; a loopback channel's events (Channel-Is-Loopback true, but
 * not CHANNEL_FAX_STATUS) always use their Call-ID.
 *
 * Contract: `publishCallEvent(env, fields, failed)` builds call_event from `fields` and
 * publishes it on `callevt` with that key and the catalogue's AMQP headers (`call-id` =
 * Call-ID); it returns the message. When the message is invalid (then undefined is
 * returned, nothing published) or the bus refuses it, `failed` gets the error (callers
 * log it). No promise is made but the bus's own: one publish per switch event.
 */
import { build, callEventKey, destination, type BuildContext, type Envelope } from '../../src/api/index.ts';
import { encodeJson, jsonProperties } from '../../src/bus/index.ts';
import { buildContext, type EcallmgrEnv } from './context.ts';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function eventRoutingCallId(ev: Record<string, unknown>): string {
  const loopback =
    ev['Event-Name'] !== 'CHANNEL_FAX_STATUS' &&
    (ev['Channel-Is-Loopback'] === true || ev['Channel-Is-Loopback'] === 'true');
  return (
    (loopback ? undefined : str(ev['Origination-Call-ID'])) ??
    str(ev['Call-ID']) ??
    str(ev['Unique-ID']) ??
    ''
  );
}

/** The build context of an environment, made once per environment. */
const contexts = new WeakMap<EcallmgrEnv, BuildContext>();
function contextOf(env: EcallmgrEnv): BuildContext {
  let c = contexts.get(env);
  if (c === undefined) contexts.set(env, (c = buildContext(env)));
  return c;
}

export function publishCallEvent(
  env: EcallmgrEnv,
  fields: Record<string, unknown>,
  failed: (err: unknown) => void,
): Envelope | undefined {
  let msg: Envelope;
  let sent: Promise<void>;
  try {
    msg = build('call_event', fields, contextOf(env));
    const d = destination('call_event', msg);
    // the catalogue's key is by Call-ID: made again only when the event is keyed by another id
    const id = eventRoutingCallId(msg);
    const key = id === msg['Call-ID'] ? d.routingKey : callEventKey(String(msg['Event-Name']), id);
    sent = env.bus.publish(
      d.exchange,
      key,
      encodeJson(msg),
      jsonProperties(Object.keys(d.headers).length > 0 ? { headers: d.headers } : undefined),
    );
  } catch (err) {
    failed(err);
    return undefined;
  }
  sent.catch(failed);
  return msg;
}
