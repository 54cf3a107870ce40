/**
 * The registrar on the CouchDB adapter (FIFE_STORE_URL=http://...): pouchdb-server
 * started by this file, or the CouchDB named by FIFE_TEST_COUCHDB_URL. Credentials
 * answered, registrations stored and kept across a registrar restart, an edited device
 * answered anew; and reg_store's faults (reg-store.suite.ts) on this store. Under
 * FIFE_REQUIRE_SERVICES=1 a server that cannot start fails.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { CouchStore, accountDbName } from '../../../src/store/index.ts';
import { serviceGate } from '../../support/services.ts';
import { startCouchTestServer, type CouchTestServer } from '../../support/couchdb-server.ts';
import { addAccount, addDevice } from '../../../apps/registrar/provisioning.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { registrationId } from '../../../apps/registrar/contact.ts';
import { regStoreSuite } from './reg-store.suite.ts';
import { askAuthn, query, register, startHarness, until, written, type Harness } from './support.ts';

let server: CouchTestServer | undefined;
const gate = await serviceGate('CouchDB-protocol server', async () => {
  server = await startCouchTestServer();
});
afterAll(async () => server?.close());

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

describe.skipIf(!gate.available)('registrar on CouchDB', () => {
  it('answers credentials, stores registrations, keeps them across a restart, follows device edits', async () => {
    const store = new CouchStore({ url: server!.url, logger: memoryLogger().logger });
    const h = await startHarness({ store });
    harnesses.push(h);
    const realm = `couch-${randomBytes(3).toString('hex')}.test`;
    const account = await addAccount(store, { name: 'Couch', realm });
    await addDevice(store, { realm, username: 'alice', password: 'one' });
    await h.startRegistrar();
    expect(await askAuthn(h, 'alice', realm)).toMatchObject({
      'Event-Name': 'authn_resp',
      'Auth-Password': 'one',
    });

    await register(h, 'alice', realm, '<sip:alice@10.9.0.1:5060>', 3600);
    const id = registrationId('sip:alice@10.9.0.1:5060');
    await written(h, id);
    expect(await store.get(REGISTRATIONS_DB, id)).toMatchObject({ Username: 'alice' });

    await h.stopRegistrar();
    await h.startRegistrar();
    expect((await query(h, realm, 'alice', ['Contact'])).Fields).toEqual([
      { Contact: '<sip:alice@10.9.0.1:5060>' },
    ]);

    const db = accountDbName(account);
    const dev = (await store.view(db, 'devices/sip_credentials', { key: 'alice', includeDocs: true }))
      .rows[0]!.doc!;
    await store.save(db, { ...dev, sip: { ...(dev.sip as object), password: 'two' } });
    await until(
      async () => (await askAuthn(h, 'alice', realm))['Auth-Password'] === 'two',
      'the edited password',
      10_000,
    );
  });

  regStoreSuite(() =>
    startHarness({ store: new CouchStore({ url: server!.url, logger: memoryLogger().logger }) }),
  );
});
