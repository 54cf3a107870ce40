/**
 * reg_store, the registrar's batched writer, on whatever store the harness factory gives
 * (embedded: reg-store.test.ts; CouchDB protocol: registrar.couchdb.test.ts). Faults are
 * injected into the real store's bulkSave (a failure, a write held in flight) and into the
 * process (runtime.crash): a failed write is retried and lands, a crash with a batch in
 * flight loses nothing, a stop flushes, the tree shows the writer.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { GenServer, describeTree } from '../../../src/kernel/index.ts';
import { StoreError, type DocumentStore } from '../../../src/store/index.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { registrationId } from '../../../apps/registrar/contact.ts';
import { REG_STORE } from '../../../apps/registrar/reg-store.ts';
import { register, until, written, type Harness } from './support.ts';

type BulkSave = DocumentStore['bulkSave'];

/** Replaces the store's bulkSave for the registrations database; others pass through. */
function interceptWrites(
  h: Harness,
  fault: (n: number, write: () => ReturnType<BulkSave>) => ReturnType<BulkSave> | undefined,
): void {
  const pass: BulkSave = h.store.bulkSave.bind(h.store);
  let n = 0;
  vi.spyOn(h.store, 'bulkSave').mockImplementation((db, docs) => {
    if (db !== REGISTRATIONS_DB) return pass(db, docs);
    return fault(n++, () => pass(db, docs)) ?? pass(db, docs);
  });
}

const stats = (h: Harness) => GenServer.call<{ pending: number; inFlight: number }>(h.rt, REG_STORE, 'stats');

async function stored(h: Harness, ids: string[]): Promise<string[]> {
  const res = await h.store.allDocs(REGISTRATIONS_DB, { keys: ids });
  return res.rows
    .filter((r) => r.id !== undefined && (r.value as { deleted?: boolean } | undefined)?.deleted !== true)
    .map((r) => r.id!);
}

export function regStoreSuite(makeHarness: () => Promise<Harness>): void {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const h of harnesses.splice(0)) await h.close();
  });
  const fresh = async () => {
    const h = await makeHarness();
    harnesses.push(h);
    await h.startRegistrar();
    return { h, realm: `w-${randomBytes(3).toString('hex')}.test` };
  };
  const contact = (user: string, i: number) => `sip:${user}@10.7.${Math.floor(i / 200)}.${i % 200}:5060`;

  describe('reg_store (batched registration writer)', () => {
    it('a failed batch write is kept and retried after the backoff; it lands, and only then is reg_success answered', async () => {
      const { h, realm } = await fresh();
      interceptWrites(h, (n) =>
        n < 2 ? Promise.reject(new Error('store unreachable (injected)')) : undefined,
      );
      await register(h, 'alice', realm, `<${contact('alice', 1)}>`);
      const id = registrationId(contact('alice', 1));
      await written(h, id);
      expect(
        h.lines.filter((l) => l.msg === 'registrations: batch write failed; kept, retried'),
      ).toHaveLength(2);
      expect(await h.store.get(REGISTRATIONS_DB, id)).toMatchObject({ Username: 'alice' });
      expect(h.lines.some((l) => String(l.msg).includes('not written to the database'))).toBe(false);
    });

    it('a write the store calls invalid is not retried: reported to reg_server, logged, dropped; reg_store lives on', async () => {
      const { h, realm } = await fresh();
      interceptWrites(h, (n) =>
        n === 0 ? Promise.reject(new StoreError('invalid', 'bad document (injected)')) : undefined,
      );
      const pid = h.rt.whereis(REG_STORE);
      await register(h, 'carol', realm, `<${contact('carol', 3)}>`);
      const id = registrationId(contact('carol', 3));
      await until(
        () =>
          h.lines.some(
            (l) =>
              l.msg === 'reg_success: registration not written to the database (kept in the tables)' &&
              l.id === id,
          ),
        'the refusal reported',
      );
      expect(h.lines.some((l) => l.msg === 'registrations: batch write failed for good')).toBe(true);
      expect(h.lines.some((l) => l.msg === 'registrations: batch write failed; kept, retried')).toBe(false);
      expect(await stats(h)).toMatchObject({ pending: 0 });
      expect(h.rt.whereis(REG_STORE)).toEqual(pid);
      await register(h, 'carol', realm, `<${contact('carol', 3)}>`);
      await written(h, id);
    });

    it('reg_store crashed with a batch in flight and writes pending: its successor writes them all, nothing acknowledged is lost', async () => {
      const { h, realm } = await fresh();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let inFlight = false;
      // The first batch never gets its answer: the connection "resets" after the crash.
      interceptWrites(h, (n) => {
        if (n > 0) return undefined;
        inFlight = true;
        return held.then(() => Promise.reject(new Error('connection reset (injected)')));
      });
      const ids = Array.from({ length: 20 }, (_, i) => registrationId(contact(`u${i}`, i)));
      for (let i = 0; i < 10; i++) await register(h, `u${i}`, realm, `<${contact(`u${i}`, i)}>`);
      await until(() => inFlight, 'a batch in flight');
      for (let i = 10; i < 20; i++) await register(h, `u${i}`, realm, `<${contact(`u${i}`, i)}>`);
      await until(async () => (await stats(h)).pending === 20, 'all 20 writes pending');
      const victim = h.rt.whereis(REG_STORE)!;
      const restarted = h.rt.events.waitFor(
        'supervisor',
        (e) => e.kind === 'child_restarted' && e.childId === REG_STORE,
      );
      h.rt.crash(victim, 'injected');
      await restarted;
      release();
      expect(
        h.lines.find(
          (l) => l.msg === 'registrations: writes left by the previous reg_store taken over; written again',
        ),
      ).toMatchObject({ pending: 20 });
      for (const id of ids) await written(h, id);
      expect((await stored(h, ids)).sort()).toEqual([...ids].sort());
      expect(h.rt.whereis(REG_STORE)).not.toEqual(victim);
      await until(async () => (await stats(h)).pending === 0, 'nothing left pending');
    });

    it('a stop flushes the writes pending behind a slow one before reg_store ends', async () => {
      const { h, realm } = await fresh();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let inFlight = false;
      interceptWrites(h, (n, write) => {
        if (n > 0) return undefined;
        inFlight = true;
        return held.then(write);
      });
      const ids = Array.from({ length: 8 }, (_, i) => registrationId(contact(`s${i}`, i)));
      await register(h, 's0', realm, `<${contact('s0', 0)}>`);
      await until(() => inFlight, 'a batch in flight');
      for (let i = 1; i < 8; i++) await register(h, `s${i}`, realm, `<${contact(`s${i}`, i)}>`);
      await until(async () => (await stats(h)).pending === 8, 'all 8 writes pending');
      const stopped = h.stopRegistrar();
      release();
      await stopped;
      expect((await stored(h, ids)).sort()).toEqual([...ids].sort());
    });

    it('the registrar tree shows reg_store between the table keeper and reg_server, with its counters', async () => {
      const { h, realm } = await fresh();
      await register(h, 'bob', realm, `<${contact('bob', 2)}>`);
      await written(h, registrationId(contact('bob', 2)));
      const tree = describeTree(h.rt, h.sup)!;
      expect(tree.children?.map((c) => c.id)).toEqual(['reg_tables', 'reg_store', 'reg_server', 'reg_authn']);
      const node = tree.children![1]!;
      expect(node).toMatchObject({ name: REG_STORE, status: 'running', counters: { pending: 0 } });
      expect(node.counters!.batches).toBeGreaterThan(0);
    });
  });
}
