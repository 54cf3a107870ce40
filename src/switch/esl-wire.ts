/**
 * ESL wire encoding: the bytes FreeSWITCH's mod_event_socket writes to a client.
 *
 * Contract
 * - A frame is header lines `Name: value\n`, a blank line, then exactly `Content-Length`
 *   bytes of body (lengths are UTF-8 byte counts, never string lengths).
 * - `urlEncode` escapes a header value the way FreeSWITCH does in `text/event-plain`
 *   (letters, digits and `-_.~/,'()` stay literal, as in recorded FreeSWITCH traffic; everything else, including space, `@`,
 *   `:`, `+`, `%` and newlines, becomes `%XX` of its UTF-8 bytes). `safeUrlDecode` is its
 *   inverse and never throws: a `%` that does not start a valid escape is kept as is.
 * - `renderEvent(event, format)` gives the full frame for `plain`, `json` or `xml`
 *   subscribers, with the event body nested as FreeSWITCH does (an inner Content-Length
 *   for plain, `_body` for json, `<body>` for xml). Only plain values are url-encoded; json
 *   and xml carry them raw (xml-escaped). Frames are cached per format on the
 *   event, so one event sent to many sessions is rendered once per format.
 * - Reply helpers produce the exact texts clients match on (`+OK accepted`, ...).
 */

export type Header = readonly [name: string, value: string];
export type EventFormat = 'plain' | 'json' | 'xml';

/** One switch event as the simulator emits it: ordered headers plus an optional body. */
export interface SwitchEvent {
  readonly name: string;
  readonly headers: Header[];
  readonly body?: string;
  /** Unique-ID of the channel the event is about, if any (for myevents and logs). */
  readonly uuid?: string;
  /** Rendered frames, filled lazily by renderEvent. */
  frames?: Partial<Record<EventFormat, Buffer>>;
}

export const DISCONNECT_TEXT = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
export const SHUTDOWN_TEXT = 'The system is being shut down.\n';
export const RUDE_REJECTION_TEXT = 'Access Denied, go away.\n';

const LITERAL = /[A-Za-z0-9\-_.~/,'()]/;

export function urlEncode(value: string): string {
  let out = '';
  for (const ch of value) {
    if (LITERAL.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Decodes %XX escapes; invalid sequences (bad hex, broken UTF-8) are kept literally. */
export function safeUrlDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Builds a frame from headers and an optional body; Content-Length is computed here. */
export function encodeFrame(headers: readonly Header[], body?: string): Buffer {
  let head = '';
  for (const [k, v] of headers) head += `${k}: ${v}\n`;
  if (body === undefined || body.length === 0) return Buffer.from(head + '\n', 'utf8');
  return Buffer.from(`${head}Content-Length: ${byteLength(body)}\n\n${body}`, 'utf8');
}

/** Like encodeFrame but with Content-Length placed first, as FreeSWITCH orders event and api frames. */
function lengthFirstFrame(contentType: string, body: string): Buffer {
  return Buffer.from(`Content-Length: ${byteLength(body)}\nContent-Type: ${contentType}\n\n${body}`, 'utf8');
}

export const authRequest = (): Buffer => encodeFrame([['Content-Type', 'auth/request']]);

export function commandReply(text: string, extra: readonly Header[] = []): Buffer {
  return encodeFrame([['Content-Type', 'command/reply'], ['Reply-Text', text], ...extra]);
}

export function apiResponse(body: string): Buffer {
  return Buffer.from(`Content-Type: api/response\nContent-Length: ${byteLength(body)}\n\n${body}`, 'utf8');
}

/** The notice written before FreeSWITCH closes a connection; Content-Length is always present (0 for linger). */
export function disconnectNotice(extra: readonly Header[] = [], text = DISCONNECT_TEXT): Buffer {
  let head = 'Content-Type: text/disconnect-notice\n';
  for (const [k, v] of extra) head += `${k}: ${v}\n`;
  return Buffer.from(`${head}Content-Length: ${byteLength(text)}\n\n${text}`, 'utf8');
}

export const rudeRejection = (): Buffer =>
  encodeFrame([['Content-Type', 'text/rude-rejection']], RUDE_REJECTION_TEXT);

export function logData(level: number, text: string): Buffer {
  return encodeFrame(
    [
      ['Content-Type', 'log/data'],
      ['Log-Level', String(level)],
    ],
    text,
  );
}

export function plainEventBody(headers: readonly Header[], body?: string): string {
  let out = '';
  for (const [k, v] of headers) out += `${k}: ${urlEncode(v)}\n`;
  if (body !== undefined && body.length > 0) return `${out}Content-Length: ${byteLength(body)}\n\n${body}`;
  return out + '\n';
}

export function jsonEventBody(headers: readonly Header[], body?: string): string {
  const obj: Record<string, string> = {};
  for (const [k, v] of headers) obj[k] = v;
  if (body !== undefined && body.length > 0) {
    obj['Content-Length'] = String(byteLength(body));
    obj._body = body;
  }
  return JSON.stringify(obj);
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function xmlEventBody(headers: readonly Header[], body?: string): string {
  let out = '<event>\n  <headers>\n';
  for (const [k, v] of headers) out += `    <${k}>${xmlEscape(v)}</${k}>\n`;
  out += '  </headers>\n';
  if (body !== undefined && body.length > 0)
    out += `  <Content-Length>${byteLength(body)}</Content-Length>\n  <body>${xmlEscape(body)}</body>\n`;
  return out + '</event>';
}

export function renderEvent(event: SwitchEvent, format: EventFormat): Buffer {
  const cache = (event.frames ??= {});
  const hit = cache[format];
  if (hit !== undefined) return hit;
  let frame: Buffer;
  if (format === 'json')
    frame = lengthFirstFrame('text/event-json', jsonEventBody(event.headers, event.body));
  else if (format === 'xml')
    frame = lengthFirstFrame('text/event-xml', xmlEventBody(event.headers, event.body));
  else frame = lengthFirstFrame('text/event-plain', plainEventBody(event.headers, event.body));
  cache[format] = frame;
  return frame;
}

export function header(headers: readonly Header[], name: string): string | undefined {
  for (const [k, v] of headers) if (k === name) return v;
  return undefined;
}
