/**
 * ecallmgr's switch commands (Kazoo 4.3 voicemail storing a message): a call records on
 * the simulator, an app publishes switch_command send_http for that switch node, ecallmgr
 * has the switch PUT the file to a loopback HTTP server and answers switch_reply. Run on
 * the embedded bus (switch-commands.test.ts) and on RabbitMQ
 * (switch-commands.rabbitmq.test.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { build, switchCommandKey } from '../../../src/api/index.ts';
import { encodeJson, jsonProperties, type Envelope } from '../../../src/bus/index.ts';
import { wavDurationMs } from '../../../src/switch/wav.ts';
import { SWITCH, type Harness } from './harness.ts';

const CTX = { appName: 'test-callflow', appVersion: '4.0.0', node: 'test-app@localhost' };

interface Upload {
  method: string;
  url: string;
  contentType: string | undefined;
  body: Buffer;
}

export function switchCommandsSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let server: Server;
  let base: string;
  let uploads: Upload[];

  beforeEach(async () => {
    h = await start();
    uploads = [];
    // Stores what is PUT, serves it back on GET (404 for anything else).
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET') {
          const stored = uploads.find((u) => u.url === req.url);
          if (stored === undefined) return void res.writeHead(404).end();
          return void res.writeHead(200, { 'Content-Type': 'audio/wav' }).end(stored.body);
        }
        uploads.push({
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks),
        });
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await h.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Publishes a switch_command (or any fields) to the switch's key; its Msg-ID. */
  async function sendCommand(fields: Record<string, unknown>, validate = true): Promise<string> {
    const msgId = randomBytes(8).toString('hex');
    const msg = validate
      ? build('switch_command', { 'Server-ID': h.app.queue, 'Msg-ID': msgId, ...fields }, CTX)
      : {
          'Event-Category': 'switch_event',
          'Event-Name': 'command',
          'App-Name': 'test-callflow',
          'App-Version': '4.0.0',
          Node: 'test-app@localhost',
          'Server-ID': h.app.queue,
          'Msg-ID': msgId,
          ...fields,
        };
    await h.bus.publish('switch', switchCommandKey(SWITCH), encodeJson(msg as Envelope), jsonProperties());
    return msgId;
  }

  const replyTo = (msgId: string): Promise<Envelope> =>
    h.app.waitFor((m) => m['Msg-ID'] === msgId && m['Event-Category'] !== 'call_event', `reply to ${msgId}`);

  const sendHttp = (file: string, url: string): Promise<string> =>
    sendCommand({
      Command: 'send_http',
      'FreeSWITCH-Node': SWITCH,
      Args: { 'File-Name': file, Url: url, 'Http-Method': 'put' },
    });

  /** A call that records `path` for `seconds` (the Time-Limit), then the record has stopped. */
  async function recordMessage(path: string, seconds: number): Promise<void> {
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.command(ctl, callId, 'record', { 'Media-Name': path, 'Time-Limit': String(seconds) });
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'RECORD_STOP', 'RECORD_STOP');
  }

  it('a 3 s message recorded on the call is uploaded by send_http as a 3 s WAV; switch_reply success', async () => {
    const file = `/tmp/vm-${randomBytes(4).toString('hex')}.wav`;
    await recordMessage(file, 3);
    const msgId = await sendHttp(file, `${base}/vmbox/msg/${encodeURIComponent('message.wav')}`);
    const reply = await replyTo(msgId);
    expect(reply).toMatchObject({
      'Event-Category': 'switch_event',
      'Event-Name': 'reply',
      'App-Name': 'ecallmgr',
      Command: 'send_http',
      Result: 'success',
      'FreeSWITCH-Node': SWITCH,
    });
    expect(uploads).toHaveLength(1);
    const put = uploads[0]!;
    expect(put).toMatchObject({ method: 'PUT', url: '/vmbox/msg/message.wav', contentType: 'audio/wav' });
    const ms = wavDurationMs(put.body);
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(ms).toBeLessThan(3500);
  });

  it('a stored message plays back from its URL; a URL with nothing stored is FILE NOT FOUND', async () => {
    const file = `/tmp/vm-${randomBytes(4).toString('hex')}.wav`;
    await recordMessage(file, 1);
    expect((await replyTo(await sendHttp(file, `${base}/vm/1.wav`))).Result).toBe('success');
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    const played = await h.app.command(ctl, callId, 'play', { 'Media-Name': `${base}/vm/1.wav` });
    const done = await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'play' && m['Raw-Application-Data'] === played['Media-Name'],
    );
    expect(done['Application-Response']).toBe('FILE PLAYED');
    const missing = await h.app.command(ctl, callId, 'play', { 'Media-Name': `${base}/vm/none.wav` });
    const failed = await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'play' && m['Raw-Application-Data'] === missing['Media-Name'],
    );
    expect(failed['Application-Response']).toBe('FILE NOT FOUND');
  });

  it('a missing file and a refused URL are Result error with the reason; nothing is uploaded', async () => {
    const missing = await replyTo(await sendHttp('/tmp/no-such-message.wav', `${base}/x`));
    expect(missing).toMatchObject({ Result: 'error', Command: 'send_http' });
    expect(String(missing.Error)).toMatch(/error opening file \/tmp\/no-such-message\.wav/);

    const file = `/tmp/vm-${randomBytes(4).toString('hex')}.wav`;
    await recordMessage(file, 1);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await replyTo(await sendHttp(file, `http://127.0.0.1:${port}/x`));
    expect(refused.Result).toBe('error');
    expect(String(refused.Error)).toMatch(/ECONNREFUSED/);
    expect(uploads).toHaveLength(0);
  });

  it('an unknown Command is not_implemented; bad Args and an invalid message get an error reply and a log line', async () => {
    const unknown = await replyTo(await sendCommand({ Command: 'reload_acls', Args: {} }));
    expect(unknown).toMatchObject({ Result: 'error', Error: 'reload_acls not_implemented' });

    const noUrl = await replyTo(
      await sendCommand({ Command: 'send_http', Args: { 'File-Name': '/tmp/a.wav' } }),
    );
    expect(noUrl).toMatchObject({ Result: 'error', Error: 'invalid arguments: no Url' });
    expect(h.lines.some((l) => l.msg === 'send_http with invalid arguments')).toBe(true);

    const invalid = await replyTo(await sendCommand({ Command: 'send_http' }, false));
    expect(invalid['Event-Category']).toBe('error');
    expect(String(invalid['Error-Message'])).toMatch(/Args/);
  });

  it('with the switch down, send_http is answered Result error failure at once', async () => {
    const seen = h.app.seen.length;
    await h.sw.close();
    await h.waitNode('down', seen);
    const reply = await replyTo(await sendHttp('/tmp/any.wav', `${base}/x`));
    expect(reply.Result).toBe('error');
    expect(String(reply.Error)).toBe(`failure: switch ${SWITCH} is down`);
  });
}
