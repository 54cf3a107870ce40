/**
 * crossbar's vmboxes (and their voicemail messages), media and menus, driven with fetch
 * as Kazoo 4.3's clients drive them: happy paths, the authorization matrix (a token of an
 * unrelated account refused, of a parent account allowed), validation errors and 404
 * bad_identifier. A voicemail message is written where and as apps/callflow's voicemail
 * store writes it (MODB document plus attachment) and comes back over HTTP byte for byte.
 * The store is the caller's, a fresh one: embedded in crossbar.test.ts, a pouchdb-server
 * of its own in resources.couchdb.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GREGORIAN_OFFSET_S } from '../../../src/api/time.ts';
import { accountDbName, type DocumentStore } from '../../../src/store/index.ts';
import { messageDocId, modbOf } from '../../../apps/callflow/voicemail-store.ts';
import { seedAccounts, startCrossbar, type CbHarness } from './support.ts';

let cb: CbHarness;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

/** A message as callflow_vm_store saves it, with `audio` as its attachment. */
async function leaveMessage(accountId: string, boxId: string, audio: Buffer, ts: number): Promise<string> {
  const db = modbOf(accountId);
  await cb.store.createDb(db);
  const now = new Date();
  const id = messageDocId(now);
  const saved = await cb.store.save(db, {
    _id: id,
    pvt_type: 'mailbox_message',
    pvt_account_id: accountId,
    pvt_account_db: db,
    pvt_created: ts,
    source_type: 'mailbox',
    source_id: boxId,
    media_source: 'recording',
    streamable: true,
    name: `mailbox ${boxId} message`,
    metadata: {
      timestamp: ts,
      from: '1001@sip.customer.test',
      to: '3000@sip.customer.test',
      caller_id_number: '1001',
      caller_id_name: 'Caller',
      call_id: `call-${ts}`,
      folder: 'new',
      length: 3000,
      media_id: id,
    },
  });
  await cb.store.putAttachment(db, id, `${id}.wav`, audio, 'audio/wav', saved._rev);
  return id;
}

const wav = (n: number): Buffer => Buffer.concat([Buffer.from('RIFF'), randomBytes(n)]);

async function upload(path: string, token: string, body: Buffer, type: string, method = 'PUT') {
  const res = await fetch(`${cb.base}${path}`, {
    method,
    headers: { 'x-auth-token': token, 'content-type': type },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function download(path: string, token: string) {
  const res = await fetch(`${cb.base}${path}`, { headers: { 'x-auth-token': token } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

export function describeResources(label: string, open?: () => Promise<DocumentStore>): void {
  describe(`crossbar vmboxes, media, menus: ${label}`, () => {
    beforeAll(async () => {
      cb = await startCrossbar({ store: open === undefined ? undefined : await open() });
      await seedAccounts(cb, ids, tokens);
    }, 30_000);

    afterAll(async () => {
      await cb?.close();
    });

    const acct = (): string => `/v2/accounts/${ids.customer}`;

    it('vmboxes: create, get, list, patch, replace, delete; the stored document is the voicemail module’s', async () => {
      const t = tokens.reseller!;
      const made = await cb.call('PUT', `${acct()}/vmboxes`, {
        token: t,
        data: { name: 'Sales box', mailbox: '3100', pin: '1234' },
      });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({ name: 'Sales box', mailbox: '3100', require_pin: false });
      const stored = await cb.store.get(accountDbName(ids.customer!), id);
      expect(stored).toMatchObject({ pvt_type: 'vmbox', mailbox: '3100', pin: '1234' });
      const list = await cb.call('GET', `${acct()}/vmboxes`, { token: t });
      expect(list.body.data).toContainEqual(
        expect.objectContaining({ id, name: 'Sales box', mailbox: '3100' }),
      );
      const patched = await cb.call('PATCH', `${acct()}/vmboxes/${id}`, {
        token: t,
        data: { skip_greeting: true, pin: null },
      });
      expect(patched.status).toBe(200);
      expect(patched.body.data).toMatchObject({ skip_greeting: true, mailbox: '3100' });
      expect(patched.body.data).not.toHaveProperty('pin');
      const replaced = await cb.call('POST', `${acct()}/vmboxes/${id}`, {
        token: t,
        data: { name: 'Sales', mailbox: '3101' },
      });
      expect(replaced.body.data).toMatchObject({ name: 'Sales', mailbox: '3101' });
      expect(replaced.body.data).not.toHaveProperty('skip_greeting', true);
      expect((await cb.call('DELETE', `${acct()}/vmboxes/${id}`, { token: t })).status).toBe(200);
      const gone = await cb.call('GET', `${acct()}/vmboxes/${id}`, { token: t });
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ message: 'bad_identifier', data: { cause: id } });
    });

    it('vmboxes: name and mailbox are required; a mailbox in use is refused', async () => {
      const t = tokens.reseller!;
      const bad = await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { pin: 12 } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({
        message: 'validation error',
        data: {
          name: { required: {} },
          mailbox: { required: {} },
          pin: { type: { target: 'string' } },
        },
      });
      const short = await cb.call('PUT', `${acct()}/vmboxes`, {
        token: t,
        data: { name: 'A', mailbox: '3200', pin: '12' },
      });
      expect(short.body.data).toMatchObject({ pin: { minLength: { target: 4 } } });
      await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { name: 'A', mailbox: '3200' } });
      const dup = await cb.call('PUT', `${acct()}/vmboxes`, {
        token: t,
        data: { name: 'B', mailbox: '3200' },
      });
      expect(dup.status).toBe(400);
      expect(dup.body.data).toMatchObject({ mailbox: { unique: { cause: '3200' } } });
    });

    it('a message left by the voicemail store is listed, read, downloaded with identical bytes, moved and deleted', async () => {
      const t = tokens.reseller!;
      const box = (
        await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { name: 'Box', mailbox: '3300' } })
      ).body.data.id as string;
      const other = (
        await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { name: 'Other', mailbox: '3301' } })
      ).body.data.id as string;
      const audio = wav(48_000);
      // Kazoo's times are Gregorian seconds; `second` is as an earlier Fife may have stored
      // it, in Unix seconds: it is still the later one, and answered in Gregorian seconds.
      const first = await leaveMessage(ids.customer!, box, audio, 1_700_000_000 + GREGORIAN_OFFSET_S);
      const second = await leaveMessage(ids.customer!, box, wav(100), 1_700_000_100);
      await leaveMessage(ids.customer!, other, wav(100), 1_700_000_050 + GREGORIAN_OFFSET_S);
      const msgs = `${acct()}/vmboxes/${box}/messages`;
      const list = await cb.call('GET', msgs, { token: t });
      expect(list.status, list.text).toBe(200);
      expect(list.body.data.map((m: { media_id: string }) => m.media_id)).toEqual([first, second]);
      expect(list.body.data[0]).toMatchObject({
        folder: 'new',
        caller_id_number: '1001',
        length: 3000,
        timestamp: 1_700_000_000 + GREGORIAN_OFFSET_S,
      });
      expect(list.body.data[1].timestamp).toBe(1_700_000_100 + GREGORIAN_OFFSET_S);
      const boxes = await cb.call('GET', `${acct()}/vmboxes`, { token: t });
      expect(boxes.body.data).toContainEqual(expect.objectContaining({ id: box, messages: 2 }));
      expect(boxes.body.data).toContainEqual(expect.objectContaining({ id: other, messages: 1 }));
      const one = await cb.call('GET', `${msgs}/${first}`, { token: t });
      expect(one.body.data).toMatchObject({
        media_id: first,
        call_id: `call-${1_700_000_000 + GREGORIAN_OFFSET_S}`,
      });
      const raw = await download(`${msgs}/${first}/raw`, t);
      expect(raw.status).toBe(200);
      expect(raw.headers.get('content-type')).toBe('audio/wav');
      expect(raw.headers.get('content-disposition')).toContain('attachment');
      expect(raw.bytes.equals(audio)).toBe(true);
      const saved = await cb.call('POST', `${msgs}/${first}`, { token: t, data: { folder: 'saved' } });
      expect(saved.body.data).toMatchObject({ media_id: first, folder: 'saved' });
      const byQuery = await cb.call('POST', `${msgs}/${first}?folder=new`, { token: t });
      expect(byQuery.body.data).toMatchObject({ media_id: first, folder: 'new' });
      await cb.call('POST', `${msgs}/${first}`, { token: t, data: { folder: 'saved' } });
      const badFolder = await cb.call('POST', `${msgs}/${first}`, { token: t, data: { folder: 'trash' } });
      expect(badFolder.status).toBe(400);
      expect(badFolder.body.data).toMatchObject({ folder: { enum: { value: 'trash' } } });
      const deleted = await cb.call('DELETE', `${msgs}/${second}`, { token: t });
      expect(deleted.body.data).toMatchObject({ media_id: second, folder: 'deleted' });
      const after = await cb.call('GET', msgs, { token: t });
      const counted = await cb.call('GET', `${acct()}/vmboxes`, { token: t });
      expect(counted.body.data).toContainEqual(expect.objectContaining({ id: box, messages: 1 }));
      expect(after.body.data).toEqual([expect.objectContaining({ media_id: first, folder: 'saved' })]);
      // Kazoo's soft delete: the message is still stored, in folder deleted.
      const doc = await cb.store.get(modbOf(ids.customer!), second);
      expect(doc.metadata).toMatchObject({ folder: 'deleted' });
      // Another box's message, an unknown one and a malformed id are 404 bad_identifier.
      const [elsewhere] = (await cb.call('GET', `${acct()}/vmboxes/${other}/messages`, { token: t })).body
        .data;
      for (const m of [elsewhere.media_id as string, '202001-0123456789abcdef', 'nonsense']) {
        const r = await cb.call('GET', `${msgs}/${m}`, { token: t });
        expect(r.status, m).toBe(404);
        expect(r.body).toMatchObject({ message: 'bad_identifier', data: { cause: m } });
      }
      const noBox = await cb.call('GET', `${acct()}/vmboxes/0123456789abcdef0123456789abcdef/messages`, {
        token: t,
      });
      expect(noBox.status).toBe(404);
    });

    it('media: create, upload audio, download it identical, list, replace the audio, delete', async () => {
      const t = tokens.reseller!;
      const made = await cb.call('PUT', `${acct()}/media`, { token: t, data: { name: 'Greeting' } });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({ name: 'Greeting', media_source: 'upload', streamable: true });
      const raw = `${acct()}/media/${id}/raw`;
      const none = await download(raw, t);
      expect(none.status).toBe(404);
      const mp3 = randomBytes(200_000);
      const up = await upload(raw, t, mp3, 'audio/mpeg');
      expect(up.status).toBe(200);
      expect(up.body.data).toMatchObject({ id, content_type: 'audio/mpeg', content_length: 200_000 });
      const got = await download(raw, t);
      expect(got.headers.get('content-type')).toBe('audio/mpeg');
      expect(got.bytes.equals(mp3)).toBe(true);
      const wave = wav(1000);
      expect((await upload(raw, t, wave, 'audio/x-wav', 'POST')).status).toBe(200);
      const again = await download(raw, t);
      expect(again.headers.get('content-type')).toBe('audio/x-wav');
      expect(again.bytes.equals(wave)).toBe(true);
      const doc = await cb.store.get(accountDbName(ids.customer!), id);
      expect(Object.keys(doc._attachments as object)).toHaveLength(1);
      const list = await cb.call('GET', `${acct()}/media`, { token: t });
      expect(list.body.data).toContainEqual(
        expect.objectContaining({
          id,
          name: 'Greeting',
          media_source: 'upload',
          content_type: 'audio/x-wav',
        }),
      );
      const text = await upload(raw, t, Buffer.from('{"data":{}}'), 'application/json');
      expect(text.status).toBe(400);
      expect(text.body).toMatchObject({ message: 'validation error', data: { content_type: { enum: {} } } });
      expect((await cb.call('DELETE', `${acct()}/media/${id}`, { token: t })).status).toBe(200);
      expect((await download(raw, t)).status).toBe(404);
      const bad = await cb.call('PUT', `${acct()}/media`, { token: t, data: { media_source: 'fax' } });
      expect(bad.body.data).toMatchObject({ name: { required: {} }, media_source: { enum: {} } });
    });

    it('menus: create, get, list, patch, delete; the stored document is the menu module’s', async () => {
      const t = tokens.reseller!;
      const made = await cb.call('PUT', `${acct()}/menus`, {
        token: t,
        data: { name: 'Main menu', media: { greeting: 'media-id' }, max_extension_length: 3 },
      });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({ retries: 3, timeout: 10000, max_extension_length: 3 });
      expect(await cb.store.get(accountDbName(ids.customer!), id)).toMatchObject({
        pvt_type: 'menu',
        media: { greeting: 'media-id' },
      });
      const list = await cb.call('GET', `${acct()}/menus`, { token: t });
      expect(list.body.data).toContainEqual({ id, name: 'Main menu', flags: [] });
      const patched = await cb.call('PATCH', `${acct()}/menus/${id}`, { token: t, data: { retries: 5 } });
      expect(patched.body.data).toMatchObject({ retries: 5, name: 'Main menu' });
      const bad = await cb.call('PATCH', `${acct()}/menus/${id}`, {
        token: t,
        data: { retries: 0, name: '' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.data).toMatchObject({ retries: { minimum: { target: 1 } }, name: { minLength: {} } });
      expect((await cb.call('DELETE', `${acct()}/menus/${id}`, { token: t })).status).toBe(200);
      const gone = await cb.call('GET', `${acct()}/menus/${id}`, { token: t });
      expect(gone.body).toMatchObject({ message: 'bad_identifier', data: { cause: id } });
    });

    it('every route: a token of an unrelated account is 403; a parent account token is allowed', async () => {
      const r = tokens.reseller!;
      const u = tokens.unrelated!;
      const box = (
        await cb.call('PUT', `${acct()}/vmboxes`, { token: r, data: { name: 'M', mailbox: '3900' } })
      ).body.data.id as string;
      const msg = await leaveMessage(ids.customer!, box, wav(10), 1_700_000_500);
      const media = (await cb.call('PUT', `${acct()}/media`, { token: r, data: { name: 'M' } })).body.data
        .id as string;
      const menu = (await cb.call('PUT', `${acct()}/menus`, { token: r, data: { name: 'M' } })).body.data
        .id as string;
      const msgs = `${acct()}/vmboxes/${box}/messages`;
      const json: Array<[string, string, unknown?]> = [
        ['GET', `${acct()}/vmboxes`],
        ['PUT', `${acct()}/vmboxes`, { name: 'N', mailbox: '3901' }],
        ['GET', `${acct()}/vmboxes/${box}`],
        ['PATCH', `${acct()}/vmboxes/${box}`, { name: 'M2' }],
        ['POST', `${acct()}/vmboxes/${box}`, { name: 'M3', mailbox: '3900' }],
        ['GET', msgs],
        ['GET', `${msgs}/${msg}`],
        ['POST', `${msgs}/${msg}`, { folder: 'saved' }],
        ['DELETE', `${msgs}/${msg}`],
        ['GET', `${acct()}/media`],
        ['PUT', `${acct()}/media`, { name: 'N' }],
        ['GET', `${acct()}/media/${media}`],
        ['PATCH', `${acct()}/media/${media}`, { description: 'd' }],
        ['GET', `${acct()}/menus`],
        ['PUT', `${acct()}/menus`, { name: 'N' }],
        ['GET', `${acct()}/menus/${menu}`],
        ['POST', `${acct()}/menus/${menu}`, { name: 'M2' }],
      ];
      for (const [m, p, d] of json) {
        const refused = await cb.call(m, p, { token: u, data: d });
        expect(refused.status, `${m} ${p}`).toBe(403);
        expect(refused.body).toMatchObject({ message: 'forbidden', data: { cause: ids.customer } });
        const allowed = await cb.call(m, p, { token: r, data: d });
        expect([200, 201], `${m} ${p}: ${allowed.text}`).toContain(allowed.status);
      }
      const audio = wav(64);
      expect((await upload(`${acct()}/media/${media}/raw`, u, audio, 'audio/wav')).status).toBe(403);
      expect((await upload(`${acct()}/media/${media}/raw`, r, audio, 'audio/wav')).status).toBe(200);
      for (const p of [`${acct()}/media/${media}/raw`, `${msgs}/${msg}/raw`]) {
        expect((await download(p, u)).status, p).toBe(403);
        expect((await download(p, r)).status, p).toBe(200);
      }
      expect((await download(`${acct()}/media/${media}/raw`, r)).bytes.equals(audio)).toBe(true);
      for (const p of [`${acct()}/vmboxes/${box}`, `${acct()}/media/${media}`, `${acct()}/menus/${menu}`]) {
        expect((await cb.call('DELETE', p, { token: u })).status, p).toBe(403);
        expect((await cb.call('DELETE', p, { token: r })).status, p).toBe(200);
      }
      const stored = await cb.store.get(accountDbName(ids.customer!), media).catch(() => undefined);
      expect(stored).toBeUndefined();
    });
  });
}
