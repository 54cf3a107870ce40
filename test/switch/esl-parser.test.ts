/**
 * ESL framing: the parser and the encoder, byte for byte.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EslFrameError, EslParser, parseEventBody } from '../../src/switch/esl-parser.ts';
import {
  apiResponse,
  commandReply,
  disconnectNotice,
  encodeFrame,
  renderEvent,
  safeUrlDecode,
  urlEncode,
  type SwitchEvent,
} from '../../src/switch/esl-wire.ts';

const sample: SwitchEvent = {
  name: 'CUSTOM',
  headers: [
    ['Event-Name', 'CUSTOM'],
    ['Event-Subclass', 'sms::send_message'],
    ['Caller-Caller-ID-Name', 'Zoë Ünïcode: 100%'],
    ['variable_sip_full_to', '"222" <sip:222@10.0.0.1;user=phone>'],
  ],
  body: 'héllo\nworld\n\nwith blank lines',
};

describe('command framing (simulator side)', () => {
  it('reads a command split across chunks and several commands in one chunk', () => {
    const p = new EslParser({ mode: 'command' });
    expect(p.push(Buffer.from('api sta'))).toEqual([]);
    expect(p.push(Buffer.from('tus\n'))).toEqual([]);
    const frames = p.push(
      Buffer.from('\nevent plain ALL\n\nsendmsg abc\ncall-command: execute\nexecute-app-name: answer\n\n'),
    );
    expect(frames.map((f) => f.command)).toEqual(['api status', 'event plain ALL', 'sendmsg abc']);
    expect(frames[2]?.headers).toEqual([
      ['call-command', 'execute'],
      ['execute-app-name', 'answer'],
    ]);
  });

  it('takes exactly Content-Length bytes of body, counted in UTF-8 bytes', () => {
    const body = 'Grüße 👋\n\nline';
    const p = new EslParser({ mode: 'command' });
    const bytes = Buffer.from(
      `sendmsg x\ncontent-type: text/plain\ncontent-length: ${Buffer.byteLength(body)}\n\n${body}api status\n\n`,
    );
    const frames = p.push(bytes);
    expect(frames.map((f) => [f.command, f.body])).toEqual([
      ['sendmsg x', body],
      ['api status', undefined],
    ]);
  });

  it('accepts CRLF line ends', () => {
    const frames = new EslParser({ mode: 'command' }).push(Buffer.from('auth ClueCon\r\n\r\n'));
    expect(frames.map((f) => f.command)).toEqual(['auth ClueCon']);
  });

  it('gives the same frames however the bytes are chunked', () => {
    const stream = Buffer.from(
      'api status\n\nbgapi originate user/1000 &park()\nJob-UUID: j1\n\nsendmsg u\ncontent-length: 5\n\nhelloexit\n\n',
    );
    const expected = new EslParser({ mode: 'command' }).push(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new EslParser({ mode: 'command' });
        const got = [];
        let at = 0;
        for (const c of [...points, stream.length]) {
          got.push(...p.push(stream.subarray(at, c)));
          at = c;
        }
        expect(got).toEqual(expected);
      }),
    );
  });

  it('refuses an oversized frame or a bad Content-Length with a clear error', () => {
    const small = new EslParser({ mode: 'command', maxHeaderBytes: 64, maxBodyBytes: 100 });
    expect(() => small.push(Buffer.from(`api ${'x'.repeat(100)}`))).toThrow(EslFrameError);
    expect(() =>
      new EslParser({ mode: 'command', maxBodyBytes: 100 }).push(
        Buffer.from('sendmsg x\ncontent-length: 101\n\n'),
      ),
    ).toThrow(/over the 100-byte limit/);
    expect(() =>
      new EslParser({ mode: 'command' }).push(Buffer.from('sendmsg x\ncontent-length: ten\n\n')),
    ).toThrow(/bad Content-Length/);
  });
});

describe('frames the switch writes', () => {
  it('writes replies with FreeSWITCH texts and byte-exact lengths', () => {
    expect(commandReply('+OK accepted').toString()).toBe(
      'Content-Type: command/reply\nReply-Text: +OK accepted\n\n',
    );
    expect(apiResponse('+OK ü\n').toString()).toBe(
      'Content-Type: api/response\nContent-Length: 7\n\n+OK ü\n',
    );
    expect(disconnectNotice().toString()).toBe(
      'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n',
    );
    expect(encodeFrame([['Content-Type', 'auth/request']]).toString()).toBe('Content-Type: auth/request\n\n');
  });

  it('url-encodes plain header values as FreeSWITCH does and decodes them back', () => {
    expect(urlEncode('sofia/internal/1001@172.16.50.134')).toBe('sofia/internal/1001%40172.16.50.134');
    expect(urlEncode('2015-01-06 15:11:55')).toBe('2015-01-06%2015%3A11%3A55');
    expect(urlEncode('+OK\n')).toBe('%2BOK%0A');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(safeUrlDecode(urlEncode(s))).toBe(s);
      }),
    );
  });

  it('never throws on broken % escapes', () => {
    expect(safeUrlDecode('100% sure %E0%A4%A and %41')).toBe('100% sure %E0%A4%A and A');
    expect(safeUrlDecode('%ZZ')).toBe('%ZZ');
  });

  it.each(['plain', 'json'] as const)(
    'renders an event as %s that parses back to the same headers and body',
    (format) => {
      const frame = new EslParser({ mode: 'stream' }).push(
        renderEvent({ ...sample, frames: undefined }, format),
      );
      expect(frame).toHaveLength(1);
      const ev = parseEventBody(frame[0]!);
      expect(ev?.headers).toEqual(sample.headers);
      expect(ev?.body).toBe(sample.body);
    },
  );

  it('renders xml events with the body and escaped values', () => {
    const text = renderEvent({ ...sample, frames: undefined }, 'xml').toString();
    expect(text).toMatch(/^Content-Length: \d+\nContent-Type: text\/event-xml\n\n<event>/);
    expect(text).toContain('<Event-Subclass>sms::send_message</Event-Subclass>');
    expect(text).toContain(
      '<variable_sip_full_to>&quot;222&quot; &lt;sip:222@10.0.0.1;user=phone&gt;</variable_sip_full_to>',
    );
    expect(text).toContain('<body>héllo\nworld\n\nwith blank lines</body>');
  });
});
