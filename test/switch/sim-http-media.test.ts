/**
 * Recorded files on the simulator and HTTP media, over modesl and loopback HTTP: `record`
 * leaves a file, `api http_put|kz_http_put <url> <file>` PUTs it as a WAV of the recorded
 * length, and `playback` of an http URL fetches it (a failed fetch is FILE NOT FOUND).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { silenceWav, wavDurationMs } from '../../src/switch/wav.ts';
import { SwitchFiles } from '../../src/switch/files.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { hdr, modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: Buffer;
}

/** A loopback HTTP server: stores PUT bodies, serves them back on GET, answers `status` if set. */
async function mediaServer(): Promise<{ server: Server; base: string; got: Received[]; status?: number }> {
  const got: Received[] = [];
  const stored = new Map<string, Buffer>();
  const self: { server: Server; base: string; got: Received[]; status?: number } = {
    server: undefined as unknown as Server,
    base: '',
    got,
  };
  self.server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      got.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body,
      });
      if (self.status !== undefined) return void res.writeHead(self.status).end();
      if (req.method === 'PUT' || req.method === 'POST') {
        stored.set(req.url ?? '', body);
        return void res.writeHead(201).end();
      }
      const b = stored.get(req.url ?? '');
      if (b === undefined) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'Content-Type': 'audio/wav' }).end(b);
    });
  });
  await new Promise<void>((r) => self.server.listen(0, '127.0.0.1', () => r()));
  self.base = `http://127.0.0.1:${(self.server.address() as AddressInfo).port}`;
  return self;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let sw: Switch;
let conn: Connection;
let http: Awaited<ReturnType<typeof mediaServer>>;

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 30, recordMaxMs: 5_000 } }));
  conn = await modeslConnect(sw.port);
  http = await mediaServer();
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
  http.server.closeAllConnections();
  await new Promise<void>((r) => http.server.close(() => r()));
});

const execute = (app: string, arg: string, uuid: string): Promise<ModeslEvent> =>
  new Promise((resolve) => conn.execute(app, arg, uuid, resolve));
const api = (cmd: string, args = ''): Promise<string> =>
  new Promise((resolve) => conn.api(cmd, args, (e) => resolve(e.getBody())));

async function parkedCall(): Promise<string> {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await parked;
  return uuid;
}

/** Records `path` on a new call until # is pressed (or for `seconds`); its record_ms. */
async function recordFile(path: string, seconds?: number): Promise<number> {
  const uuid = await parkedCall();
  const started = nextSimEvent(sw, (e) => e.name === 'RECORD_START');
  const done = execute('record', `${path} ${seconds ?? 60}`, uuid);
  await started;
  if (seconds === undefined) sw.pressDigits(uuid, '#');
  return Number((await done).getHeader('variable_record_ms'));
}

describe('recorded files and http_put', () => {
  it('http_put uploads a recorded file as a WAV of its length, with Content-Type audio/wav', async () => {
    const ms = await recordFile('/tmp/vm-1.wav');
    const out = await api('http_put', `${http.base}/store/vm-1.wav /tmp/vm-1.wav`);
    expect(out).toBe(`+OK /tmp/vm-1.wav saved to ${http.base}/store/vm-1.wav (HTTP 201)\n`);
    expect(http.got).toHaveLength(1);
    const put = http.got[0]!;
    expect(put.method).toBe('PUT');
    expect(put.contentType).toBe('audio/wav');
    expect(put.body.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wavDurationMs(put.body)).toBe(ms);
    expect(put.body.length).toBe(44 + ms * 16);
    // http_put keeps the file: a second upload works.
    expect(await api('http_put', `${http.base}/again /tmp/vm-1.wav`)).toMatch(/^\+OK/);
  });

  it("http_post sends the same WAV with POST (what Kazoo's store asks for) and keeps the file", async () => {
    const ms = await recordFile('/tmp/vm-post.wav');
    expect(await api('http_post', `${http.base}/post/vm.wav /tmp/vm-post.wav`)).toBe(
      `+OK /tmp/vm-post.wav saved to ${http.base}/post/vm.wav (HTTP 201)\n`,
    );
    expect(http.got).toHaveLength(1);
    expect(http.got[0]).toMatchObject({ method: 'POST', contentType: 'audio/wav' });
    expect(wavDurationMs(http.got[0]!.body)).toBe(ms);
    expect(await api('http_post', `${http.base}/again /tmp/vm-post.wav`)).toMatch(/^\+OK/);
  });

  it('kz_http_put uploads then removes the file, as mod_kazoo does', async () => {
    await recordFile('/tmp/vm-2.wav');
    expect(await api('kz_http_put', `${http.base}/a /tmp/vm-2.wav`)).toMatch(
      /^\+OK \/tmp\/vm-2\.wav saved to/,
    );
    expect(await api('kz_http_put', `${http.base}/a /tmp/vm-2.wav`)).toBe(
      '-ERR error opening file /tmp/vm-2.wav: No such file or directory\n',
    );
  });

  it('a missing file, a refused connection and a non-2xx status are -ERR with the reason', async () => {
    expect(await api('http_put', `${http.base}/x /tmp/none.wav`)).toBe(
      '-ERR error opening file /tmp/none.wav: No such file or directory\n',
    );
    await recordFile('/tmp/vm-3.wav');
    const port = await closedPort();
    expect(await api('http_put', `http://127.0.0.1:${port}/x /tmp/vm-3.wav`)).toMatch(
      new RegExp(
        `^-ERR Received HTTP error 0 trying to save /tmp/vm-3.wav to http://127.0.0.1:${port}/x: .*ECONNREFUSED`,
      ),
    );
    http.status = 500;
    expect(await api('http_put', `${http.base}/x /tmp/vm-3.wav`)).toBe(
      `-ERR Received HTTP error 500 trying to save /tmp/vm-3.wav to ${http.base}/x\n`,
    );
    expect(await api('http_put', '/tmp/vm-3.wav')).toBe('-ERR USAGE: http_put <url> <file>\n');
  });

  it('a server that never answers gives -ERR after the timeout, and the connection still works', async () => {
    await sw.close();
    ({ sw } = await startSwitch({ httpTimeoutMs: 100 }));
    await modeslClose(conn);
    conn = await modeslConnect(sw.port);
    await recordFile('/tmp/vm-4.wav');
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as AddressInfo).port;
    try {
      expect(await api('http_put', `http://127.0.0.1:${port}/x /tmp/vm-4.wav`)).toMatch(
        /^-ERR Received HTTP error 0 .*no answer within 100 ms/,
      );
      expect(await api('uptime')).toMatch(/^\d+/);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a restart of the switch loses its files', async () => {
    await recordFile('/tmp/vm-5.wav');
    expect(sw.files.get('/tmp/vm-5.wav')).toBeDefined();
    await modeslClose(conn);
    await sw.restart();
    conn = await modeslConnect(sw.port);
    expect(await api('http_put', `${http.base}/x /tmp/vm-5.wav`)).toMatch(/^-ERR error opening file/);
  });
});

describe('playback of an http URL', () => {
  it('fetches the file and plays it for the WAV length', async () => {
    const ms = await recordFile('/tmp/vm-6.wav', 1);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(await api('http_put', `${http.base}/vm-6.wav /tmp/vm-6.wav`)).toMatch(/^\+OK/);
    const uuid = await parkedCall();
    const start = nextSimEvent(sw, (e) => e.name === 'PLAYBACK_START' && e.uuid === uuid);
    const stop = nextSimEvent(sw, (e) => e.name === 'PLAYBACK_STOP' && e.uuid === uuid);
    const done = await execute('playback', `${http.base}/vm-6.wav`, uuid);
    expect(done.getHeader('Application-Response')).toBe('FILE PLAYED');
    expect(hdr(await stop, 'Playback-Status')).toBe('done');
    expect(http.got.at(-1)?.method).toBe('GET');
    // It played for the stored message's length (1 s), not the simulator's default 30 ms.
    const stamp = async (p: Promise<SwitchEvent>): Promise<number> =>
      Number(hdr(await p, 'Event-Date-Timestamp')) / 1000;
    expect((await stamp(stop)) - (await stamp(start))).toBeGreaterThan(ms / 2);
  });

  it('a 404 plays nothing and completes with FILE NOT FOUND', async () => {
    const uuid = await parkedCall();
    const events: string[] = [];
    const off = sw.onEvent((e) => {
      if (e.uuid === uuid) events.push(e.name);
    });
    const done = await execute('playback', `${http.base}/missing.wav`, uuid);
    off();
    expect(done.getHeader('Application-Response')).toBe('FILE NOT FOUND');
    expect(events).not.toContain('PLAYBACK_START');
    expect(http.got.at(-1)).toMatchObject({ method: 'GET', url: '/missing.wav' });
  });
});

describe('files.ts', () => {
  it('keeps at most maxFiles files and maxTotalMs of audio, evicting the oldest with a warn line', () => {
    const { logger, lines } = memoryLogger('files-test@localhost', 'warn');
    const files = new SwitchFiles(logger, { maxFiles: 2, maxTotalMs: 5000 });
    files.put('/a', 1000);
    files.put('/b', 1000);
    files.put('/c', 1000);
    expect([files.get('/a'), files.get('/b'), files.get('/c')]).toEqual([undefined, 1000, 1000]);
    files.put('/d', 4500);
    expect([files.get('/b'), files.get('/c'), files.get('/d')]).toEqual([undefined, undefined, 4500]);
    expect(files.size).toBe(1);
    expect(lines.filter((l) => l.msg === 'recorded file evicted: the file table is full')).toHaveLength(3);
  });
});

describe('wav.ts', () => {
  it('a silence WAV has the length it was made for', () => {
    expect(wavDurationMs(silenceWav(3000))).toBe(3000);
    expect(silenceWav(3000).length).toBe(44 + 48_000);
    expect(wavDurationMs(Buffer.from('not a wav'))).toBeUndefined();
  });
});
