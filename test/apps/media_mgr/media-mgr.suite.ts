/**
 * media_mgr's behaviour suite: its tree under a supervisor in a runtime of its own, on a
 * document store the caller opens (embedded in media-mgr.test.ts, pouchdb-server in
 * media-mgr.couchdb.test.ts), talked to over HTTP the way FreeSWITCH's http_put and a
 * playback fetch do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { GenServer, Runtime, Supervisor, formatReason, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { accountDbName, type DocumentStore } from '../../../src/store/index.ts';
import { mediaMgrTree } from '../../../supervisors/media_mgr.sup.ts';
import { MEDIA_HTTP, mediaBaseUrl, mediaStoreUrl } from '../../../apps/media_mgr/media-urls.ts';
import { MediaHttp } from '../../../apps/media_mgr/http-server.ts';
import { mediaMgrSettings } from '../../../apps/media_mgr/settings.ts';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** One HTTP request on a connection of its own (no keep-alive pool). */
function request(method: string, target: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(target, { method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until<T>(cond: () => T | undefined | false, what: string, limitMs = 10_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A WAV file: RIFF header, then noise with every byte value (a text decoding would show). */
export function wavBody(samples: number): Buffer {
  const data = randomBytes(samples * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

const MAX_BODY = 256 * 1024;

/** A Buffer as fetch's body (Node's fetch takes it; its DOM types do not list Buffer). */
export const bytes = (b: Buffer): BodyInit => b as unknown as BodyInit;

export function describeMediaMgr(label: string, open: () => Promise<DocumentStore>): void {
  describe(`media_mgr: ${label}`, () => {
    const { logger, lines } = memoryLogger('media-test@localhost', 'debug');
    const rt = new Runtime({ node: 'media-test@localhost', logger });
    const account = randomBytes(16).toString('hex');
    const db = accountDbName(account, 'unencoded');
    let store: DocumentStore;
    let sup: Pid;
    let port: number;
    const url = (doc: string, att: string): string => mediaStoreUrl(mediaBaseUrl(rt)!, db, doc, att);
    const start = (p: number) =>
      Supervisor.start(
        rt,
        mediaMgrTree(
          { store, config: { settings: { media_mgr: { port: p, max_body_bytes: MAX_BODY } } } },
          {},
        ),
      );

    beforeAll(async () => {
      store = await open();
      await store.createDb(db);
      port = await freePort();
      const r = await start(port);
      if (r.type !== 'ok') throw new Error(`media_mgr did not start: ${JSON.stringify(r)}`);
      sup = r.pid;
    });

    afterAll(async () => {
      await rt.shutdown();
      await store.deleteDb(db).catch(() => undefined);
      await store.close();
    });

    it('hands out URLs on its address, the database in Kazoo encoded form', () => {
      expect(mediaBaseUrl(rt)).toBe(`http://127.0.0.1:${port}`);
      expect(url('msg1', 'message.wav')).toBe(
        `http://127.0.0.1:${port}/store/${encodeURIComponent(db)}/msg1/message.wav`,
      );
    });

    it('stores a PUT WAV as an attachment and serves the same bytes back', async () => {
      const wav = wavBody(8000);
      const put = await fetch(url('vm-1', 'message.wav'), {
        method: 'PUT',
        headers: { 'content-type': 'audio/x-wav' },
        body: bytes(wav),
      });
      expect(put.status).toBe(201);
      const answer = (await put.json()) as { ok: boolean; id: string; rev: string };
      expect(answer).toMatchObject({ ok: true, id: 'vm-1', rev: expect.stringMatching(/^1-/) as unknown });

      const got = await fetch(url('vm-1', 'message.wav'));
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('audio/x-wav');
      expect(got.headers.get('content-length')).toBe(String(wav.length));
      expect(Buffer.from(await got.arrayBuffer()).equals(wav)).toBe(true);

      const head = await fetch(url('vm-1', 'message.wav'), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(wav.length));
      expect((await head.arrayBuffer()).byteLength).toBe(0);

      const doc = await store.get(db, 'vm-1');
      expect(doc._rev).toBe(answer.rev);
      expect(doc._attachments).toEqual({
        'message.wav': expect.objectContaining({
          content_type: 'audio/x-wav',
          length: wav.length,
          digest: `md5-${createHash('md5').update(wav).digest('base64')}`,
          stub: true,
        }) as unknown,
      });
      expect(lines.some((l) => l.msg === 'media stored' && l.id === undefined && l.doc === 'vm-1')).toBe(
        true,
      );
    });

    it('takes document ids and names that need encoding', async () => {
      const wav = wavBody(30);
      const target = url('msg 1/part', 'a#b ?.wav');
      expect((await fetch(target, { method: 'PUT', body: bytes(wav) })).status).toBe(201);
      expect(Object.keys((await store.get(db, 'msg 1/part'))._attachments as object)).toEqual(['a#b ?.wav']);
      expect(Buffer.from(await (await fetch(target)).arrayBuffer()).equals(wav)).toBe(true);
    });

    it('adds to an existing message document, keeping its fields', async () => {
      await store.save(db, { _id: 'vm-2', folder: 'new', pvt_type: 'mailbox_message' });
      const put = await fetch(url('vm-2', 'message.wav'), { method: 'PUT', body: bytes(wavBody(100)) });
      expect(put.status).toBe(201);
      const doc = await store.get(db, 'vm-2');
      expect(doc.folder).toBe('new');
      expect(doc._attachments).toMatchObject({ 'message.wav': { content_type: 'audio/x-wav' } });
    });

    it('retries on the current revision when PUTs to one document race: none is lost', async () => {
      const bodies = [0, 1, 2, 3, 4].map((i) => wavBody(200 + i));
      const puts = await Promise.all(
        bodies.map((b, i) =>
          fetch(url('vm-race', `part${i}.wav`), {
            method: 'PUT',
            headers: { 'content-type': 'audio/x-wav' },
            body: bytes(b),
          }),
        ),
      );
      expect(puts.map((p) => p.status)).toEqual([201, 201, 201, 201, 201]);
      const revs = await Promise.all(puts.map(async (p) => ((await p.json()) as { rev: string }).rev));
      expect(new Set(revs).size).toBe(5);
      const doc = await store.get(db, 'vm-race');
      expect(Object.keys(doc._attachments as object).sort()).toEqual(
        [0, 1, 2, 3, 4].map((i) => `part${i}.wav`),
      );
      for (const [i, b] of bodies.entries()) {
        const got = await fetch(url('vm-race', `part${i}.wav`));
        expect(Buffer.from(await got.arrayBuffer()).equals(b)).toBe(true);
      }
      // two PUTs of the same name: both stored in turn, one of them is what is served
      const [a, b] = [wavBody(10), wavBody(11)];
      const same = await Promise.all(
        [a, b].map((body) => fetch(url('vm-race', 'same.wav'), { method: 'PUT', body: bytes(body) })),
      );
      expect(same.map((p) => p.status)).toEqual([201, 201]);
      const served = Buffer.from(await (await fetch(url('vm-race', 'same.wav'))).arrayBuffer());
      expect(served.equals(a) || served.equals(b)).toBe(true);
    });

    it('answers 404 with a JSON error for a missing database, document or attachment', async () => {
      const other = accountDbName(randomBytes(16).toString('hex'), 'unencoded');
      const cases = [
        fetch(url('nobody', 'message.wav')),
        fetch(url('vm-1', 'other.wav')),
        fetch(mediaStoreUrl(mediaBaseUrl(rt)!, other, 'vm-1', 'message.wav')),
        fetch(mediaStoreUrl(mediaBaseUrl(rt)!, other, 'vm-1', 'message.wav'), {
          method: 'PUT',
          body: bytes(wavBody(10)),
        }),
        fetch(`${mediaBaseUrl(rt)!}/nothing/here`),
      ];
      for (const res of await Promise.all(cases)) {
        expect(res.status).toBe(404);
        const body = (await res.json()) as { error: string; request_id: string };
        expect(body.error).toEqual(expect.any(String));
        expect(lines.some((l) => l.msg === 'media request refused' && l.request_id === body.request_id)).toBe(
          true,
        );
      }
      expect(await store.dbExists(other)).toBe(false);
    });

    it('refuses bad requests with 4xx and a JSON error, and goes on serving', async () => {
      const base = mediaBaseUrl(rt)!;
      const enc = encodeURIComponent(db);
      const expectRefused = async (res: Response, status: number, pattern: RegExp): Promise<void> => {
        expect(res.status).toBe(status);
        const body = (await res.json()) as { error: string; request_id: string };
        expect(body.error).toMatch(pattern);
        expect(lines.some((l) => l.msg === 'media request refused' && l.request_id === body.request_id)).toBe(
          true,
        );
      };
      await expectRefused(
        await fetch(`${base}/store/Bad%20Db/vm-1/m.wav`, { method: 'PUT', body: bytes(wavBody(10)) }),
        400,
        /illegal database name/,
      );
      await expectRefused(
        await fetch(`${base}/store/${enc}/vm-1/_hidden.wav`, { method: 'PUT', body: bytes(wavBody(10)) }),
        400,
        /attachment name/,
      );
      await expectRefused(await fetch(`${base}/store/${enc}/_bad/m.wav`), 400, /starts with '_'/);
      await expectRefused(
        await fetch(url('vm-5', 'm.wav'), { method: 'PUT', headers: { 'content-type': 'audio/x-wav' } }),
        400,
        /needs the media/,
      );
      await expectRefused(
        await fetch(url('vm-5', 'm.xyz'), { method: 'PUT', body: bytes(Buffer.from('abc')) }),
        415,
        /Content-Type/,
      );
      await expectRefused(
        await fetch(url('vm-5', 'm.wav'), {
          method: 'PUT',
          headers: { 'content-type': 'wav' },
          body: bytes(Buffer.from('abc')),
        }),
        415,
        /media type/i,
      );
      await expectRefused(
        await fetch(url('vm-5', 'm.wav'), { method: 'PUT', body: bytes(Buffer.alloc(MAX_BODY + 1)) }),
        413,
        /too large/i,
      );
      const del = await fetch(url('vm-1', 'message.wav'), { method: 'DELETE' });
      expect(del.headers.get('allow')).toBe('GET, HEAD, PUT');
      await expectRefused(del, 405, /not allowed/);
      expect(rt.isAlive(rt.whereis(MEDIA_HTTP)!)).toBe(true);
      expect((await fetch(url('vm-1', 'message.wav'))).status).toBe(200);
      await expectRefused(await fetch(url('vm-5', 'm.wav')), 404, /not_found/);
    });

    it('comes back on the same address after its server process is killed', async () => {
      const before = rt.whereis(MEDIA_HTTP)!;
      const exited = rt.awaitExit(before);
      rt.crash(before, 'killed');
      await exited;
      const after = await until(() => {
        const p = rt.whereis(MEDIA_HTTP);
        return p !== undefined && String(p) !== String(before) && p;
      }, 'the restarted media_mgr_http');
      expect(rt.isAlive(sup)).toBe(true);
      expect(rt.isAlive(after)).toBe(true);
      expect(mediaBaseUrl(rt)).toBe(`http://127.0.0.1:${port}`);
      // New connections, as a switch's http_put makes: fetch's pooled keep-alive connections
      // went down with the killed server.
      const wav = wavBody(50);
      expect((await request('PUT', url('vm-after', 'message.wav'), wav)).status).toBe(201);
      const got = await request('GET', url('vm-after', 'message.wav'));
      expect(got.status).toBe(200);
      expect(got.body.equals(wav)).toBe(true);
      expect((await request('GET', url('vm-1', 'message.wav'))).status).toBe(200);
    });

    it('a killed server process has let go of its port by the time its exit is seen', async () => {
      // As OTP closes a dead process's ports before its links hear of the exit: what the
      // supervisor restarts next finds the address free.
      const other = new Runtime({ node: 'media-test3@localhost', logger });
      const p = await freePort();
      try {
        const r = await GenServer.start(other, MediaHttp, {
          store,
          settings: mediaMgrSettings({ port: p }, {}),
        });
        if (r.type !== 'ok') throw new Error(`media_http did not start: ${JSON.stringify(r)}`);
        const exited = other.awaitExit(r.pid);
        other.crash(r.pid, 'killed');
        await exited;
        const next = createServer();
        const listened = await new Promise<string>((resolve) => {
          next.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          next.listen(p, '127.0.0.1', () => resolve('listening'));
        });
        next.close();
        expect(listened).toBe('listening');
      } finally {
        await other.shutdown();
      }
    });

    it('fails to start with a clear error when its port is in use', async () => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const taken = (holder.address() as { port: number }).port;
      const other = new Runtime({ node: 'media-test2@localhost', logger });
      try {
        const r = await Supervisor.start(
          other,
          mediaMgrTree({ store, config: { settings: { media_mgr: { port: taken } } } }, {}),
        );
        expect(r.type).toBe('error');
        expect(formatReason((r as { reason: unknown }).reason)).toContain(
          `media_mgr cannot listen on 127.0.0.1:${taken}: the address is in use`,
        );
      } finally {
        await other.shutdown();
        holder.close();
      }
    });
  });
}
