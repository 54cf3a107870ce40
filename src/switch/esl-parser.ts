/**
 * Incremental ESL frame parser, for both directions of the event socket.
 *
 * Contract
 * - `push(chunk)` takes bytes as they arrive from TCP and returns every frame completed
 *   so far: a frame split over several chunks is held until whole; several frames in one
 *   chunk all come out, in order.
 * - A frame is a header block ended by a blank line (`\n\n`; `\r\n` line ends are
 *   accepted), followed by exactly `Content-Length` bytes (UTF-8 bytes) when that header
 *   is present.
 * - mode `command` (simulator side): the first line is the command (`api status`), the
 *   other lines are headers with raw values. mode `stream` (client side): every line is
 *   a header, values are url-decoded with `safeUrlDecode` (never throws).
 * - Limits: a header block longer than `maxHeaderBytes` or a Content-Length larger than
 *   `maxBodyBytes` (or not a number) throws `EslFrameError`; the stream cannot be
 *   resynchronised after that, so the owner answers with an error and closes.
 * - `parseEventBody(frame)` turns a `text/event-plain` / `text/event-json` frame body into
 *   the event's own headers and body, as a client sees them.
 */
import { safeUrlDecode, type Header } from './esl-wire.ts';

export interface EslFrame {
  /** First line in command mode (`sendmsg <uuid>`), '' in stream mode. */
  readonly command: string;
  readonly headers: Header[];
  readonly body?: string;
}

export class EslFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EslFrameError';
  }
}

export interface EslParserOptions {
  mode: 'command' | 'stream';
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
/** mod_event_socket refuses command bodies over 16 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export class EslParser {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { command: string; headers: Header[]; length: number } | undefined;
  /** Where to resume looking for the blank line (bytes before it were already scanned). */
  private scanFrom = 0;
  private readonly maxHeader: number;
  private readonly maxBody: number;

  constructor(private readonly opts: EslParserOptions) {
    this.maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): EslFrame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: EslFrame[] = [];
    for (;;) {
      if (this.pending !== undefined) {
        if (this.buffer.length < this.pending.length) break;
        const body = this.buffer.subarray(0, this.pending.length).toString('utf8');
        this.buffer = this.buffer.subarray(this.pending.length);
        frames.push({ command: this.pending.command, headers: this.pending.headers, body });
        this.pending = undefined;
        continue;
      }
      const end = this.headerEnd();
      if (end === undefined) {
        if (this.buffer.length > this.maxHeader)
          throw new EslFrameError(`header block over ${this.maxHeader} bytes without a blank line`);
        this.scanFrom = Math.max(0, this.buffer.length - 3);
        break;
      }
      this.scanFrom = 0;
      const text = this.buffer.subarray(0, end.at).toString('utf8');
      this.buffer = this.buffer.subarray(end.at + end.len);
      if (text.trim() === '') continue; // stray blank lines between frames
      const frame = this.parseBlock(text);
      if (frame !== undefined) frames.push(frame);
    }
    return frames;
  }

  private headerEnd(): { at: number; len: number } | undefined {
    const lf = this.buffer.indexOf('\n\n', this.scanFrom);
    const crlf = this.buffer.indexOf('\r\n\r\n', this.scanFrom);
    if (lf === -1 && crlf === -1) return undefined;
    if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, len: 4 };
    return { at: lf, len: 2 };
  }

  private parseBlock(text: string): EslFrame | undefined {
    if (text.length > this.maxHeader)
      throw new EslFrameError(`header block of ${text.length} bytes is over ${this.maxHeader}`);
    const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    const command = this.opts.mode === 'command' ? (lines.shift() ?? '').trim() : '';
    const headers: Header[] = [];
    let length: number | undefined;
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      let value = line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (this.opts.mode === 'stream') value = safeUrlDecode(value);
      if (name.toLowerCase() === 'content-length') length = this.contentLength(value);
      headers.push([name, value]);
    }
    if (length !== undefined && length > 0) {
      this.pending = { command, headers, length };
      return undefined;
    }
    return { command, headers };
  }

  private contentLength(value: string): number {
    const n = Number(value.trim());
    if (!Number.isInteger(n) || n < 0) throw new EslFrameError(`bad Content-Length ${JSON.stringify(value)}`);
    if (n > this.maxBody)
      throw new EslFrameError(`Content-Length ${n} is over the ${this.maxBody}-byte limit`);
    return n;
  }
}

/** The event a `text/event-plain` or `text/event-json` frame carries, as a client sees it. */
export function parseEventBody(frame: EslFrame): { headers: Header[]; body?: string } | undefined {
  const type = frame.headers.find(([k]) => k === 'Content-Type')?.[1];
  if (frame.body === undefined) return undefined;
  if (type === 'text/event-json') {
    const obj = JSON.parse(frame.body) as Record<string, string>;
    const headers: Header[] = Object.entries(obj)
      .filter(([k]) => k !== '_body' && k !== 'Content-Length')
      .map(([k, v]) => [k, String(v)] as const);
    return { headers, body: obj._body };
  }
  if (type !== 'text/event-plain') return undefined;
  const inner = new EslParser({ mode: 'stream' });
  const frames = inner.push(Buffer.from(frame.body + (frame.body.endsWith('\n\n') ? '' : '\n\n'), 'utf8'));
  const first = frames[0];
  if (first === undefined) return undefined;
  return { headers: first.headers.filter(([k]) => k !== 'Content-Length'), body: first.body };
}
