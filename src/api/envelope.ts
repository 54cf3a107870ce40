/**
 * The envelope: headers every message may or must carry (Kazoo's `kz_api.hrl`).
 *
 * Contract
 * - `DEFAULT_HEADERS` are required in every message (build fills Msg-ID; App-Name and
 *   App-Version come from the sender's build context).
 * - `OPTIONAL_DEFAULT_HEADERS` are allowed in every message and survive the whitelist.
 *   The log id is spelled `System-Log-ID` on the wire (Kazoo 4.3's `?KEY_LOG_ID`, kz_log.hrl).
 *   Fife adds one header Kazoo lacks there: `Msg-Reply-ID`, so a
 *   requester's reply matcher can read it from the built message; Kazoo peers ignore it.
 * - `ENVELOPE_TYPES` are checked on every message. Server-ID is a `queue-name` (at most 255
 *   bytes of UTF-8): replies are published with it as routing key, and AMQP allows no more.
 * - `NEVER_STRIPPED` (Server-ID, Msg-ID) keep an empty-string value through the strip step.
 */
import type { FieldType } from './types.ts';

export const DEFAULT_HEADERS: readonly string[] = Object.freeze([
  'Event-Category',
  'Event-Name',
  'App-Name',
  'App-Version',
  'Msg-ID',
]);

export const OPTIONAL_DEFAULT_HEADERS: readonly string[] = Object.freeze([
  'Server-ID',
  'Node',
  'Server-Queue-ID',
  'Defer-Response',
  'Account-ID',
  'Call-ID',
  'Access-Group',
  'Destination-Server',
  'Geo-Location',
  'System-Log-ID',
  'Raw-Headers',
  'AMQP-Broker',
  'AMQP-Broker-Zone',
  'Request-From-PID',
  'Reply-To-PID',
  'Deliver-To-PID',
  'Msg-Reply-ID',
]);

export const ENVELOPE_TYPES: Readonly<Record<string, FieldType>> = Object.freeze({
  'Event-Category': 'string',
  'Event-Name': 'string',
  'App-Name': 'string',
  'App-Version': 'string',
  'Msg-ID': 'string',
  'Server-ID': 'queue-name',
  Node: 'string',
  'Server-Queue-ID': 'string',
  'Defer-Response': 'booleanish',
  'Account-ID': 'string',
  'Call-ID': 'string',
  'Msg-Reply-ID': 'string',
});

export const NEVER_STRIPPED: ReadonlySet<string> = new Set(['Server-ID', 'Msg-ID']);
