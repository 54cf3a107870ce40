/**
 * Bounds on what AMQP can carry, checked before anything is sent, on both backends.
 *
 * AMQP 0-9-1 encodes exchange and queue names, routing keys, consumer tags and the
 * short-string message properties (content-type, reply-to, correlation-id, message-id,
 * ...) as `shortstr`: one length byte, so at most 255 bytes of UTF-8. amqplib throws when
 * asked to encode a longer one; RabbitMQ would refuse it. The transport checks every such
 * value here and fails that one operation at once with BusInvalidArgumentError (nothing
 * is sent, nothing retried, the connection untouched); the embedded broker runs the same
 * checks, so it refuses exactly what the RabbitMQ path refuses.
 *
 * - `shortStrProblem(s)`: undefined when `s` fits, else why ("is 256 bytes of UTF-8; AMQP
 *   allows at most 255"). Cheap for short strings (no UTF-8 scan under 86 characters).
 * - `checkNames(operation, [[field, value], ...])` throws for the first value that does not fit
 *   (`operation` may be a function making the label, called only for the error).
 *   `checkName(operation, field, value)` is the same for one value and `checkBinding(what,
 *   queue, exchange, routingKey)` for a binding's three; both allocate nothing when the
 *   values are short strings (the hot path: every per-call queue is declared and bound).
 * - `checkProperties(operation, props)`: the short-string properties, header names, and
 *   the header table as a whole (at most MAX_HEADER_TABLE_BYTES as JSON: amqplib encodes
 *   headers in a 64 KiB scratch buffer and the header frame must fit the broker's
 *   frame_max, 128 KiB by default).
 * - `checkPublish(what, exchange, routingKey, props)`: all of the above for one publish;
 *   allocation-free when every value is short (the hot path).
 * - `shortForLog(s)`: a value cut to 64 characters for log lines and error messages.
 */
import { BusInvalidArgumentError } from './errors.ts';
import type { MessageProperties } from './types.ts';

export const MAX_SHORTSTR_BYTES = 255;
export const MAX_HEADER_TABLE_BYTES = 32 * 1024;

const SHORTSTR_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'type',
  'userId',
  'appId',
] as const;

export function shortStrProblem(s: string): string | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8 and at least 1.
  if (s.length <= 85) return undefined;
  const bytes = Buffer.byteLength(s, 'utf8');
  return bytes <= MAX_SHORTSTR_BYTES
    ? undefined
    : `is ${bytes} bytes of UTF-8; AMQP allows at most ${MAX_SHORTSTR_BYTES}`;
}

export function shortForLog(s: string): string {
  return s.length <= 64 ? s : `${s.slice(0, 64)}... (${Buffer.byteLength(s, 'utf8')} bytes)`;
}

/** `operation` may be a function: the name is then made only for an error (not per call). */
export function checkNames(
  operation: string | (() => string),
  fields: ReadonlyArray<readonly [field: string, value: string]>,
): void {
  const op = (): string => (typeof operation === 'string' ? operation : operation());
  for (const [field, value] of fields) {
    if (typeof value !== 'string')
      throw new BusInvalidArgumentError(op(), field, `must be a string, got ${typeof value}`);
    const problem = shortStrProblem(value);
    if (problem !== undefined) throw new BusInvalidArgumentError(op(), field, problem);
  }
}

export function checkName(operation: string | (() => string), field: string, value: string): void {
  if (typeof value === 'string' && value.length <= 85) return;
  checkNames(operation, [[field, value]]);
}

const short = (v: unknown): boolean => typeof v === 'string' && v.length <= 85;

export function checkBinding(what: string, queue: string, exchange: string, routingKey: string): void {
  if (short(queue) && short(exchange) && short(routingKey)) return;
  checkNames(
    () => `${what} ${typeof queue === 'string' ? shortForLog(queue) : '?'}`,
    [
      ['queue name', queue],
      ['exchange name', exchange],
      ['routing key', routingKey],
    ],
  );
}

export function checkProperties(operation: string, props: MessageProperties | undefined): void {
  if (props === undefined) return;
  const p = props as Record<string, unknown>;
  for (const k of SHORTSTR_PROPERTIES) {
    const v = p[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string')
      throw new BusInvalidArgumentError(operation, `property ${k}`, `must be a string, got ${typeof v}`);
    const problem = shortStrProblem(v);
    if (problem !== undefined) throw new BusInvalidArgumentError(operation, `property ${k}`, problem);
  }
  const headers = props.headers;
  if (headers === undefined || headers === null) return;
  for (const name of Object.keys(headers)) {
    const problem = shortStrProblem(name);
    if (problem !== undefined)
      throw new BusInvalidArgumentError(operation, `header name ${shortForLog(name)}`, problem);
  }
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(headers), 'utf8');
  } catch (err) {
    throw new BusInvalidArgumentError(
      operation,
      'headers',
      `cannot be encoded: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (size > MAX_HEADER_TABLE_BYTES)
    throw new BusInvalidArgumentError(
      operation,
      'headers',
      `are ${size} bytes as JSON; at most ${MAX_HEADER_TABLE_BYTES}`,
    );
}

/** Might any short-string property or the header table pass a limit? (No allocation.) */
function propertiesNeedCheck(props: MessageProperties): boolean {
  const p = props as Record<string, unknown>;
  for (const k of SHORTSTR_PROPERTIES) {
    const v = p[k];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 85)) return true;
  }
  const headers = props.headers as Record<string, unknown> | undefined | null;
  if (headers === undefined || headers === null) return false;
  // A few short string headers (a call event's call-id) are surely within the limits:
  // each UTF-16 unit is at most 3 bytes, JSON adds at most 6 per character and 6 per entry.
  let bound = 2;
  for (const k in headers) {
    const v = headers[k];
    if (k.length > 85 || typeof v !== 'string') return true;
    bound += 6 * (k.length + v.length) + 6;
    if (bound > MAX_HEADER_TABLE_BYTES) return true;
  }
  return false;
}

export function checkPublish(
  what: string,
  exchange: string,
  routingKey: string,
  props: MessageProperties | undefined,
): void {
  const namesShort =
    typeof exchange === 'string' &&
    typeof routingKey === 'string' &&
    exchange.length <= 85 &&
    routingKey.length <= 85;
  if (namesShort && (props === undefined || !propertiesNeedCheck(props))) return;
  const operation = `${what} to ${typeof exchange === 'string' ? shortForLog(exchange) || '(default)' : '?'}/${typeof routingKey === 'string' ? shortForLog(routingKey) : '?'}`;
  checkNames(operation, [
    ['exchange name', exchange],
    ['routing key', routingKey],
  ]);
  checkProperties(operation, props);
}
