/**
 * Decoding an AMQP delivery body into a message (gen_listener's decode step, Kazoo's `kz_amqp_util` / `gen_listener`).
 *
 * Contract — `decode(body, props, { maxBytes, maxDepth? })`:
 * - Returns `{ ok: true, msg }` with a JSON object, or `{ ok: false, reason }`; never throws.
 * - content-type: absent or `application/json` (parameters such as charset allowed) is
 *   decoded; anything else (e.g. Kazoo's `application/erlang`) is refused with a reason.
 * - content-encoding: absent, empty or `identity` = plain; `gzip` = gunzipped, with the
 *   output capped at `maxBytes` (a gzip bomb is refused, not inflated); anything else is
 *   refused.
 * - Size: a body (compressed or not) over `maxBytes` is refused before any parsing.
 * - The bytes must be valid UTF-8 and one JSON value that is an object (not an array,
 *   string, number or null), nested at most `maxDepth` (default 32) levels.
 * - It does not validate against the catalogue: call validate() next.
 */
import { gunzipSync } from 'node:zlib';

export interface DeliveryProps {
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
}

export interface DecodeOptions {
  readonly maxBytes: number;
  readonly maxDepth?: number;
}

export type Decoded =
  | { readonly ok: true; readonly msg: Record<string, unknown> }
  | { readonly ok: false; readonly reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(reason: string): Decoded {
  return { ok: false, reason };
}

/** Nesting of the object or array `v` (at `depth`) deeper than maxDepth? Recursion stops at
 *  maxDepth + 1, so it cannot overflow; scalars are not descended into. */
function tooDeep(v: object, maxDepth: number, depth: number): boolean {
  if (depth > maxDepth) return true;
  if (Array.isArray(v)) {
    for (const c of v as unknown[])
      if (typeof c === 'object' && c !== null && tooDeep(c, maxDepth, depth + 1)) return true;
    return false;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const c = o[k];
    if (typeof c === 'object' && c !== null && Object.hasOwn(o, k) && tooDeep(c, maxDepth, depth + 1))
      return true;
  }
  return false;
}

function unpack(body: Uint8Array, encoding: string, maxBytes: number): Uint8Array | string {
  if (encoding === '' || encoding === 'identity') return body;
  if (encoding !== 'gzip')
    return `unsupported content-encoding '${encoding.slice(0, 40)}' (expected gzip or none)`;
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_BUFFER_TOO_LARGE') return `gzip body inflates beyond the ${maxBytes}-byte limit`;
    return `gzip body could not be inflated: ${e.message ?? String(err)}`;
  }
}

export function decode(body: Uint8Array, props: DeliveryProps, opts: DecodeOptions): Decoded {
  if (!(body instanceof Uint8Array)) return refuse('body is not a byte buffer');
  // What every Fife and Kazoo publisher sends is looked at first, without string work.
  const given = props.contentType;
  if (given != null && given !== 'application/json') {
    const contentType = given.split(';')[0]!.trim().toLowerCase();
    if (contentType !== '' && contentType !== 'application/json')
      return refuse(`unsupported content-type '${contentType.slice(0, 60)}' (expected application/json)`);
  }
  if (body.byteLength > opts.maxBytes)
    return refuse(`body of ${body.byteLength} bytes exceeds the ${opts.maxBytes}-byte limit`);
  const encoding = props.contentEncoding;
  const raw = encoding == null ? body : unpack(body, encoding.trim().toLowerCase(), opts.maxBytes);
  if (typeof raw === 'string') return refuse(raw);
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return refuse('body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return refuse(`body is not JSON: ${(err as Error).message.slice(0, 100)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`;
    return refuse(`body is JSON ${got}, expected an object`);
  }
  const maxDepth = opts.maxDepth ?? 32;
  if (tooDeep(value, maxDepth, 1)) return refuse(`body nests deeper than ${maxDepth} levels`);
  return { ok: true, msg: value as Record<string, unknown> };
}
