/**
 * The registrar WhApp on the embedded bus and store, driven the way Kamailio's kazoo
 * module drives it: authn_req on both namings, reg_success, reg_query; expiry; restart
 * keeps registrations; bad input never takes reg_server down.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { GenServer, Table, TableError } from '../../../src/kernel/index.ts';
import { accountDbName } from '../../../src/store/index.ts';
import { REGS_TABLE } from '../../../apps/registrar/registrations.ts';
import { CREDS_TABLE } from '../../../apps/registrar/credentials.ts';
import { addAccount, addDevice } from '../../../apps/registrar/provisioning.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { registrationId } from '../../../apps/registrar/contact.ts';
import { REG_SERVER } from '../../../apps/registrar/reg-server.ts';
import { REG_AUTHN } from '../../../apps/registrar/reg-authn.ts';
import { build } from '../../../src/api/index.ts';
import type { Envelope } from '../../../src/bus/index.ts';
import {
  authnEndpointTarget,
  askAuthn,
  authnReq,
  authnTarget,
  query,
  register,
  regQueryTarget,
  regSuccess,
  regSuccessTarget,
  startHarness,
  until,
  written,
  type Harness,
} from './support.ts';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function fresh(storeDir?: string): Promise<Harness> {
  const h = await startHarness({ storeDir });
  harnesses.push(h);
  return h;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('authn_req', () => {
  it('answers the device password, Auth-Method and the account/owner/device Custom-Channel-Vars, on both Kamailio namings', async () => {
    const h = await fresh();
    const account = await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    const device = await addDevice(h.store, {
      realm: 'sip.acme.test',
      username: 'alice',
      password: 's3cret',
      ownerId: 'owner42',
    });
    await h.startRegistrar();
    for (const target of [authnTarget('sip.acme.test'), authnEndpointTarget('sip.acme.test')]) {
      const req = authnReq('alice', 'sip.acme.test');
      const r = (
        await h.req.callCollect(req, target, { until: (rs) => rs.length > 0, validate: () => true })
      )[0]!;
      expect(r).toMatchObject({
        'Event-Category': 'directory',
        'Event-Name': 'authn_resp',
        'Auth-Method': 'password',
        'Auth-Password': 's3cret',
        'App-Name': 'registrar',
      });
      expect(r['Custom-Channel-Vars']).toMatchObject({
        'Account-ID': account,
        'Owner-ID': 'owner42',
        'Authorizing-ID': device,
        'Authorizing-Type': 'device',
      });
    }
    expect(h.lines.some((l) => JSON.stringify(l).includes('s3cret'))).toBe(false);
  });

  it('answers a1-hash with the stored HA1 when the device keeps one (credentials primed into the cache at start)', async () => {
    const h = await fresh();
    await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    const ha1 = md5('bob:sip.acme.test:pa55');
    await addDevice(h.store, { realm: 'sip.acme.test', username: 'bob', a1Hash: ha1 });
    await h.startRegistrar();
    expect(h.lines.find((l) => l.msg === 'registrar: credentials primed from the database')).toMatchObject({
      credentials: 1,
    });
    expect(await askAuthn(h, 'Bob', 'SIP.acme.test')).toMatchObject({
      'Event-Name': 'authn_resp',
      'Auth-Method': 'a1-hash',
      'Auth-Password': ha1,
    });
  });

  it('unknown user, unknown realm, a device without credentials, disabled device or account: authn_err, no credentials, reg_server lives on', async () => {
    const h = await fresh();
    const acct = await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    const off = await addAccount(h.store, { name: 'Off', realm: 'off.test' });
    await addDevice(h.store, { realm: 'off.test', username: 'carl', password: 'x' });
    await addDevice(h.store, { realm: 'sip.acme.test', username: 'dora', password: 'x' });
    const db = accountDbName(acct);
    const dora = (await h.store.view(db, 'devices/sip_credentials', { key: 'dora', includeDocs: true }))
      .rows[0]!.doc!;
    await h.store.save(db, { ...dora, enabled: false });
    await h.store.save(db, { _id: 'nocreds', pvt_type: 'device', sip: { username: 'eve' } });
    const offDoc = await h.store.get('accounts', off);
    await h.store.save('accounts', { ...offDoc, enabled: false });
    await h.startRegistrar();
    const pid = h.rt.whereis(REG_SERVER)!;
    for (const [user, realm] of [
      ['nobody', 'sip.acme.test'],
      ['alice', 'unknown.test'],
      ['eve', 'sip.acme.test'],
      ['dora', 'sip.acme.test'],
      ['carl', 'off.test'],
    ] as const) {
      const r = await askAuthn(h, user, realm);
      expect(r, `${user}@${realm}`).toMatchObject({ 'Event-Name': 'authn_err', 'Defer-Response': 'true' });
      expect(r['Auth-Password']).toBeUndefined();
    }
    expect(h.rt.whereis(REG_SERVER)).toBe(pid);
    expect(h.lines.filter((l) => l.msg === 'authn_req: no credentials given').map((l) => l.outcome)).toEqual([
      'unknown_user',
      'unknown_realm',
      'no_credentials',
      'disabled',
      'disabled',
    ]);
  });

  it('documents written into the store directly work the same; an edited device is answered anew (cache dropped by the change feed)', async () => {
    const h = await fresh();
    const id = 'aaaabbbbccccddddeeeeffff00001111';
    const db = accountDbName(id);
    await h.store.createDb('accounts');
    await h.store.createDb(db);
    await h.store.save('accounts', {
      _id: id,
      name: 'Hand',
      realm: 'hand.test',
      pvt_type: 'account',
      pvt_db_name: db,
    });
    await h.store.save(db, { _id: 'dev1', pvt_type: 'device', sip: { username: 'frank', password: 'one' } });
    await h.startRegistrar();
    expect(await askAuthn(h, 'frank', 'hand.test')).toMatchObject({ 'Auth-Password': 'one' });
    const doc = await h.store.get(db, 'dev1');
    await h.store.save(db, { ...doc, sip: { username: 'frank', password: 'two' } });
    await until(
      async () => (await askAuthn(h, 'frank', 'hand.test'))['Auth-Password'] === 'two',
      'the new password',
    );
  });

  it('reg_authn crashed by fault injection is restarted and answers; no request is lost to the dead one', async () => {
    const h = await fresh();
    await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    await addDevice(h.store, { realm: 'sip.acme.test', username: 'alice', password: 's3cret' });
    await h.startRegistrar();
    const first = h.rt.whereis(REG_AUTHN)!;
    const restarted = h.rt.events.waitFor('supervisor', (e) => e.kind === 'child_restarted');
    // In flight at the crash: published (the publish is synchronous) before the crash and
    // not yet delivered (deliveries come on a later turn). They must be answered, by the
    // dead listener's consumer or from the queue by the restarted one.
    const inFlight = [1, 2, 3, 4].map(() => askAuthn(h, 'alice', 'sip.acme.test'));
    h.rt.crash(first, 'injected');
    for (const r of await Promise.all(inFlight)) expect(r).toMatchObject({ 'Auth-Password': 's3cret' });
    await restarted;
    expect(h.rt.whereis(REG_AUTHN)).not.toBe(first);
    for (let i = 0; i < 4; i++)
      expect(await askAuthn(h, 'alice', 'sip.acme.test')).toMatchObject({ 'Auth-Password': 's3cret' });
    expect(h.lines.some((l) => String(l.msg).startsWith('message lost'))).toBe(false);
  });

  it('a request missing required headers is rejected with the reason and answered with the API error', async () => {
    const h = await fresh();
    await h.startRegistrar();
    const bad = authnReq('alice', 'sip.acme.test');
    delete bad['Auth-User'];
    const r = (
      await h.req.callCollect(bad, authnTarget('sip.acme.test'), {
        until: (rs) => rs.length > 0,
        validate: () => true,
      })
    )[0]!;
    expect(r['Event-Category']).toBe('error');
    expect(String(r['Error-Message'])).toContain('Auth-User');
    expect(
      h.lines.some(
        (l) => l.msg === 'listener: invalid message dropped' && String(l.reason).includes('Auth-User'),
      ),
    ).toBe(true);
  });
});

describe('reg_success and reg_query', () => {
  it('stores the registration under md5(cleaned contact) in cache and database; reg_query answers the requested Fields', async () => {
    const h = await fresh();
    await h.startRegistrar();
    const contact = '<sip:alice@127.0.0.1:5070;transport=udp>;expires=300';
    await register(h, 'alice', 'sip.acme.test', contact, 300);
    const id = md5('sip:alice@127.0.0.1:5070;transport=udp');
    expect(registrationId('sip:alice@127.0.0.1:5070;transport=udp')).toBe(id);
    await written(h, id);
    const doc = await h.store.get(REGISTRATIONS_DB, id);
    expect(doc).toMatchObject({ Username: 'alice', Realm: 'sip.acme.test', Contact: contact, Expires: 300 });
    const r = await query(h, 'sip.acme.test', 'alice', ['Contact', 'Expires', 'Username']);
    expect(r['Event-Name']).toBe('reg_query_resp');
    expect(r.Fields).toEqual([{ Contact: contact, Expires: 300, Username: 'alice' }]);
  });

  it('the same contact updates the registration; a new contact replaces the old ones of that user; Expires 0 removes it', async () => {
    const h = await fresh();
    await h.startRegistrar();
    const c1 = '<sip:bob@10.0.0.1:5060>';
    const c2 = '<sip:bob@10.0.0.2:5060>';
    await register(h, 'bob', 'r.test', c1, 60);
    await written(h, md5('sip:bob@10.0.0.1:5060'));
    await h.bus.publish(
      'registrar',
      regSuccessTarget('r.test', 'bob').routingKey,
      JSON.stringify(regSuccess('bob', 'r.test', c1, 120, { 'User-Agent': 'phone v2' })),
    );
    // Wait for this update to be written (not for any answer, which could be the old one).
    await until(
      () =>
        h.lines.some(
          (l) =>
            l.msg === 'registration written' &&
            l.id === md5('sip:bob@10.0.0.1:5060') &&
            l.result === 'updated',
        ),
      'the update written',
    );
    expect((await query(h, 'r.test', 'bob', ['User-Agent', 'Expires'])).Fields).toEqual([
      { 'User-Agent': 'phone v2', Expires: 120 },
    ]);
    expect(await h.store.get(REGISTRATIONS_DB, md5('sip:bob@10.0.0.1:5060'))).toMatchObject({
      'User-Agent': 'phone v2',
      Expires: 120,
    });
    await register(h, 'bob', 'r.test', c2, 60);
    await written(h, md5('sip:bob@10.0.0.2:5060'));
    expect((await query(h, 'r.test', 'bob', ['Contact'])).Fields).toEqual([{ Contact: c2 }]);
    await until(
      async () =>
        !(await h.store.allDocs(REGISTRATIONS_DB)).rows.some((r) => r.id! === md5('sip:bob@10.0.0.1:5060')),
      'old registration gone from the database',
    );
    await register(h, 'bob', 'r.test', c2, 0);
    await until(
      async () => (await query(h, 'r.test', 'bob'))['Event-Name'] === 'reg_query_error',
      'unregistered',
    );
    await until(
      async () => (await h.store.allDocs(REGISTRATIONS_DB)).rows.every((r) => r.id!.startsWith('_design/')),
      'database empty',
    );
  });

  it('reg_query by Realm alone, by Realm all, and Count-Only', async () => {
    const h = await fresh();
    await h.startRegistrar();
    await register(h, 'a1', 'one.test', '<sip:a1@10.0.2.1>', 60);
    await register(h, 'a2', 'one.test', '<sip:a2@10.0.2.2>', 60);
    await register(h, 'b1', 'two.test', '<sip:b1@10.0.2.3>', 60);
    for (const c of ['sip:a1@10.0.2.1', 'sip:a2@10.0.2.2', 'sip:b1@10.0.2.3']) await written(h, md5(c));
    const ask = async (fields: Record<string, unknown>, key: [string, string]) => {
      const q = build('reg_query', fields, {
        appName: 'test',
        appVersion: '1',
        node: 'test@localhost',
      }) as Envelope;
      return (
        await h.req.callCollect(q, regQueryTarget(...key), {
          until: (rs) => rs.length > 0,
          validate: () => true,
        })
      )[0]!;
    };
    const realm = await ask({ Realm: 'one.test', Fields: ['Username'] }, ['one.test', '*']);
    expect((realm.Fields as Array<{ Username: string }>).map((f) => f.Username).sort()).toEqual(['a1', 'a2']);
    expect((await ask({ Realm: 'all', 'Count-Only': true }, ['all', '*'])).Count).toBe(3);
  });

  it('reg_query for nobody answers reg_query_error with Registrar-Age', async () => {
    const h = await fresh();
    await h.startRegistrar();
    const r = await query(h, 'r.test', 'ghost');
    expect(r['Event-Name']).toBe('reg_query_error');
    expect(typeof r['Registrar-Age']).toBe('number');
  });

  it('expired registrations leave cache and database on the next sweep', async () => {
    const h = await fresh();
    await h.startRegistrar();
    await register(h, 'carol', 'r.test', '<sip:carol@10.0.0.3>', 30);
    await register(h, 'dave', 'r.test', '<sip:dave@10.0.0.4>', 3600);
    await written(h, md5('sip:carol@10.0.0.3'));
    await written(h, md5('sip:dave@10.0.0.4'));
    const gone = await GenServer.call<string[]>(h.rt, REG_SERVER, { op: 'sweep', now: Date.now() + 60_000 });
    expect(gone).toEqual([md5('sip:carol@10.0.0.3')]);
    expect((await query(h, 'r.test', 'carol'))['Event-Name']).toBe('reg_query_error');
    expect((await query(h, 'r.test', 'dave'))['Event-Name']).toBe('reg_query_resp');
    const ids = (await h.store.allDocs(REGISTRATIONS_DB)).rows
      .map((r) => r.id!)
      .filter((id) => !id.startsWith('_design/'));
    expect(ids).toEqual([md5('sip:dave@10.0.0.4')]);
  });

  it("reg_server killed: the restarted one keeps the registrations from its tables (nothing re-read); the dead one's handle refuses; a full restart primes from the database", async () => {
    const h = await fresh();
    await h.startRegistrar();
    for (let i = 0; i < 20; i++) await register(h, `u${i}`, 'r.test', `<sip:u${i}@10.0.1.${i}:5060>`, 3600);
    for (let i = 0; i < 20; i++) await written(h, md5(`sip:u${i}@10.0.1.${i}:5060`));
    const killedAt = h.rt.whereis(REG_SERVER)!;
    // The handle the dead incarnation holds (bound to its process, as its own is).
    const held = Table.open<string, unknown>(h.rt.context(killedAt)!, REGS_TABLE);
    expect(held.size).toBe(20);
    const reads = vi.spyOn(h.store, 'allDocs');
    const views = vi.spyOn(h.store, 'view');
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === REG_SERVER,
    );
    h.rt.crash(killedAt, 'injected');
    await h.rt.awaitExit(killedAt);
    await restarted;
    expect(() => held.insert('forged', { id: 'forged' })).toThrow(TableError);
    expect(() => held.delete(md5('sip:u1@10.0.1.1:5060'))).toThrow(TableError);
    expect(
      h.lines.filter((l) => l.msg === 'registrar: registrations kept across the restart').at(-1),
    ).toMatchObject({ registrations: 20 });
    for (let i = 0; i < 20; i++)
      expect((await query(h, 'r.test', `u${i}`, ['Contact'])).Fields).toEqual([
        { Contact: `<sip:u${i}@10.0.1.${i}:5060>` },
      ]);
    expect(reads.mock.calls.filter(([db]) => db === REGISTRATIONS_DB)).toEqual([]);
    expect(views.mock.calls.filter(([db]) => db === REGISTRATIONS_DB)).toEqual([]);
    expect(Table.reader<string, unknown>(h.rt, REGS_TABLE).info().owner).toEqual(h.rt.whereis(REG_SERVER));
    reads.mockRestore();
    views.mockRestore();
    // The restarted one writes: an update lands in the tables and the database.
    await register(h, 'u3', 'r.test', '<sip:u3@10.0.1.3:5060>', 1800);
    await until(
      () =>
        h.lines.some(
          (l) =>
            l.msg === 'registration written' &&
            l.id === md5('sip:u3@10.0.1.3:5060') &&
            l.result === 'updated',
        ),
      'the update written',
    );
    await h.stopRegistrar();
    await h.startRegistrar();
    expect(
      h.lines.filter((l) => l.msg === 'registrar: registrations primed from the database').at(-1),
    ).toMatchObject({ loaded: 20 });
    expect((await query(h, 'r.test', 'u7', ['Username'])).Fields).toEqual([{ Username: 'u7' }]);
  });

  it("reg_authn killed: the restarted one answers from the credentials it had (no device re-read), the dead one's handle refuses, and an edit after the restart is seen", async () => {
    const h = await fresh();
    await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    await addDevice(h.store, { realm: 'sip.acme.test', username: 'alice', password: 's3cret' });
    await h.startRegistrar();
    expect(await askAuthn(h, 'alice', 'sip.acme.test')).toMatchObject({ 'Auth-Password': 's3cret' });
    const killedAt = h.rt.whereis(REG_AUTHN)!;
    const held = Table.open<string, unknown>(h.rt.context(killedAt)!, CREDS_TABLE);
    const views = vi.spyOn(h.store, 'view');
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === REG_AUTHN,
    );
    h.rt.crash(killedAt, 'injected');
    await h.rt.awaitExit(killedAt);
    await restarted;
    expect(() => held.deleteAll()).toThrow(TableError);
    expect(
      h.lines.filter((l) => l.msg === 'registrar: credentials kept across the restart').at(-1),
    ).toMatchObject({ credentials: 1 });
    for (let i = 0; i < 3; i++)
      expect(await askAuthn(h, 'alice', 'sip.acme.test')).toMatchObject({ 'Auth-Password': 's3cret' });
    expect(views.mock.calls).toEqual([]);
    views.mockRestore();
    const listing = (await h.store.view('accounts', 'accounts/listing_by_realm', { key: 'sip.acme.test' }))
      .rows[0]!.value as { account_id: string };
    const db = accountDbName(listing.account_id);
    const doc = (await h.store.view(db, 'devices/sip_credentials', { key: 'alice', includeDocs: true }))
      .rows[0]!.doc!;
    await h.store.save(db, { ...doc, sip: { ...(doc.sip as object), password: 'n3w' } });
    await until(
      async () => (await askAuthn(h, 'alice', 'sip.acme.test'))['Auth-Password'] === 'n3w',
      'the new password',
    );
  });

  it('reg_authn killed and a device edited before its successor follows again: the successor resumes each feed where the dead one stopped, so the edit is not hidden', async () => {
    const h = await fresh();
    await addAccount(h.store, { name: 'Acme', realm: 'sip.acme.test' });
    await addDevice(h.store, { realm: 'sip.acme.test', username: 'alice', password: 's3cret' });
    await h.startRegistrar();
    expect(await askAuthn(h, 'alice', 'sip.acme.test')).toMatchObject({ 'Auth-Password': 's3cret' });
    const listing = (await h.store.view('accounts', 'accounts/listing_by_realm', { key: 'sip.acme.test' }))
      .rows[0]!.value as { account_db: string };
    const edit = async (): Promise<void> => {
      const doc = (
        await h.store.view(listing.account_db, 'devices/sip_credentials', { key: 'alice', includeDocs: true })
      ).rows[0]!.doc!;
      await h.store.save(listing.account_db, {
        ...doc,
        sip: { ...(doc.sip as object), password: 'in-the-gap' },
      });
    };
    // The successor looks at the feeds only once the edit is stored: the edit falls after
    // the dead one's feed and before the successor's.
    const changes = h.store.changes.bind(h.store);
    const follow = h.store.follow.bind(h.store);
    let resumed = 0;
    let edited: Promise<void> | undefined;
    vi.spyOn(h.store, 'changes').mockImplementation(async (db, q) => {
      await (edited ??= edit());
      return changes(db, q);
    });
    vi.spyOn(h.store, 'follow').mockImplementation((db, opts) => {
      if (opts.since !== undefined) resumed++;
      return follow(db, opts);
    });
    const killedAt = h.rt.whereis(REG_AUTHN)!;
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === REG_AUTHN,
    );
    h.rt.crash(killedAt, 'injected');
    await restarted;
    expect(resumed).toBeGreaterThan(0);
    expect(await askAuthn(h, 'alice', 'sip.acme.test')).toMatchObject({ 'Auth-Password': 'in-the-gap' });
  });

  it("a stray message to reg_server or reg_authn is the kernel's unexpected message: logged with its type, the process lives on", async () => {
    const h = await fresh();
    await h.startRegistrar();
    const [server, authn] = [h.rt.whereis(REG_SERVER)!, h.rt.whereis(REG_AUTHN)!];
    h.rt.send(server, { type: 'stray' });
    h.rt.send(authn, 'stray');
    await until(
      () => h.lines.filter((l) => l.msg === 'unexpected message dropped').length >= 2,
      'both logged',
    );
    expect(
      h.lines
        .filter((l) => l.msg === 'unexpected message dropped')
        .map((l) => l.server)
        .sort(),
    ).toEqual([REG_AUTHN, REG_SERVER]);
    expect([h.rt.whereis(REG_SERVER), h.rt.whereis(REG_AUTHN)]).toEqual([server, authn]);
  });

  it('bad input: missing headers, malformed contact, bad Expires are logged and dropped; reg_server keeps its pid', async () => {
    const h = await fresh();
    await h.startRegistrar();
    const pid = h.rt.whereis(REG_SERVER)!;
    const noContact = regSuccess('x', 'r.test', '<sip:x@1.2.3.4>', 60);
    delete noContact.Contact;
    await h.bus.publish('registrar', regSuccessTarget('r.test', 'x').routingKey, JSON.stringify(noContact));
    await h.bus.publish(
      'registrar',
      regSuccessTarget('r.test', 'y').routingKey,
      JSON.stringify(regSuccess('y', 'r.test', 'not a contact <<', 60)),
    );
    await h.bus.publish(
      'registrar',
      regSuccessTarget('r.test', 'z').routingKey,
      '{"Event-Category": "directory", "Event-Name":',
    );
    await until(
      () =>
        h.lines.some(
          (l) => l.msg === 'reg_success rejected' && String(l.reason).includes('malformed Contact'),
        ),
      'malformed contact logged',
    );
    await until(
      () => h.lines.filter((l) => l.msg === 'listener: invalid message dropped').length >= 2,
      'invalid ones logged',
    );
    expect(
      h.lines.find(
        (l) =>
          l.msg === 'listener: invalid message dropped' &&
          String(l.reason).includes('Contact: missing required header'),
      ),
    ).toBeDefined();
    expect(h.rt.whereis(REG_SERVER)).toBe(pid);
    await register(h, 'w', 'r.test', '<sip:w@1.2.3.5>', 60);
    await written(h, md5('sip:w@1.2.3.5'));
  });
});
