/**
 * Doc-change notices from the store layer, run on the embedded bus (doc-notices.test.ts)
 * and on RabbitMQ (doc-notices.rabbitmq.test.ts): two runtimes on one bus and one store;
 * node A writes through the publishing store (its crossbar over HTTP, or any app's
 * direct write), node B's StoreCache (kept by cache_sync) drops its copy of that document
 * and keeps the others. A write whose publish fails still succeeds.
 */
import { afterEach, expect, it } from 'vitest';
import { Runtime, GenServer, Supervisor, type Pid } from '../../src/kernel/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, type RecoveringTransport } from '../../src/bus/index.ts';
import { GenListener } from '../../src/bus/gen-listener.ts';
import { EmbeddedStore, StoreCache, accountDbName, type DocumentStore } from '../../src/store/index.ts';
import { CacheSync } from '../../src/node/cache-sync.ts';
import { publishingStore } from '../../src/node/publishing-store.ts';
import { crossbarTree } from '../../supervisors/crossbar.sup.ts';
import { crossbarUrl } from '../../apps/crossbar/http-server.ts';
import { addAccount } from '../../apps/registrar/provisioning.ts';
import { addUser } from '../../apps/crossbar/operators.ts';
import { freePort, md5 } from '../apps/crossbar/support.ts';
import type { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const CTX = { appName: 'fife_store', appVersion: '0.1.0', node: 'a@localhost' };

export function docNoticesSuite(url: string, broker?: () => EmbeddedBroker): void {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function transport(name: string): Promise<RecoveringTransport> {
    const { logger } = memoryLogger(`${name}@localhost`, 'warn');
    const t = createTransport({ url, logger, embeddedBroker: broker?.(), namePrefix: `docnotice-${name}` });
    await t.start();
    cleanup.push(() => t.close());
    return t;
  }

  /** Node B: a runtime whose StoreCache follows the bus's notices. */
  async function reader(): Promise<StoreCache> {
    const t = await transport('b');
    const { logger } = memoryLogger('b@localhost', 'warn');
    const rt = new Runtime({ node: 'b@localhost', logger });
    const cache = new StoreCache({ logger });
    const pid = ((await GenListener.start(rt, CacheSync, { cache }, { transport: t })) as { pid: Pid }).pid;
    cleanup.push(async () => {
      await GenServer.stop(rt, pid, 'shutdown');
      await rt.shutdown();
      cache.close();
    });
    return cache;
  }

  function openStore(): DocumentStore {
    const { logger } = memoryLogger('store@localhost', 'warn');
    const store = new EmbeddedStore({ dir: tmpDir('fife-docnotice-'), logger });
    cleanup.push(() => store.close());
    return store;
  }

  /** Resolves once the cache no longer holds the document (checked on each invalidation). */
  const dropped = (cache: StoreCache, db: string, id: string): Promise<void> =>
    new Promise((resolve) => {
      const off = cache.onInvalidate(() => {
        if (cache.get(['doc', db, id]) !== undefined) return;
        off();
        resolve();
      });
    });

  /**
   * Resolves once every notice `storeA` published so far has reached node B's cache: a
   * sentinel document (written without a notice) is cached by B, edited through `storeA`,
   * and awaited until B drops it. Notices of one publisher arrive in order.
   */
  async function noticesArrived(cache: StoreCache, store: DocumentStore, storeA: DocumentStore, db: string) {
    const id = `sentinel-${Math.random().toString(16).slice(2)}`;
    const doc = await store.save(db, { _id: id, pvt_type: 'sentinel' });
    await cache.openDoc(store, db, id);
    const gone = dropped(cache, db, id);
    await storeA.save(db, { ...doc, edited: true });
    await gone;
  }

  it("a device created and edited over node A's crossbar drops node B's cached copy, and only that", async () => {
    const store = openStore();
    const cache = await reader();
    const ta = await transport('a');
    const { logger, lines } = memoryLogger('a@localhost', 'warn');
    const rtA = new Runtime({ node: 'a@localhost', logger });
    cleanup.push(() => rtA.shutdown());
    const storeA = publishingStore(store, ta, CTX, logger);
    const accountId = await addAccount(storeA, { name: 'Acme', realm: 'sip.acme.test' });
    await addUser(storeA, { account: 'Acme', username: 'admin', password: 'pw', admin: true });
    const port = await freePort();
    const sup = await Supervisor.start(
      rtA,
      crossbarTree({ store: storeA, config: { settings: { crossbar: { port } } } }, {}),
    );
    expect(sup.type).toBe('ok');
    const base = crossbarUrl(rtA)!;
    const call = async (method: string, path: string, data?: unknown, token?: string) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
        body: data === undefined ? undefined : JSON.stringify({ data }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const login = await call('PUT', '/v2/user_auth', {
      credentials: md5('admin:pw'),
      account_name: 'Acme',
    });
    expect(login.status).toBe(201);
    const token = login.body.auth_token as string;
    const db = accountDbName(accountId, 'unencoded');

    const created = await call(
      'PUT',
      `/v2/accounts/${accountId}/devices`,
      { name: 'Desk', sip: { username: 'desk100', password: 'pa55word' } },
      token,
    );
    expect(created.status).toBe(201);
    const deviceId = created.body.data.id as string;
    const other = await store.save(db, { _id: 'other-doc', pvt_type: 'device', name: 'Other' });

    // Node B reads both documents through its cache, once the device's creation notice has
    // reached it: arriving later, it would drop B's fresh copy, and every wait below would
    // be one notice behind (the last, the DELETE's, dropping nothing: never heard).
    await noticesArrived(cache, store, storeA, db);
    await cache.openDoc(store, db, deviceId);
    await cache.openDoc(store, db, other._id);
    expect(cache.get(['doc', db, deviceId])).toMatchObject({ name: 'Desk' });

    const gone = dropped(cache, db, deviceId);
    const edited = await call(
      'PATCH',
      `/v2/accounts/${accountId}/devices/${deviceId}`,
      { name: 'Desk 2' },
      token,
    );
    expect(edited.status).toBe(200);
    await gone;
    expect(cache.get(['doc', db, deviceId])).toBeUndefined();
    expect(cache.get(['doc', db, other._id])).toMatchObject({ name: 'Other' });
    await noticesArrived(cache, store, storeA, db);
    expect((await cache.openDoc(store, db, deviceId)).name).toBe('Desk 2');

    const goneAgain = dropped(cache, db, deviceId);
    const deleted = await call('DELETE', `/v2/accounts/${accountId}/devices/${deviceId}`, undefined, token);
    expect(deleted.status).toBe(200);
    await goneAgain;
    expect(cache.get(['doc', db, deviceId])).toBeUndefined();
    expect(lines.filter((l) => String(l.msg).includes('not published'))).toEqual([]);
  });

  it("any app's save, remove and attachment write through node A's store drop node B's copy", async () => {
    const store = openStore();
    const cache = await reader();
    const ta = await transport('a');
    const { logger } = memoryLogger('a@localhost', 'warn');
    const storeA = publishingStore(store, ta, CTX, logger);
    const db = `account/ab/cd/${Date.now().toString(16).padStart(28, '0')}`;
    await store.createDb(db);
    const doc = await store.save(db, { _id: 'vm1', pvt_type: 'vmbox', name: 'Box' });

    await cache.openDoc(store, db, 'vm1');
    let gone = dropped(cache, db, 'vm1');
    const saved = await storeA.save(db, { ...doc, name: 'Box 2' });
    await gone;
    expect((await cache.openDoc(store, db, 'vm1')).name).toBe('Box 2');

    gone = dropped(cache, db, 'vm1');
    const att = await storeA.putAttachment(
      db,
      'vm1',
      'greeting.wav',
      Buffer.from('RIFF'),
      'audio/wav',
      saved._rev,
    );
    await gone;
    await cache.openDoc(store, db, 'vm1');

    gone = dropped(cache, db, 'vm1');
    const [row] = await storeA.bulkSave(db, [{ ...(await store.get(db, 'vm1')), name: 'Box 3' }]);
    expect(row?.ok).toBe(true);
    await gone;
    await cache.openDoc(store, db, 'vm1');

    gone = dropped(cache, db, 'vm1');
    await storeA.remove(db, 'vm1', (row as { rev: string }).rev);
    await gone;
    expect(cache.get(['doc', db, 'vm1'])).toBeUndefined();
    expect(att.rev).toMatch(/^3-/);
  });

  it("Kazoo's excluded types and the registrations database announce nothing", async () => {
    const store = openStore();
    const cache = await reader();
    const ta = await transport('a');
    const { logger } = memoryLogger('a@localhost', 'warn');
    const storeA = publishingStore(store, ta, CTX, logger);
    const db = `account/ab/cd/${Date.now().toString(16).padStart(28, '0')}`;
    await store.createDb(db);
    await store.createDb('registrations');
    const cdr = await store.save(db, { _id: 'cdr1', pvt_type: 'cdr' });
    const reg = await store.save('registrations', { _id: 'r1', pvt_type: 'registration' });
    const box = await store.save(db, { _id: 'vm1', pvt_type: 'vmbox' });
    for (const [d, id] of [
      [db, 'cdr1'],
      ['registrations', 'r1'],
      [db, 'vm1'],
    ] as const)
      await cache.openDoc(store, d, id);
    await storeA.save(db, { ...cdr, note: 'x' });
    await storeA.save('registrations', { ...reg, note: 'x' });
    await storeA.remove('registrations', 'r1', (await store.get('registrations', 'r1'))._rev);
    // Notices of one publisher arrive in order: once the vmbox's has, the others would have.
    const gone = dropped(cache, db, 'vm1');
    await storeA.save(db, { ...box, note: 'x' });
    await gone;
    expect(cache.get(['doc', db, 'cdr1'])).toBeDefined();
    expect(cache.get(['doc', 'registrations', 'r1'])).toBeDefined();
  });

  it('a write whose notice cannot be published still succeeds, and the failure is logged', async () => {
    const store = openStore();
    const ta = await transport('a');
    const { logger, lines } = memoryLogger('a@localhost', 'warn');
    const storeA = publishingStore(store, ta, CTX, logger);
    await store.createDb('system_config');
    await ta.close();
    const saved = await storeA.save('system_config', { _id: 'x', pvt_type: 'config' });
    expect((await store.get('system_config', 'x'))._rev).toBe(saved._rev);
    await expect
      .poll(() => lines.some((l) => String(l.msg).includes('not published') && l.id === 'x'))
      .toBe(true);
  });
}
