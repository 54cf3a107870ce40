/**
 * The DocumentStore behaviour suite, grouped by the clauses of src/store/document-store.ts.
 * `describeStoreContract(label, open)` runs it against one adapter; the embedded and the
 * CouchDB test files call it, so both adapters must give the same answers.
 * Every database it makes is prefixed with a random run id and deleted afterwards.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import type { Change, DocumentStore, StoreError } from '../../src/store/index.ts';
import {
  ChangeFollower,
  ensureDesignDocs,
  isStoreError,
  RetryingWriter,
  StoreCache,
} from '../../src/store/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';

export async function expectStoreError(
  p: Promise<unknown> | (() => unknown),
  code: string,
  reason?: string,
): Promise<StoreError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(isStoreError(err), `expected a StoreError '${code}', got ${String(err)}`).toBe(true);
  expect((err as StoreError).code).toBe(code);
  if (reason !== undefined) expect((err as StoreError).reason).toBe(reason);
  return err as StoreError;
}

/** Collects followed changes; `next(n)` resolves once n more have arrived. */
export function changeCollector(): { onChange(c: Change): void; next(n: number): Promise<Change[]> } {
  const seen: Change[] = [];
  let waiter: { count: number; resolve(v: Change[]): void } | undefined;
  let taken = 0;
  const check = (): void => {
    if (waiter !== undefined && seen.length - taken >= waiter.count) {
      const out = seen.slice(taken, taken + waiter.count);
      taken += waiter.count;
      const w = waiter;
      waiter = undefined;
      w.resolve(out);
    }
  };
  return {
    onChange(c) {
      seen.push(c);
      check();
    },
    next(n) {
      return new Promise((resolve) => {
        waiter = { count: n, resolve };
        check();
      });
    },
  };
}

const DDOC = {
  _id: '_design/people',
  language: 'javascript',
  views: {
    by_city: {
      map: "function (doc) { if (doc.type === 'person') { emit(doc.city, doc.age); } }",
      reduce: '_count',
    },
    by_age: { map: "function (doc) { if (doc.type === 'person') { emit(doc.age, null); } }" },
    any_key: { map: 'function (doc) { if (doc.k !== undefined) { emit(doc.k, null); } }' },
  },
};

const PEOPLE = [
  { _id: 'p1', type: 'person', city: 'oslo', age: 31 },
  { _id: 'p2', type: 'person', city: 'bergen', age: 25 },
  { _id: 'p3', type: 'person', city: 'oslo', age: 47 },
  { _id: 'p4', type: 'person', city: 'tromso', age: 19 },
  { _id: 'x1', type: 'other' },
];

/** Known answers of the pouchdb-server stand-in that differ from CouchDB 3 (not of our adapters). */
export interface ServerQuirks {
  /** GET of a deleted document says reason 'missing' where CouchDB says 'deleted'. */
  deletedReadsAsMissing?: boolean;
  /** group=true / reduce=true on a map-only view answers rows where CouchDB says 400. */
  groupingOnMapViewAccepted?: boolean;
  /** An attachment put with a rev on a missing document creates it where CouchDB says 409. */
  attachmentRevOnMissingDocCreates?: boolean;
}

export function describeStoreContract(
  label: string,
  open: () => Promise<DocumentStore>,
  quirks: ServerQuirks = {},
): void {
  describe(`DocumentStore contract: ${label}`, () => {
    const run = `t${randomBytes(4).toString('hex')}`;
    const db = (suffix: string): string => `${run}_${suffix}`;
    let store: DocumentStore;

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      if (store === undefined) return;
      for (const name of await store.listDbs().catch(() => [] as string[])) {
        if (name.startsWith(run)) await store.deleteDb(name);
      }
      await store.close();
    });

    describe('databases', () => {
      it('createDb answers true when it created the database and false when it was there', async () => {
        expect(await store.dbExists(db('a'))).toBe(false);
        expect(await store.createDb(db('a'))).toBe(true);
        expect(await store.createDb(db('a'))).toBe(false);
        expect(await store.dbExists(db('a'))).toBe(true);
        expect(await store.listDbs()).toContain(db('a'));
      });

      it('deleteDb answers true when it deleted a database and false when there was none', async () => {
        await store.createDb(db('del'));
        await store.save(db('del'), { _id: 'd1', v: 1 });
        expect(await store.deleteDb(db('del'))).toBe(true);
        expect(await store.dbExists(db('del'))).toBe(false);
        expect(await store.deleteDb(db('del'))).toBe(false);
        await store.createDb(db('del'));
        await expectStoreError(store.get(db('del'), 'd1'), 'not_found', 'missing');
      });

      it('a call on a database that does not exist fails not_found and does not create it', async () => {
        await expectStoreError(store.get(db('nope'), 'x'), 'not_found');
        await expectStoreError(store.save(db('nope'), { _id: 'x' }), 'not_found');
        expect(await store.dbExists(db('nope'))).toBe(false);
      });

      it('refuses illegal database names before any I/O', async () => {
        for (const bad of ['', 'Upper', '9starts', 'has space', '_users', 'semi;colon']) {
          await expectStoreError(() => store.createDb(bad), 'invalid');
        }
      });

      it('takes the encoded and unencoded spelling of an account database as the same database', async () => {
        const id = `${randomBytes(16).toString('hex')}`;
        const unencoded = `${run}/${id.slice(0, 2)}/${id.slice(2)}`;
        const encoded = encodeURIComponent(unencoded);
        expect(await store.createDb(encoded)).toBe(true);
        expect(await store.dbExists(unencoded)).toBe(true);
        await store.save(unencoded, { _id: 'cfg', n: 1 });
        expect((await store.get(encoded, 'cfg')).n).toBe(1);
        expect(await store.deleteDb(unencoded)).toBe(true);
      });
    });

    describe('documents', () => {
      const d = (): string => db('docs');
      beforeAll(async () => {
        await store.createDb(db('docs'));
      });

      it('saves a new document and reads back the same fields with its revision', async () => {
        const saved = await store.save(d(), {
          _id: 'dev1',
          name: 'desk phone',
          nested: { a: [1, 'two', null] },
        });
        expect(saved._rev).toMatch(/^1-/);
        const got = await store.get(d(), 'dev1');
        expect(got).toEqual({
          _id: 'dev1',
          _rev: saved._rev,
          name: 'desk phone',
          nested: { a: [1, 'two', null] },
        });
      });

      it('gives a document without _id a new id', async () => {
        const saved = await store.save(d(), { kind: 'anon' });
        expect(saved._id).toMatch(/^[0-9a-f]{32}$/);
        expect((await store.get(d(), saved._id)).kind).toBe('anon');
      });

      it('updates with the current revision and refuses a stale or missing one with a conflict', async () => {
        const v1 = await store.save(d(), { _id: 'c1', v: 1 });
        const v2 = await store.save(d(), { ...v1, v: 2 });
        expect(v2._rev).toMatch(/^2-/);
        await expectStoreError(store.save(d(), { ...v1, v: 3 }), 'conflict');
        await expectStoreError(store.save(d(), { _id: 'c1', v: 4 }), 'conflict');
        const now = await store.get(d(), 'c1');
        expect(now.v).toBe(2);
        expect(now._rev).toBe(v2._rev);
      });

      it('refuses a revision on a document that does not exist', async () => {
        await expectStoreError(
          store.save(d(), { _id: 'never', _rev: '1-0123456789abcdef0123456789abcdef' }),
          'conflict',
        );
      });

      it('removes with the current revision only; then get says deleted', async () => {
        const v1 = await store.save(d(), { _id: 'r1' });
        const v2 = await store.save(d(), { ...v1, touched: true });
        await expectStoreError(store.remove(d(), 'r1', v1._rev), 'conflict');
        const res = await store.remove(d(), 'r1', v2._rev);
        expect(res.id).toBe('r1');
        expect(res.rev).toMatch(/^3-/);
        await expectStoreError(
          store.get(d(), 'r1'),
          'not_found',
          quirks.deletedReadsAsMissing === true ? 'missing' : 'deleted',
        );
        await expectStoreError(store.get(d(), 'never-there'), 'not_found', 'missing');
      });

      it('refuses bad ids and non-JSON documents with invalid', async () => {
        await expectStoreError(() => store.get(d(), ''), 'invalid');
        await expectStoreError(() => store.get(d(), '_private'), 'invalid');
        await expectStoreError(() => store.save(d(), { _id: '_hidden' }), 'invalid');
        await expectStoreError(() => store.save(d(), { _id: 42 } as never), 'invalid');
        await expectStoreError(() => store.save(d(), [1, 2] as never), 'invalid');
        const cyclic: Record<string, unknown> = { _id: 'cyc' };
        cyclic.self = cyclic;
        await expectStoreError(() => store.save(d(), cyclic as never), 'invalid');
        await expectStoreError(() => store.save(d(), { _id: 'big', n: 10n } as never), 'invalid');
        await expectStoreError(store.get(d(), 'cyc'), 'not_found');
      });

      it('bulkSave answers per document in order; a conflict does not stop the others', async () => {
        const old = await store.save(d(), { _id: 'b2', v: 1 });
        await store.save(d(), { ...old, v: 2 });
        const res = await store.bulkSave(d(), [
          { _id: 'b1', v: 1 },
          { ...old, v: 3 },
          { _id: 'b3', v: 1 },
        ]);
        expect(res.map((r) => [r.id, r.ok])).toEqual([
          ['b1', true],
          ['b2', false],
          ['b3', true],
        ]);
        const failed = res[1]!;
        expect(failed.ok === false && failed.error.code).toBe('conflict');
        expect((await store.get(d(), 'b2')).v).toBe(2);
        expect((await store.get(d(), 'b3')).v).toBe(1);
      });
    });

    describe('views and _all_docs', () => {
      const v = (): string => db('views');
      beforeAll(async () => {
        await store.createDb(v());
        await store.save(v(), DDOC);
        await store.bulkSave(v(), PEOPLE);
      });

      it('queries a map view by key, with include_docs, without reducing when asked', async () => {
        const res = await store.view(v(), 'people/by_city', {
          key: 'oslo',
          reduce: false,
          includeDocs: true,
        });
        expect(res.rows.map((r) => [r.id, r.key, r.value])).toEqual([
          ['p1', 'oslo', 31],
          ['p3', 'oslo', 47],
        ]);
        expect(res.rows.map((r) => r.doc?.age)).toEqual([31, 47]);
      });

      it('answers key ranges in collation order, descending, with limit and skip', async () => {
        const range = await store.view(v(), 'people/by_age', { startkey: 20, endkey: 47 });
        expect(range.rows.map((r) => r.key)).toEqual([25, 31, 47]);
        expect(range.totalRows).toBe(4);
        const exclusive = await store.view(v(), 'people/by_age', {
          startkey: 20,
          endkey: 47,
          inclusiveEnd: false,
        });
        expect(exclusive.rows.map((r) => r.key)).toEqual([25, 31]);
        const desc = await store.view(v(), 'people/by_age', { descending: true, limit: 2, skip: 1 });
        expect(desc.rows.map((r) => r.id)).toEqual(['p1', 'p2']);
        const keys = await store.view(v(), 'people/by_age', { keys: [47, 19, 99] });
        expect(keys.rows.map((r) => r.id)).toEqual(['p3', 'p4']);
      });

      it('reduces by default, and by group when asked', async () => {
        const all = await store.view(v(), 'people/by_city');
        expect(all.rows).toEqual([{ key: null, value: 4 }]);
        const grouped = await store.view(v(), 'people/by_city', { group: true });
        expect(grouped.rows).toEqual([
          { key: 'bergen', value: 1 },
          { key: 'oslo', value: 2 },
          { key: 'tromso', value: 1 },
        ]);
      });

      it('orders mixed keys by CouchDB collation (types, numbers, strings, arrays, objects)', async () => {
        // Same-case strings only: PouchDB compares strings by code unit, CouchDB by ICU
        // ('a' < 'B' there); see src/store/README.md.
        const keys = [{ a: 1 }, ['b'], ['a', 2], ['a'], 'ab', 'a', 'b', 10, 2, -1.5, true, false, null];
        await store.bulkSave(
          v(),
          keys.map((k, i) => ({ _id: `k${i}`, k })),
        );
        const res = await store.view(v(), 'people/any_key');
        expect(res.rows.map((r) => r.key)).toEqual([
          null,
          false,
          true,
          -1.5,
          2,
          10,
          'a',
          'ab',
          'b',
          ['a'],
          ['a', 2],
          ['b'],
          { a: 1 },
        ]);
      });

      it('fails not_found for a missing design document and invalid for bad options', async () => {
        await expectStoreError(store.view(v(), 'nothere/by_x'), 'not_found');
        await expectStoreError(() => store.view(v(), 'no-slash'), 'invalid');
        await expectStoreError(() => store.view(v(), 'people/by_age', { limit: -1 }), 'invalid');
        await expectStoreError(() => store.view(v(), 'people/by_age', { bogus: 1 } as never), 'invalid');
        await expectStoreError(store.view(v(), 'people/by_city', { includeDocs: true }), 'invalid');
        if (quirks.groupingOnMapViewAccepted !== true) {
          await expectStoreError(store.view(v(), 'people/by_age', { group: true }), 'invalid');
          await expectStoreError(store.view(v(), 'people/by_age', { reduce: true }), 'invalid');
        }
      });

      it('lists _all_docs with ranges, keys (unknown ids as not_found rows) and docs', async () => {
        const range = await store.allDocs(v(), { startkey: 'p', endkey: 'p\uffff' });
        expect(range.rows.map((r) => r.id)).toEqual(['p1', 'p2', 'p3', 'p4']);
        const keyed = await store.allDocs(v(), { keys: ['p2', 'zz'], includeDocs: true });
        expect(keyed.rows[0]!.doc?.city).toBe('bergen');
        expect(keyed.rows[1]).toMatchObject({ key: 'zz', error: 'not_found' });
        const all = await store.allDocs(v());
        expect(all.rows.map((r) => r.id)).toContain('_design/people');
      });
    });

    describe('changes', () => {
      const c = (): string => db('changes');
      beforeAll(async () => {
        await store.createDb(c());
      });

      it('pages the feed from the start and from a returned sequence', async () => {
        await store.save(c(), { _id: 'c1' });
        const first = await store.changes(c(), { since: '0' });
        expect(first.results.map((r) => r.id)).toEqual(['c1']);
        expect(typeof first.lastSeq).toBe('string');
        const saved = await store.save(c(), { _id: 'c2', pvt_type: 'device' });
        const next = await store.changes(c(), { since: first.lastSeq, includeDocs: true });
        expect(next.results.map((r) => [r.id, r.rev, r.deleted])).toEqual([['c2', saved._rev, false]]);
        expect(next.results[0]!.doc?.pvt_type).toBe('device');
      });

      it('follows live changes, deletions included, until stopped', async () => {
        const col = changeCollector();
        const sub = store.follow(c(), { onChange: col.onChange, includeDocs: true });
        await sub.ready;
        const first = col.next(1);
        const a = await store.save(c(), { _id: 'live1', pvt_type: 'user' });
        const [created] = await first;
        const second = col.next(1);
        await store.remove(c(), 'live1', a._rev);
        const [deleted] = await second;
        const got = [created!, deleted!];
        expect(got.map((x) => [x.id, x.deleted])).toEqual([
          ['live1', false],
          ['live1', true],
        ]);
        expect(got[0]!.doc?.pvt_type).toBe('user');
        await sub.stop();
        await sub.stop();
      });

      it('reports not_found for a database that does not exist, and ends', async () => {
        const errors: StoreError[] = [];
        const sub = store.follow(db('no_such'), { onChange: () => {}, onError: (e) => errors.push(e) });
        await sub.ready;
        expect(errors.map((e) => e.code)).toEqual(['not_found']);
        await sub.stop();
        const cache = new StoreCache();
        const follower = new ChangeFollower({ store, cache, logger: memoryLogger().logger });
        await expectStoreError(follower.watch(db('no_such')), 'not_found');
        expect(follower.watching()).toEqual([]);
        await follower.close();
        cache.close();
      });
    });

    describe('attachments', () => {
      const a = (): string => db('atts');
      // A WAV-like body with every byte value, so a text decoding anywhere would show.
      const wav = Buffer.concat([
        Buffer.from('RIFF....WAVEfmt '),
        randomBytes(4096),
        Buffer.from([0, 255, 13, 10]),
      ]);
      const md5 = (b: Buffer): string => `md5-${createHash('md5').update(b).digest('base64')}`;
      beforeAll(async () => {
        await store.createDb(db('atts'));
      });

      it('creates the document when there is none, and reads back the same bytes and type', async () => {
        const put = await store.putAttachment(a(), 'vm1', 'message.wav', wav, 'audio/x-wav');
        expect(put).toMatchObject({ id: 'vm1', rev: expect.stringMatching(/^1-/) as unknown });
        const got = await store.getAttachment(a(), 'vm1', 'message.wav');
        expect(got.contentType).toBe('audio/x-wav');
        expect(got.data.equals(wav)).toBe(true);
      });

      it('documents read back carry stubs with type, length and digest', async () => {
        const put = await store.putAttachment(a(), 'vm2', 'm.wav', wav, 'audio/x-wav');
        const doc = await store.get(a(), 'vm2');
        expect(doc._rev).toBe(put.rev);
        expect(doc._attachments).toEqual({
          'm.wav': expect.objectContaining({
            content_type: 'audio/x-wav',
            length: wav.length,
            digest: md5(wav),
            stub: true,
          }) as unknown,
        });
        const listed = await store.allDocs(a(), { keys: ['vm2'], includeDocs: true });
        expect(listed.rows[0]!.doc!._attachments).toMatchObject({
          'm.wav': { stub: true, length: wav.length },
        });
      });

      it('adds to an existing document with its current rev; a stale or missing rev is a conflict', async () => {
        const v1 = await store.save(a(), { _id: 'vm3', folder: 'new' });
        await expectStoreError(store.putAttachment(a(), 'vm3', 'm.wav', wav, 'audio/x-wav'), 'conflict');
        await expectStoreError(
          store.putAttachment(a(), 'vm3', 'm.wav', wav, 'audio/x-wav', '1-0123456789abcdef0123456789abcdef'),
          'conflict',
        );
        const put = await store.putAttachment(a(), 'vm3', 'm.wav', wav, 'audio/x-wav', v1._rev);
        expect(put.rev).toMatch(/^2-/);
        const doc = await store.get(a(), 'vm3');
        expect(doc.folder).toBe('new');
        await expectStoreError(
          store.putAttachment(a(), 'vm3', 'm.wav', Buffer.from('x'), 'audio/x-wav', v1._rev),
          'conflict',
        );
        expect((await store.getAttachment(a(), 'vm3', 'm.wav')).data.equals(wav)).toBe(true);
      });

      it.skipIf(quirks.attachmentRevOnMissingDocCreates === true)(
        'refuses a rev for a document that does not exist',
        async () => {
          await expectStoreError(
            store.putAttachment(
              a(),
              'never',
              'm.wav',
              wav,
              'audio/x-wav',
              '1-0123456789abcdef0123456789abcdef',
            ),
            'conflict',
          );
        },
      );

      it('keeps an attachment across a save that carries its stub, and drops it from one that does not', async () => {
        await store.putAttachment(a(), 'vm4', 'm.wav', wav, 'audio/x-wav');
        const doc = await store.get(a(), 'vm4');
        const kept = await store.save(a(), { ...doc, folder: 'saved' });
        expect((await store.getAttachment(a(), 'vm4', 'm.wav')).data.equals(wav)).toBe(true);
        const { _attachments: _drop, ...bare } = kept;
        await store.save(a(), bare);
        await expectStoreError(store.getAttachment(a(), 'vm4', 'm.wav'), 'not_found');
      });

      it('replaces an attachment of the same name, and holds several', async () => {
        const v1 = await store.putAttachment(a(), 'vm5', 'm.wav', wav, 'audio/x-wav');
        const v2 = await store.putAttachment(a(), 'vm5', 'm.wav', Buffer.from('short'), 'audio/wav', v1.rev);
        await store.putAttachment(a(), 'vm5', 'notes.txt', Buffer.from('héllo'), 'text/plain', v2.rev);
        const got = await store.getAttachment(a(), 'vm5', 'm.wav');
        expect(got.contentType).toBe('audio/wav');
        expect(got.data.equals(Buffer.from('short'))).toBe(true);
        const text = await store.getAttachment(a(), 'vm5', 'notes.txt');
        expect(text.data.toString('utf8')).toBe('héllo');
        expect(text.contentType).toMatch(/^text\/plain/);
        expect(Object.keys((await store.get(a(), 'vm5'))._attachments as object).sort()).toEqual([
          'm.wav',
          'notes.txt',
        ]);
      });

      it('fails not_found for a missing document, attachment or database', async () => {
        await expectStoreError(store.getAttachment(a(), 'nobody', 'm.wav'), 'not_found');
        await store.save(a(), { _id: 'bare' });
        await expectStoreError(store.getAttachment(a(), 'bare', 'm.wav'), 'not_found');
        await expectStoreError(store.getAttachment(db('no_such_db'), 'x', 'm.wav'), 'not_found');
        await expectStoreError(
          store.putAttachment(db('no_such_db'), 'x', 'm.wav', wav, 'audio/x-wav'),
          'not_found',
        );
        expect(await store.dbExists(db('no_such_db'))).toBe(false);
      });

      it('removes with the current rev only; a missing attachment is not_found', async () => {
        const v1 = await store.putAttachment(a(), 'vm6', 'm.wav', wav, 'audio/x-wav');
        await expectStoreError(
          store.removeAttachment(a(), 'vm6', 'm.wav', '1-0123456789abcdef0123456789abcdef'),
          'conflict',
        );
        await expectStoreError(store.removeAttachment(a(), 'vm6', 'other.wav', v1.rev), 'not_found');
        const v2 = await store.removeAttachment(a(), 'vm6', 'm.wav', v1.rev);
        expect(v2.rev).toMatch(/^2-/);
        await expectStoreError(store.getAttachment(a(), 'vm6', 'm.wav'), 'not_found');
        expect((await store.get(a(), 'vm6'))._attachments ?? {}).toEqual({});
      });

      it('refuses bad names, non-binary data, oversized data and bad types with invalid before any I/O', async () => {
        const missing = db('never_made');
        for (const name of ['', '_hidden', 'bad\nname', 'x'.repeat(256), 42])
          await expectStoreError(
            () => store.putAttachment(a(), 'vm7', name as string, wav, 'audio/x-wav'),
            'invalid',
          );
        for (const data of ['RIFF....', [1, 2, 3], null, { length: 3 }])
          await expectStoreError(
            () => store.putAttachment(a(), 'vm7', 'm.wav', data as unknown as Buffer, 'audio/x-wav'),
            'invalid',
          );
        for (const type of ['', 'wav', 'audio/', 42])
          await expectStoreError(
            () => store.putAttachment(a(), 'vm7', 'm.wav', wav, type as string),
            'invalid',
          );
        await expectStoreError(
          () => store.putAttachment(a(), '_bad', 'm.wav', wav, 'audio/x-wav'),
          'invalid',
        );
        await expectStoreError(() => store.getAttachment(a(), 'vm7', '_bad'), 'invalid');
        await expectStoreError(
          () => store.save(a(), { _id: 'inline', _attachments: { 'm.wav': { data: 'UklGRg==' } } }),
          'invalid',
        );
        await expectStoreError(
          () => store.putAttachment(missing, 'vm7', 'm.wav', new Uint8Array(33 * 1024 * 1024), 'audio/x-wav'),
          'invalid',
        );
        // a Uint8Array view (not a Buffer) is binary too
        const view = new Uint8Array(wav.buffer, wav.byteOffset + 4, 8);
        await store.putAttachment(a(), 'vm7', 'part.bin', view, 'application/octet-stream');
        expect((await store.getAttachment(a(), 'vm7', 'part.bin')).data.equals(wav.subarray(4, 12))).toBe(
          true,
        );
        await expectStoreError(() => store.getAttachment(a(), 'vm7', 'nothing-here'), 'not_found');
      });
    });

    describe('design documents loaded at app start', () => {
      const a = (): string => db('app');
      beforeAll(async () => {
        await store.createDb(a());
        await store.bulkSave(a(), PEOPLE);
      });

      it('creates missing design docs, leaves equal ones alone, updates changed ones', async () => {
        const first = await ensureDesignDocs(store, a(), [DDOC]);
        expect(first).toEqual({ created: ['_design/people'], updated: [], unchanged: [] });
        const rev = (await store.get(a(), '_design/people'))._rev;
        const again = await ensureDesignDocs(store, a(), [DDOC]);
        expect(again.unchanged).toEqual(['_design/people']);
        expect((await store.get(a(), '_design/people'))._rev).toBe(rev);
        const v2 = {
          ...DDOC,
          views: {
            ...DDOC.views,
            by_age: { map: "function (doc) { if (doc.type === 'person') { emit(-doc.age, null); } }" },
          },
        };
        expect((await ensureDesignDocs(store, a(), [v2])).updated).toEqual(['_design/people']);
        const res = await store.view(a(), 'people/by_age', { limit: 1 });
        expect(res.rows[0]).toMatchObject({ id: 'p3', key: -47 });
      });

      it('fails not_found when the database is missing and invalid for a malformed design doc', async () => {
        await expectStoreError(ensureDesignDocs(store, db('missing'), [DDOC]), 'not_found');
        await expectStoreError(
          ensureDesignDocs(store, a(), [{ _id: 'people', views: {} } as never]),
          'invalid',
        );
      });
    });

    describe('retrying writer: conflicts are resolved, never overwritten blindly', () => {
      it('rejects a conflict without a resolver, and merges with one', async () => {
        const w = db('writer');
        await store.createDb(w);
        const writer = new RetryingWriter({ store, logger: memoryLogger().logger });
        const v1 = await writer.save(w, { _id: 'reg', contacts: ['a'] });
        await store.save(w, { ...v1, contacts: ['a', 'b'] });
        await expectStoreError(writer.save(w, { ...v1, contacts: ['a', 'c'] }), 'conflict');
        const merged = await writer.save(
          w,
          { ...v1, contacts: ['c'] },
          {
            onConflict: (current, wanted) => ({
              ...wanted,
              contacts: [...((current?.contacts as string[]) ?? []), ...(wanted.contacts as string[])],
            }),
          },
        );
        expect((await store.get(w, 'reg')).contacts).toEqual(['a', 'b', 'c']);
        expect(merged._rev).toMatch(/^3-/);
        await writer.close();
      });
    });

    describe('close', () => {
      it('is idempotent and makes later calls fail with closed', async () => {
        const other = await open();
        await other.close();
        await other.close();
        await expectStoreError(() => other.get(db('docs'), 'dev1'), 'closed');
      });
    });
  });
}
