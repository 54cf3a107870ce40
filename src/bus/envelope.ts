/**
 * The minimal JSON envelope handling the bus needs, pluggable so the catalogue (src/api)
 * can replace it.
 *
 * - Decoder: body bytes -> a JSON object, or a reason: `not_json` (not UTF-8 JSON, or a
 *   gzip body that does not inflate) or `not_object` (JSON but not an object).
 *   `content-encoding: gzip` bodies are inflated first, as Kazoo does.
 * - Validator: returns undefined for a valid message or a short reason. The default
 *   checks only the envelope (`missing_headers`: Event-Category and Event-Name must be
 *   non-empty strings); the catalogue's validator checks each API's own headers.
 * - `encodeJson` + `jsonProperties()` are what a publisher puts on the wire:
 *   content-type application/json and a timestamp in microseconds (Kazoo's habit).
 * - `newMsgId()`: 32 hex chars, as Kazoo's Msg-ID.
 */
import { gunzipSync } from 'node:zlib';
import type { MessageProperties, PublishOptions } from './types.ts';

export type Envelope = Record<string, unknown>;

export type DecodeResult =
  | { readonly ok: true; readonly message: Envelope }
  | { readonly ok: false; readonly reason: string; readonly detail?: string };

export type Decoder = (body: Buffer, properties: MessageProperties) => DecodeResult;

/** undefined = valid; otherwise the reason it is not. */
export type Validator = (message: Envelope) => string | undefined;

export const decodeJson: Decoder = (body, properties) => {
  let text: string;
  try {
    text = properties.contentEncoding === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8');
  } catch (err) {
    return { ok: false, reason: 'not_json', detail: `gzip body does not inflate: ${(err as Error).message}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'not_json', detail: (err as Error).message };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return {
      ok: false,
      reason: 'not_object',
      detail: `JSON ${Array.isArray(value) ? 'array' : typeof value}`,
    };
  return { ok: true, message: value as Envelope };
};

export const validateEnvelope: Validator = (m) => {
  const c = m['Event-Category'];
  const n = m['Event-Name'];
  return typeof c === 'string' && c !== '' && typeof n === 'string' && n !== ''
    ? undefined
    : 'missing_headers';
};

export function encodeJson(message: Envelope): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function jsonProperties(extra?: PublishOptions): PublishOptions {
  return { contentType: 'application/json', timestamp: Date.now() * 1000, ...extra };
}

/** Kazoo's Msg-ID shape (32 hex chars); one generator for the whole project, in src/api. */
export { randomMsgId as newMsgId } from '../api/build.ts';

/** `Category/Name` of a message, for logs and errors. */
export function describeMessage(m: Envelope): string {
  return `${String(m['Event-Category'] ?? '?')}/${String(m['Event-Name'] ?? '?')}`;
}
