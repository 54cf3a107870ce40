/**
 * Routing-key segments, encoded exactly as Kazoo's `kz_amqp_util:encode/1`.
 *
 * Contract
 * - `encodeSegment(s)`: bytes `a-z A-Z 0-9 - ~ _` stay, space becomes `+`, every other byte
 *   of the UTF-8 form becomes `%XX` (upper-case hex), so `.` becomes `%2E` and `@` `%40`.
 *   A segment that is exactly `*` or `#` is kept (a binding wildcard); empty stays empty.
 *   The result never contains `.`, so a value cannot add words to a key.
 * - `decodeSegment(s)` inverts it for any string `encodeSegment` produced (except that `*`
 *   and `#` stay wildcards); it is for logs and tests, Kazoo has no decoder on the wire.
 * - `routingKey(...parts)`: fixed words and already-encoded segments joined with `.`.
 *   Use it with `encodeSegment` on every variable part, on the publish side and the bind
 *   side alike (binding with `*` / `#` passes through).
 */

const PLAIN = /^[A-Za-z0-9\-~_]$/;
const ALL_PLAIN = /^[A-Za-z0-9\-~_]*$/;

/** What each byte of a segment's UTF-8 form becomes. */
const BYTE_OUT: readonly string[] = Array.from({ length: 256 }, (_, byte) => {
  const ch = String.fromCharCode(byte);
  if (byte < 0x80 && PLAIN.test(ch)) return ch;
  if (byte === 0x20) return '+';
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
});

export function encodeSegment(segment: string): string {
  // most segments (call-ids, queue names, realms without dots) need nothing encoded
  if (segment === '*' || segment === '#' || ALL_PLAIN.test(segment)) return segment;
  // ASCII (a realm, a number with `+`): its UTF-8 bytes are its char codes
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 0x80) return encodeBytes(segment);
    out += BYTE_OUT[c]!;
  }
  return out;
}

function encodeBytes(segment: string): string {
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) out += BYTE_OUT[byte]!;
  return out;
}

export function decodeSegment(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '+') bytes.push(0x20);
    else if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(segment.slice(i + 1, i + 3))) {
      bytes.push(parseInt(segment.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Joins routing-key words. Variable words must already be encoded. */
export function routingKey(...parts: readonly string[]): string {
  // a loop, not parts.join('.'): keys are made for every message published (call events)
  let key = parts[0] ?? '';
  for (let i = 1; i < parts.length; i++) key += `.${parts[i]!}`;
  return key;
}
