/**
 * Where a built message is published: exchange, routing key and AMQP headers.
 *
 * Contract — `destination(def, msg, queue?)`:
 * - For a `key` entry: the entry's exchange and the key its builder computes from the
 *   message (variable words already encoded, see routing-key.ts). `queue` is ignored.
 * - For a `queue` entry (replies on `targeted`, dialplan commands on `callctl`): the
 *   routing key is `queue` verbatim. A master-style `pid://<pid>/<queue>` address is turned
 *   into routing key `<queue>` plus AMQP header `Deliver-To-PID` (Kazoo master's `kz_api`).
 *   A missing or empty `queue` throws: the caller forgot the reply address.
 * - AMQP headers the entry asks for (call events carry `call-id`) are included.
 * - `replyQueue(request)` is the request's Server-ID, or undefined when it has none.
 */
import type { Envelope, MessageDef } from './types.ts';
import type { ExchangeName } from './exchanges.ts';
import { isObject, own } from './check.ts';

export interface Destination {
  readonly exchange: ExchangeName;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
}

const PID_ADDRESS = /^pid:\/\/([^/]+)\/(.+)$/;

export function destination(def: MessageDef, msg: Envelope, queue?: string): Destination {
  const extra = def.amqpHeaders?.(msg) ?? {};
  if (def.route.kind === 'key')
    return { exchange: def.route.exchange, routingKey: def.route.key(msg), headers: extra };
  if (queue === undefined || queue === '') {
    throw new Error(
      `${def.id} goes to a named queue on '${def.route.exchange}': pass the queue (a request's Server-ID, a call's Control-Queue)`,
    );
  }
  const pid = PID_ADDRESS.exec(queue);
  if (pid === null) return { exchange: def.route.exchange, routingKey: queue, headers: extra };
  return {
    exchange: def.route.exchange,
    routingKey: pid[2]!,
    headers: { ...extra, 'Deliver-To-PID': pid[1]! },
  };
}

export function replyQueue(request: unknown): string | undefined {
  if (!isObject(request)) return undefined;
  const id = own(request, 'Server-ID');
  return typeof id === 'string' && id !== '' ? id : undefined;
}
