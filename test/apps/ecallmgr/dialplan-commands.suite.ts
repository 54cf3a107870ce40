/**
 * The dialplan commands tones, say, set, playseek and store: an app sends each on a call's
 * control queue; the switch simulator runs what Kazoo 4.3's ecallmgr would ask FreeSWITCH
 * for (ecallmgr_call_command get_fs_app), and the app hears CHANNEL_EXECUTE_COMPLETE with
 * Kazoo's Application-Name where Kazoo publishes one. Run on the embedded bus
 * (dialplan-commands.test.ts) and on RabbitMQ (dialplan-commands.rabbitmq.test.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Envelope } from '../../../src/bus/index.ts';
import { wavDurationMs } from '../../../src/switch/wav.ts';
import type { Harness } from './harness.ts';

interface Upload {
  method: string;
  url: string;
  body: Buffer;
}

export function dialplanCommandsSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let server: Server;
  let base: string;
  let uploads: Upload[];
  /** api commands the switch was asked for, as `<name> <args>`. */
  let apis: string[];

  beforeEach(async () => {
    h = await start();
    uploads = [];
    apis = [];
    const api = h.sw.api.bind(h.sw);
    h.sw.api = (command: string, args: string) => {
      apis.push(`${command} ${args}`);
      return api(command, args);
    };
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        uploads.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks) });
        res.writeHead(req.url?.startsWith('/refuse') === true ? 500 : 201).end();
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

  async function answered(): Promise<{ callId: string; ctl: string }> {
    const call = await h.placeRoutedCall();
    await h.app.command(call.ctl, call.callId, 'answer');
    await h.app.waitEvent(call.callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Application-Name'] === 'answer');
    return call;
  }

  const completeOf = (callId: string, app: string): Promise<Envelope> =>
    h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Application-Name'] === app);

  /** A noop after the command: once it completes, everything before it has run. */
  async function noopAfter(callId: string, ctl: string): Promise<Envelope> {
    const msgId = randomBytes(4).toString('hex');
    await h.app.command(ctl, callId, 'noop', { 'Msg-ID': msgId });
    return h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'noop' && m['Application-Response'] === msgId,
    );
  }

  it("tones: the switch plays Kazoo's tone_stream; the app gets CHANNEL_EXECUTE_COMPLETE tones", async () => {
    const { callId, ctl } = await answered();
    await h.app.command(ctl, callId, 'tones', {
      Tones: [
        { Frequencies: ['440'], 'Duration-ON': '500', 'Duration-OFF': '100' },
        { Frequencies: [350, 440], 'Duration-ON': 200, 'Duration-OFF': 0, Volume: -6, Repeat: 2 },
      ],
    });
    const done = await completeOf(callId, 'tones');
    expect(done['Raw-Application-Name']).toBe('playback');
    expect(h.executed(callId)).toContain('playback tone_stream://%(500,100,440);v=-6;l=2;%(200,0,350,440)');
    const played = h.switchEvents.filter((e) => e.uuid === callId && e.name === 'PLAYBACK_STOP');
    expect(played).toHaveLength(1);
  });

  it('say: the switch says the number (one playback per mod_say file); CHANNEL_EXECUTE_COMPLETE say', async () => {
    const { callId, ctl } = await answered();
    await h.app.command(ctl, callId, 'say', {
      Language: 'en-US',
      Type: 'number',
      Method: 'pronounced',
      'Say-Text': '125',
    });
    const done = await completeOf(callId, 'say');
    expect(done['Raw-Application-Data']).toBe('en number pronounced 125');
    expect(h.executed(callId)).toContain('say en number pronounced 125');
    const files = h.switchEvents
      .filter((e) => e.uuid === callId && e.name === 'PLAYBACK_START')
      .map((e) => e.headers.find(([k]) => k === 'Playback-File-Path')?.[1]);
    expect(files).toEqual(['digits/1.wav', 'digits/hundred.wav', 'digits/20.wav', 'digits/5.wav']);
  });

  it('set: channel vars by multiset, call vars exported; later events carry them; their EXECUTEs published, no completion (Kazoo)', async () => {
    const { callId, ctl } = await answered();
    await h.app.command(ctl, callId, 'set', {
      'Custom-Channel-Vars': { 'Owner-ID': 'owner1', Note: 'a b' },
      'Custom-Call-Vars': { 'Call-Tag': 'vip' },
      'Custom-Application-Vars': { Flow: 'vm' },
    });
    const noop = await noopAfter(callId, ctl);
    expect(h.executed(callId)).toEqual(
      expect.arrayContaining([
        'multiset ^^|ecallmgr_Owner-ID=owner1|ecallmgr_Note=a b',
        'multiset ^^|cav_Flow=vm',
        'export ecallmgr_Call-Tag=vip',
      ]),
    );
    expect(noop['Custom-Channel-Vars']).toMatchObject({
      'Owner-ID': 'owner1',
      Note: 'a b',
      'Call-Tag': 'vip',
    });
    expect(noop['Custom-Application-Vars']).toMatchObject({ Flow: 'vm' });
    expect(h.sw.getVar(callId, 'ecallmgr_Call-Tag')).toBe('vip');
    const setEvents = h.app.events(callId).filter((m) => m['Application-Name'] === 'set');
    expect(setEvents.map((m) => m['Event-Name'])).toEqual([
      'CHANNEL_EXECUTE',
      'CHANNEL_EXECUTE',
      'CHANNEL_EXECUTE',
    ]);
  });

  it('set with Insert-At now runs beside a playback (the variables are on the channel before it ends); tail waits', async () => {
    const { callId, ctl } = await answered();
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'silence_stream://20000' });
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'PLAYBACK_START', 'PLAYBACK_START');
    await h.app.command(ctl, callId, 'set', {
      'Custom-Channel-Vars': { Later: 'yes' },
      'Custom-Call-Vars': {},
    });
    await h.app.command(ctl, callId, 'set', {
      'Custom-Channel-Vars': { Now: 'yes' },
      'Custom-Call-Vars': {},
      'Insert-At': 'now',
    });
    await h.waitSwitch(
      (e) =>
        e.uuid === callId &&
        e.name === 'CHANNEL_EXECUTE_COMPLETE' &&
        h.sw.getVar(callId, 'ecallmgr_Now') === 'yes',
      'the now set',
    );
    expect(h.switchEvents.some((e) => e.uuid === callId && e.name === 'PLAYBACK_STOP')).toBe(false);
    expect(h.sw.getVar(callId, 'ecallmgr_Later')).toBeUndefined();
    await h.app.command(ctl, callId, 'playstop');
    const played = await completeOf(callId, 'play');
    expect(played['Custom-Channel-Vars']).toMatchObject({ Now: 'yes' });
    await noopAfter(callId, ctl);
    expect(h.sw.getVar(callId, 'ecallmgr_Later')).toBe('yes');
  });

  it('playseek: uuid_fileman seek on the channel while it plays; the playback goes on to FILE PLAYED', async () => {
    const { callId, ctl } = await answered();
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'silence_stream://1500' });
    await h.waitSwitch((e) => e.uuid === callId && e.name === 'PLAYBACK_START', 'PLAYBACK_START');
    await h.app.command(ctl, callId, 'playseek', { Direction: 'fastforward', Duration: 500 });
    await h.app.command(ctl, callId, 'playseek', { Direction: 'rewind', Duration: 200 });
    const played = await completeOf(callId, 'play');
    expect(played['Application-Response']).toBe('FILE PLAYED');
    expect(apis).toEqual(
      expect.arrayContaining([`uuid_fileman ${callId} seek:+500`, `uuid_fileman ${callId} seek:-200`]),
    );
    // Not playing any more: FreeSWITCH still answers +OK, so no dialplan error.
    await h.app.command(ctl, callId, 'playseek', { Direction: 'fastforward', Duration: 100 });
    await noopAfter(callId, ctl);
    expect(apis.filter((a) => a.startsWith('uuid_fileman'))).toHaveLength(3);
    expect(h.app.seen.filter((m) => m['Event-Name'] === 'dialplan' && m['Call-ID'] === callId)).toEqual([]);
  });

  it('store put: the recording is PUT to Media-Transfer-Destination; CHANNEL_EXECUTE_COMPLETE store success', async () => {
    const { callId, ctl } = await answered();
    const file = `/tmp/store-${randomBytes(4).toString('hex')}.wav`;
    await h.app.command(ctl, callId, 'record', { 'Media-Name': file, 'Time-Limit': '1' });
    await h.app.command(ctl, callId, 'store', {
      'Media-Name': file,
      'Media-Transfer-Method': 'put',
      'Media-Transfer-Destination': `${base}/media/1.wav`,
    });
    const done = await completeOf(callId, 'store');
    expect(done).toMatchObject({ 'Application-Response': 'success', 'Application-Data': file });
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatchObject({ method: 'PUT', url: '/media/1.wav' });
    expect(wavDurationMs(uploads[0]!.body)).toBeGreaterThanOrEqual(1000);
    expect(apis).toContain(`http_put ${base}/media/1.wav ${file}`);
  });

  it('store post, and a refused upload: store failure (no dialplan error); stream: a dialplan error', async () => {
    const { callId, ctl } = await answered();
    const file = `/tmp/store-${randomBytes(4).toString('hex')}.wav`;
    await h.app.command(ctl, callId, 'record', { 'Media-Name': file, 'Time-Limit': '1' });
    await h.app.command(ctl, callId, 'store', {
      'Media-Name': file,
      'Media-Transfer-Method': 'post',
      'Media-Transfer-Destination': `${base}/post/1.wav`,
    });
    expect((await completeOf(callId, 'store'))['Application-Response']).toBe('success');
    expect(uploads[0]).toMatchObject({ method: 'POST', url: '/post/1.wav' });
    await h.app.command(ctl, callId, 'store', {
      'Media-Name': file,
      'Media-Transfer-Method': 'put',
      'Media-Transfer-Destination': `${base}/refuse/1.wav`,
    });
    const failed = await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'store' && m['Application-Response'] === 'failure',
    );
    expect(failed['Application-Data']).toBe(file);
    await h.app.command(ctl, callId, 'store', {
      'Media-Name': file,
      'Media-Transfer-Method': 'stream',
      'Media-Transfer-Destination': `${base}/stream/1.wav`,
    });
    const err = await h.app.waitFor(
      (m) => m['Event-Name'] === 'dialplan' && m['Call-ID'] === callId,
      'the dialplan error',
    );
    expect(String(err['Error-Message'])).toContain('stream');
    expect(h.app.seen.filter((m) => m['Event-Name'] === 'dialplan' && m['Call-ID'] === callId)).toHaveLength(
      1,
    );
  });
}
