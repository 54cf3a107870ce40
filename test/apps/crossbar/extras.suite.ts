/**
 * crossbar's listing filters, apps store, phone numbers, channels, directories,
 * whitelabel, user_auth by phone number, voicemail uploads and bulk moves, and the
 * OpenAPI document, driven with fetch as Kazoo 4.3's clients drive them: happy paths, the
 * authorization matrix (a token of an unrelated account refused, of a parent account
 * allowed), validation errors. The store is the caller's, a fresh one: embedded in
 * crossbar.test.ts, a pouchdb-server of its own in extras.couchdb.test.ts.
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GREGORIAN_OFFSET_S, gregorianSeconds } from '../../../src/api/time.ts';
import { ACCOUNTS_DB, accountDbName, type DocumentStore } from '../../../src/store/index.ts';
import crossbarApp from '../../../apps/crossbar/app.ts';
import { modbOf } from '../../../apps/callflow/voicemail-store.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { buildAppsDir, voipMeta, writeApp } from './apps-dir.ts';
import { md5, seedAccounts, startCrossbar, userIn, type CbHarness } from './support.ts';

let cb: CbHarness;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};
let seededFrom = 0;

export function describeExtras(label: string, open?: () => Promise<DocumentStore>): void {
  describe(`crossbar filters, apps store, numbers, whitelabel, openapi: ${label}`, () => {
    beforeAll(async () => {
      cb = await startCrossbar({ store: open === undefined ? undefined : await open() });
      seededFrom = gregorianSeconds();
      ids.root = (await seedAccounts(cb, ids, tokens)).rootId;
    }, 30_000);

    afterAll(async () => {
      await cb?.close();
    });

    const acct = (): string => `/v2/accounts/${ids.customer}`;

    it('listing filters: filter_<key> (nested, JSON list), filter_not_, has_key, key_missing, has_value, created_from/to, with paging', async () => {
      const t = tokens.reseller!;
      const made: Record<string, string> = {};
      for (const [name, extra] of [
        ['Alpha', { sip: { username: 'alpha1', password: 'secret1' }, device_type: 'softphone' }],
        ['Bravo', { sip: { username: 'bravo1', password: 'secret1' }, mac_address: '' }],
        ['Charlie', { sip: { username: 'charlie1', password: 'secret1' }, mac_address: 'aa:bb' }],
        ['Delta', { device_type: 'softphone', enabled: false }],
      ] as const) {
        const r = await cb.call('PUT', `${acct()}/devices`, { token: t, data: { name, ...extra } });
        expect(r.status, r.text).toBe(201);
        made[name] = r.body.data.id as string;
      }
      const names = async (qs: string): Promise<string[]> => {
        const r = await cb.call('GET', `${acct()}/devices?${qs}`, { token: t });
        expect(r.status, r.text).toBe(200);
        return (r.body.data as Array<{ name: string }>).map((d) => d.name).sort();
      };
      expect(await names('filter_device_type=softphone')).toEqual(['Alpha', 'Delta']);
      expect(await names('filter_sip.username=bravo1')).toEqual(['Bravo']);
      expect(await names(`filter_name=${encodeURIComponent('["Alpha","Charlie"]')}`)).toEqual([
        'Alpha',
        'Charlie',
      ]);
      expect(await names('filter_not_device_type=softphone')).toEqual(['Bravo', 'Charlie']);
      expect(await names('filter_enabled=false')).toEqual(['Delta']);
      expect(await names('has_key=mac_address')).toEqual(['Bravo', 'Charlie']);
      expect(await names('has_value=mac_address')).toEqual(['Charlie']);
      expect(await names('key_missing=sip.username')).toEqual(['Delta']);
      expect(await names('filter_device_type=softphone&has_key=sip.username')).toEqual(['Alpha']);
      // The bounds are Gregorian seconds, as Monster sends them.
      const future = gregorianSeconds() + 3600;
      expect(await names(`created_from=${future}`)).toEqual([]);
      expect((await names(`created_to=${future}`)).length).toBe(4);
      expect(await names(`modified_from=${future}`)).toEqual([]);
      // Paging counts the rows that pass: two softphones, one per page.
      const p1 = await cb.call('GET', `${acct()}/devices?filter_device_type=softphone&page_size=1`, {
        token: t,
      });
      expect(p1.body.data).toHaveLength(1);
      expect(p1.body.page_size).toBe(1);
      expect(typeof p1.body.next_start_key).toBe('string');
      const p2 = await cb.call(
        'GET',
        `${acct()}/devices?filter_device_type=softphone&page_size=1&start_key=${p1.body.next_start_key}`,
        { token: t },
      );
      expect(p2.body.data).toHaveLength(1);
      expect(p2.body.next_start_key).toBeUndefined();
      expect([p1.body.data[0].name, p2.body.data[0].name].sort()).toEqual(['Alpha', 'Delta']);
      for (const id of Object.values(made)) await cb.call('DELETE', `${acct()}/devices/${id}`, { token: t });
    });
    it("Kazoo's timestamps: pvt_created/pvt_modified in Gregorian seconds, an account's `created`, created_from/to with Gregorian bounds", async () => {
      const t = tokens.reseller!;
      const db = accountDbName(ids.customer!, 'encoded');
      const before = gregorianSeconds();
      const made = await cb.call('PUT', `${acct()}/devices`, { token: t, data: { name: 'Echo' } });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      const doc = await cb.store.get(db, id);
      const after = gregorianSeconds();
      expect(doc.pvt_created).toBeGreaterThanOrEqual(before);
      expect(doc.pvt_created).toBeLessThanOrEqual(after);
      expect(doc.pvt_modified).toBe(doc.pvt_created);
      // An edit moves pvt_modified only.
      const edited = await cb.call('PATCH', `${acct()}/devices/${id}`, {
        token: t,
        data: { enabled: false },
      });
      expect(edited.status, edited.text).toBe(200);
      const again = await cb.store.get(db, id);
      expect(again.pvt_created).toBe(doc.pvt_created);
      expect(Number(again.pvt_modified)).toBeGreaterThanOrEqual(Number(doc.pvt_created));
      expect(Number(again.pvt_modified)).toBeLessThanOrEqual(gregorianSeconds());

      // Monster's created_from / created_to bounds are Gregorian seconds.
      const names = async (qs: string): Promise<string[]> => {
        const r = await cb.call('GET', `${acct()}/devices?filter_name=Echo&${qs}`, { token: t });
        expect(r.status, r.text).toBe(200);
        return (r.body.data as Array<{ name: string }>).map((d) => d.name);
      };
      expect(await names(`created_from=${before}`)).toEqual(['Echo']);
      expect(await names(`created_to=${after}`)).toEqual(['Echo']);
      expect(await names(`created_to=${before - 60}`)).toEqual([]);
      expect(await names(`created_from=${after + 60}`)).toEqual([]);
      expect(await names(`modified_from=${before}&modified_to=${gregorianSeconds()}`)).toEqual(['Echo']);

      // `fife account add` (the registrar's provisioning) stamps the same way.
      const root = await cb.store.get(ACCOUNTS_DB, ids.root!);
      expect(root.pvt_created).toBeGreaterThanOrEqual(seededFrom);
      expect(root.pvt_created).toBeLessThanOrEqual(before);
      expect(root.pvt_modified).toBe(root.pvt_created);

      // A child account answers `created` (cb_accounts' leak_pvt_created), read-only.
      const child = await cb.call('PUT', acct(), {
        token: t,
        data: { name: 'Stamped', realm: 'sip.stamped.test' },
      });
      expect(child.status, child.text).toBe(201);
      const created = child.body.data.created as number;
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(gregorianSeconds());
      const childId = child.body.data.id as string;
      const posted = await cb.call('POST', `/v2/accounts/${childId}`, {
        token: t,
        data: { ...child.body.data, created: 1 },
      });
      expect(posted.status, posted.text).toBe(200);
      expect(posted.body.data.created).toBe(created);
      expect((await cb.store.get(ACCOUNTS_DB, childId)).created).toBeUndefined();
    });

    it('a document an earlier Fife stored with Unix seconds reads as the same time in Gregorian seconds', async () => {
      const t = tokens.reseller!;
      const db = accountDbName(ids.customer!, 'encoded');
      const unix = Math.floor(Date.now() / 1000) - 7200; // two hours ago, as Unix seconds
      const old = await cb.store.save(db, {
        _id: 'a01d0000000000000000000000000001',
        name: 'Foxtrot',
        pvt_type: 'device',
        pvt_account_id: ids.customer,
        pvt_account_db: db,
        pvt_created: unix,
        pvt_modified: unix,
        pvt_vsn: '1',
      });
      const names = async (qs: string): Promise<string[]> => {
        const r = await cb.call('GET', `${acct()}/devices?filter_name=Foxtrot&${qs}`, { token: t });
        expect(r.status, r.text).toBe(200);
        return (r.body.data as Array<{ name: string }>).map((d) => d.name);
      };
      const g = unix + GREGORIAN_OFFSET_S;
      expect(await names(`created_from=${g - 60}&created_to=${g + 60}`)).toEqual(['Foxtrot']);
      expect(await names(`created_from=${g + 60}`)).toEqual([]);
      expect(await names(`modified_to=${g - 60}`)).toEqual([]);
      // The next write keeps the creation time, now in Gregorian seconds.
      const r = await cb.call('PATCH', `${acct()}/devices/${old._id}`, { token: t, data: { enabled: true } });
      expect(r.status, r.text).toBe(200);
      const now = await cb.store.get(db, old._id);
      expect(now.pvt_created).toBe(g);
      expect(Number(now.pvt_modified)).toBeGreaterThan(g);
      // An old account's `created` is answered in Gregorian seconds too.
      const parent = await cb.store.get(ACCOUNTS_DB, ids.customer!);
      const oldAccount = await cb.store.save(ACCOUNTS_DB, {
        _id: 'a01d0000000000000000000000000002',
        name: 'Old',
        realm: 'sip.old.test',
        pvt_type: 'account',
        pvt_tree: [...(parent.pvt_tree as string[]), parent._id],
        pvt_created: unix,
        pvt_modified: unix,
      });
      const got = await cb.call('GET', `/v2/accounts/${oldAccount._id}`, { token: t });
      expect(got.status, got.text).toBe(200);
      expect(got.body.data.created).toBe(g);
    });

    it('directories: create, list, get, patch, delete; name required, sort_by checked', async () => {
      const t = tokens.reseller!;
      const made = await cb.call('PUT', `${acct()}/directories`, { token: t, data: { name: 'Staff' } });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({ name: 'Staff', min_dial: 3, sort_by: 'last_name' });
      const list = await cb.call('GET', `${acct()}/directories`, { token: t });
      expect(list.body.data).toEqual([{ id, name: 'Staff', flags: [] }]);
      const patched = await cb.call('PATCH', `${acct()}/directories/${id}`, {
        token: t,
        data: { sort_by: 'first_name' },
      });
      expect(patched.body.data).toMatchObject({ name: 'Staff', sort_by: 'first_name' });
      const bad = await cb.call('PUT', `${acct()}/directories`, { token: t, data: { sort_by: 'age' } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({
        message: 'validation error',
        data: { name: { required: {} }, sort_by: { enum: { value: 'age' } } },
      });
      expect((await cb.call('DELETE', `${acct()}/directories/${id}`, { token: t })).status).toBe(200);
      expect((await cb.call('GET', `${acct()}/directories/${id}`, { token: t })).status).toBe(404);
    });

    it('phone_numbers and channels answer Kazoo’s shapes with no data; an unknown number or user is 404', async () => {
      const t = tokens.reseller!;
      const nums = await cb.call('GET', `${acct()}/phone_numbers`, { token: t });
      expect(nums.status, nums.text).toBe(200);
      expect(nums.body.data).toEqual({ numbers: {}, cascade_quantity: 0 });
      const one = await cb.call('GET', `${acct()}/phone_numbers/%2B15550001111`, { token: t });
      expect(one.status).toBe(404);
      expect(one.body).toMatchObject({ message: 'bad_identifier', data: { cause: '+15550001111' } });
      const ch = await cb.call('GET', `${acct()}/channels`, { token: t });
      expect(ch.status, ch.text).toBe(200);
      expect(ch.body.data).toEqual([]);
      const user = (
        await cb.call('PUT', `${acct()}/users`, { token: t, data: { first_name: 'A', last_name: 'B' } })
      ).body.data.id as string;
      expect((await cb.call('GET', `${acct()}/users/${user}/channels`, { token: t })).body.data).toEqual([]);
      expect((await cb.call('GET', `${acct()}/users/${'f'.repeat(32)}/channels`, { token: t })).status).toBe(
        404,
      );
    });

    it('whitelabel: none is 404; PUT, lookup by domain without a token, POST, domain unique, DELETE', async () => {
      const t = tokens.reseller!;
      const none = await cb.call('GET', '/v2/whitelabel/portal.customer.test');
      expect(none.status).toBe(404);
      expect(none.body).toMatchObject({ message: 'bad_identifier', data: { cause: 'portal.customer.test' } });
      expect((await cb.call('GET', `${acct()}/whitelabel`, { token: t })).status).toBe(404);
      const made = await cb.call('PUT', `${acct()}/whitelabel`, {
        token: t,
        data: { domain: 'Portal.Customer.test', company_name: 'Customer Inc' },
      });
      expect(made.status, made.text).toBe(201);
      expect(made.body.data).toMatchObject({ domain: 'portal.customer.test', company_name: 'Customer Inc' });
      const found = await cb.call('GET', '/v2/whitelabel/portal.customer.test');
      expect(found.status, found.text).toBe(200);
      expect(found.body.data).toMatchObject({ company_name: 'Customer Inc', account_id: ids.customer });
      const again = await cb.call('PUT', `${acct()}/whitelabel`, { token: t, data: { company_name: 'X' } });
      expect(again.status).toBe(400);
      const taken = await cb.call('PUT', `/v2/accounts/${ids.unrelated}/whitelabel`, {
        token: tokens.unrelated,
        data: { domain: 'portal.customer.test' },
      });
      expect(taken.status).toBe(400);
      expect(taken.body.data).toMatchObject({ domain: { unique: { cause: 'portal.customer.test' } } });
      const bad = await cb.call('POST', `${acct()}/whitelabel`, { token: t, data: { hide_powered: 'yes' } });
      expect(bad.status).toBe(400);
      expect(bad.body.data).toMatchObject({ hide_powered: { type: {} } });
      const moved = await cb.call('POST', `${acct()}/whitelabel`, {
        token: t,
        data: { domain: 'brand.customer.test', company_name: 'Customer Two' },
      });
      expect(moved.status, moved.text).toBe(200);
      expect((await cb.call('GET', '/v2/whitelabel/portal.customer.test')).status).toBe(404);
      expect((await cb.call('GET', '/v2/whitelabel/brand.customer.test')).body.data).toMatchObject({
        company_name: 'Customer Two',
      });
      expect((await cb.call('DELETE', `${acct()}/whitelabel`, { token: t })).status).toBe(200);
      expect((await cb.call('GET', '/v2/whitelabel/brand.customer.test')).status).toBe(404);
      expect((await cb.call('GET', `${acct()}/whitelabel`, { token: t })).status).toBe(404);
    });

    it('directories, phone_numbers, channels, whitelabel: an unrelated account’s token is 403, a parent’s allowed', async () => {
      const r = tokens.reseller!;
      const u = tokens.unrelated!;
      const dir = (await cb.call('PUT', `${acct()}/directories`, { token: r, data: { name: 'D' } })).body.data
        .id as string;
      const json: Array<[string, string, unknown?]> = [
        ['GET', `${acct()}/directories`],
        ['PUT', `${acct()}/directories`, { name: 'N' }],
        ['GET', `${acct()}/directories/${dir}`],
        ['PATCH', `${acct()}/directories/${dir}`, { name: 'D2' }],
        ['POST', `${acct()}/directories/${dir}`, { name: 'D3' }],
        ['GET', `${acct()}/phone_numbers`],
        ['GET', `${acct()}/channels`],
        ['PUT', `${acct()}/whitelabel`, { company_name: 'C' }],
        ['GET', `${acct()}/whitelabel`],
        ['POST', `${acct()}/whitelabel`, { company_name: 'C2' }],
        ['DELETE', `${acct()}/whitelabel`],
        ['DELETE', `${acct()}/directories/${dir}`],
      ];
      for (const [m, p, d] of json) {
        const refused = await cb.call(m, p, { token: u, data: d });
        expect(refused.status, `${m} ${p}`).toBe(403);
        expect(refused.body).toMatchObject({ message: 'forbidden', data: { cause: ids.customer } });
        const allowed = await cb.call(m, p, { token: r, data: d });
        expect([200, 201], `${m} ${p}: ${allowed.text}`).toContain(allowed.status);
      }
      expect((await cb.call('GET', `${acct()}/phone_numbers`)).status).toBe(401);
    });
    /** The crossbar app's init_apps operation, as `fife crossbar init-apps` runs it. */
    const initApps = async (dir: string, apiUrl?: string) =>
      (
        (await crossbarApp.operations!.init_apps!(
          { dir, ...(apiUrl === undefined ? {} : { api_url: apiUrl }) },
          { store: cb.store, log: memoryLogger().logger } as never,
        )) as { apps: Array<Record<string, any>> }
      ).apps;

    const download = async (path: string, token?: string) => {
      const res = await fetch(`${cb.base}${path}`, {
        headers: token === undefined ? {} : { 'x-auth-token': token },
      });
      return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
    };

    it('init_apps registers a client’s apps (metadata, icon, screenshots) into the master account; apps_store lists and serves them', async () => {
      const { dir, images } = buildAppsDir();
      const report = await initApps(dir, 'http://api.platform.test:8000/v2/');
      const by = Object.fromEntries(report.map((a) => [a.app, a]));
      expect(by.voip).toMatchObject({
        result: 'created',
        images: ['VoIP_Services.png', 'voip1.png', 'voip2.png'],
      });
      expect(by.accounts).toMatchObject({ result: 'created', images: ['accounts.png'] });
      expect(by.broken).toMatchObject({ result: 'failed', error: expect.stringContaining('not JSON') });
      expect(by.nameless).toMatchObject({ result: 'failed', error: expect.stringContaining('name') });
      expect(by.assets).toBeUndefined();
      const t = tokens.reseller!;
      const list = await cb.call('GET', `${acct()}/apps_store`, { token: t });
      expect(list.status, list.text).toBe(200);
      const voip = (list.body.data as Array<Record<string, any>>).find((a) => a.name === 'voip')!;
      expect(voip).toMatchObject({
        id: by.voip.id,
        i18n: { 'en-US': { label: 'Smart PBX' } },
        tags: ['reseller', 'developer'],
        api_url: 'http://api.platform.test:8000/v2/',
        account_id: ids.root,
        masqueradable: true,
      });
      expect(voip).not.toHaveProperty('source_url');
      expect(voip).not.toHaveProperty('allowed_users');
      expect((list.body.data as unknown[]).length).toBe(2);
      const one = await cb.call('GET', `${acct()}/apps_store/${by.voip.id}`, { token: t });
      expect(one.body.data).toMatchObject({
        id: by.voip.id,
        name: 'voip',
        author: '2600Hz',
        screenshots: ['voip1.png', 'voip2.png'],
        account_id: ids.root,
      });
      // Images go to <img> tags: no token needed.
      const icon = await download(`${acct()}/apps_store/${by.voip.id}/icon`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/png');
      expect(icon.bytes.equals(images.icon)).toBe(true);
      const shot = await download(`${acct()}/apps_store/${by.voip.id}/screenshot/1`);
      expect(shot.bytes.equals(images.shot1)).toBe(true);
      expect((await download(`${acct()}/apps_store/${by.voip.id}/screenshot/2`)).status).toBe(404);
      expect((await cb.call('GET', `${acct()}/apps_store/${'a'.repeat(32)}`, { token: t })).status).toBe(404);
      // Run again: known names are updated in place, not duplicated.
      writeApp(dir, 'voip', voipMeta('SmartPBX'), { 'icon/VoIP_Services.png': images.icon });
      const again = Object.fromEntries((await initApps(dir)).map((a) => [a.app, a]));
      expect(again.voip).toMatchObject({ result: 'updated', id: by.voip.id });
      expect(again.voip).not.toHaveProperty('missing');
      expect(again.accounts).toMatchObject({ result: 'unchanged', id: by.accounts.id });
      const after = await cb.call('GET', `${acct()}/apps_store/${by.voip.id}`, { token: t });
      expect(after.body.data.i18n['en-US'].label).toBe('SmartPBX');
      expect((await cb.call('GET', `${acct()}/apps_store`, { token: t })).body.data).toHaveLength(2);
    });

    it('apps_store install state is per account: PUT installs, POST changes, DELETE uninstalls; errors as Kazoo', async () => {
      const t = tokens.reseller!;
      const list = (await cb.call('GET', `${acct()}/apps_store`, { token: t })).body.data as Array<
        Record<string, any>
      >;
      const voip = list.find((a) => a.name === 'voip')!.id as string;
      const path = `${acct()}/apps_store/${voip}`;
      const bad = await cb.call('PUT', path, { token: t, data: { allowed_users: 'everyone' } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ message: 'validation error', data: { allowed_users: { enum: {} } } });
      const made = await cb.call('PUT', path, { token: t, data: { allowed_users: 'all' } });
      expect(made.status, made.text).toBe(201);
      expect(made.body.data).toEqual({ allowed_users: 'all', users: [], name: 'voip' });
      const twice = await cb.call('PUT', path, { token: t, data: { allowed_users: 'all' } });
      expect(twice.status).toBe(400);
      expect(twice.body.message).toBe('Application already installed');
      const listed = (await cb.call('GET', `${acct()}/apps_store`, { token: t })).body.data as Array<
        Record<string, any>
      >;
      expect(listed.find((a) => a.id === voip)).toMatchObject({ allowed_users: 'all', users: [] });
      // Another account has not installed it.
      const elsewhere = await cb.call('GET', `/v2/accounts/${ids.reseller}/apps_store/${voip}`, { token: t });
      expect(elsewhere.body.data).not.toHaveProperty('allowed_users');
      const changed = await cb.call('POST', path, {
        token: t,
        data: { allowed_users: 'specific', users: [{ id: 'u1' }] },
      });
      expect(changed.status, changed.text).toBe(200);
      expect((await cb.call('GET', path, { token: t })).body.data).toMatchObject({
        allowed_users: 'specific',
        users: [{ id: 'u1' }],
      });
      expect((await cb.call('DELETE', path, { token: t })).status).toBe(200);
      const gone = await cb.call('DELETE', path, { token: t });
      expect(gone.status).toBe(400);
      expect(gone.body.message).toBe('Application is not installed');
      expect((await cb.call('POST', path, { token: t, data: { allowed_users: 'all' } })).status).toBe(400);
    });

    it('apps_store: an unrelated account’s token is 403, a parent’s allowed', async () => {
      const r = tokens.reseller!;
      const u = tokens.unrelated!;
      const list = (await cb.call('GET', `${acct()}/apps_store`, { token: r })).body.data as Array<
        Record<string, any>
      >;
      const id = list.find((a) => a.name === 'accounts')!.id as string;
      const steps: Array<[string, string, unknown?]> = [
        ['GET', `${acct()}/apps_store`],
        ['GET', `${acct()}/apps_store/${id}`],
        ['PUT', `${acct()}/apps_store/${id}`, { allowed_users: 'admins' }],
        ['POST', `${acct()}/apps_store/${id}`, { allowed_users: 'all' }],
        ['DELETE', `${acct()}/apps_store/${id}`],
      ];
      for (const [m, p, d] of steps) {
        const refused = await cb.call(m, p, { token: u, data: d });
        expect(refused.status, `${m} ${p}`).toBe(403);
        expect(refused.body).toMatchObject({ message: 'forbidden', data: { cause: ids.customer } });
        const allowed = await cb.call(m, p, { token: r, data: d });
        expect([200, 201], `${m} ${p}: ${allowed.text}`).toContain(allowed.status);
      }
      expect((await cb.call('GET', `${acct()}/apps_store`)).status).toBe(401);
    });
    it('user_auth with phone_number: the account whose callflow routes the number', async () => {
      const t = tokens.reseller!;
      const flow = await cb.call('PUT', `${acct()}/callflows`, {
        token: t,
        data: { numbers: ['+15554443322'], flow: { module: 'user', data: { id: 'x' } } },
      });
      expect(flow.status, flow.text).toBe(201);
      const user = await userIn(cb, t, ids.customer!, 'phoneuser', 'phone-pass');
      const login = (phone_number: string, password = 'phone-pass') =>
        cb.call('PUT', '/v2/user_auth', {
          data: { credentials: md5(`phoneuser:${password}`), phone_number },
        });
      for (const n of ['+15554443322', '15554443322', '1 (555) 444-3322']) {
        const ok = await login(n);
        expect(ok.status, `${n}: ${ok.text}`).toBe(201);
        expect(ok.body.data).toMatchObject({ account_id: ids.customer, owner_id: user });
        expect(typeof ok.body.auth_token).toBe('string');
      }
      expect((await login('+15554443322', 'wrong')).status).toBe(401);
      const unknown = await login('+15550000000');
      expect(unknown.status).toBe(401);
      expect(unknown.body.message).toBe('invalid_credentials');
    });
    it('GET /v2/openapi.json documents every served route with the schemas the routes validate with', async () => {
      const res = await fetch(`${cb.base}/v2/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const doc = (await res.json()) as Record<string, any>;
      expect(doc.openapi).toBe('3.1.0');
      const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, m]) =>
        Object.keys(m).map((method) => `${method.toUpperCase()} ${path}`),
      );
      // The endpoints the README's table lists, as a client names them.
      const A = '/v2/accounts/{account_id}';
      const expected = [
        'PUT /v2/user_auth',
        'PUT /v2/api_auth',
        'POST /v2/auth/tokeninfo',
        `GET ${A}`,
        `PUT ${A}`,
        `POST ${A}`,
        `PATCH ${A}`,
        `DELETE ${A}`,
        `GET ${A}/children`,
        `GET ${A}/descendants`,
        `GET ${A}/parents`,
        `GET ${A}/api_key`,
        `GET ${A}/devices/status`,
        `GET ${A}/vmboxes/{id}/messages`,
        `GET ${A}/vmboxes/{id}/messages/{message_id}/raw`,
        `PUT ${A}/media/{id}/raw`,
        `GET ${A}/apps_store`,
        `PUT ${A}/apps_store/{app_id}`,
        `GET ${A}/apps_store/{app_id}/icon`,
        `GET ${A}/apps_store/{app_id}/screenshot/{n}`,
        `GET ${A}/phone_numbers`,
        `GET ${A}/channels`,
        'GET /v2/whitelabel/{domain}',
        `PUT ${A}/whitelabel`,
        'GET /v2/openapi.json',
        ...['users', 'devices', 'callflows', 'vmboxes', 'media', 'menus', 'directories'].flatMap((k) => [
          `GET ${A}/${k}`,
          `PUT ${A}/${k}`,
          `GET ${A}/${k}/{id}`,
          `POST ${A}/${k}/{id}`,
          `PATCH ${A}/${k}/{id}`,
          `DELETE ${A}/${k}/{id}`,
        ]),
      ];
      for (const e of expected) expect(ops, e).toContain(e);
      // Every documented operation is served: none falls to the unknown-path answer.
      for (const op of ops) {
        const [method, path] = op.split(' ') as [string, string];
        const url = path.replace(/\{[^}]+\}/g, 'f'.repeat(32));
        const r = await cb.call(method, url);
        expect(r.body.message === 'not_found' && r.status === 404, `${op} is not served`).toBe(false);
      }
      // The schemas compile, and are the ones the routes check: the same fields are refused.
      const ajv = new Ajv({ allErrors: true, strict: false });
      for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, object>))
        expect(() => ajv.compile(schema), name).not.toThrow();
      const devicePut = doc.paths[`${A}/devices`].put;
      expect(devicePut.security).toEqual([{ auth_token: [] }]);
      expect(devicePut.requestBody.content['application/json'].schema.properties.data.$ref).toBe(
        '#/components/schemas/device',
      );
      const checkDevice = ajv.compile(doc.components.schemas.device);
      const bad = { device_type: 'toaster', sip: { password: 'x' } };
      expect(checkDevice(bad)).toBe(false);
      const fromDoc = (checkDevice.errors ?? []).map((e) => e.instancePath || e.params.missingProperty);
      const served = await cb.call('PUT', `${acct()}/devices`, { token: tokens.reseller, data: bad });
      expect(served.status).toBe(400);
      expect(Object.keys(served.body.data).sort()).toEqual(
        fromDoc.map((p: string) => p.replace(/^\//, '').replace(/\//g, '.')).sort(),
      );
      expect(doc.paths['/v2/user_auth'].put.security).toBeUndefined();
      expect(doc.paths[`${A}/media/{id}/raw`].put.requestBody.content).toHaveProperty('audio/*');
    });
    const uploadMessage = async (box: string, token: string, audio: Buffer, qs = '', type = 'audio/wav') => {
      const res = await fetch(`${cb.base}${acct()}/vmboxes/${box}/messages${qs}`, {
        method: 'PUT',
        headers: { 'x-auth-token': token, 'content-type': type },
        body: new Uint8Array(audio),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };

    it('vmbox messages: PUT uploads audio as a new message; listed, downloadable byte for byte; bad uploads refused', async () => {
      const t = tokens.reseller!;
      const box = (
        await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { name: 'Up', mailbox: '4100' } })
      ).body.data.id as string;
      const audio = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(400, 7)]);
      const before = gregorianSeconds();
      const up = await uploadMessage(box, t, audio, '?caller_id_number=1002&caller_id_name=Bob&length=4000');
      const after = gregorianSeconds();
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      expect(up.body.data).toMatchObject({
        caller_id_number: '1002',
        caller_id_name: 'Bob',
        length: 4000,
        folder: 'new',
      });
      const id = up.body.data.media_id as string;
      expect(id).toMatch(/^\d{6}-[0-9a-f]{32}$/);
      // Kazoo's times, Gregorian seconds: metadata.timestamp, utc_seconds, pvt_created alike.
      const ts = up.body.data.timestamp as number;
      expect(ts).toBeGreaterThanOrEqual(before);
      expect(ts).toBeLessThanOrEqual(after);
      expect(await cb.store.get(modbOf(ids.customer!), id)).toMatchObject({
        utc_seconds: ts,
        pvt_created: ts,
      });
      const list = await cb.call('GET', `${acct()}/vmboxes/${box}/messages`, { token: t });
      expect(list.body.data).toEqual([expect.objectContaining({ media_id: id, caller_id_name: 'Bob' })]);
      const raw = await fetch(`${cb.base}${acct()}/vmboxes/${box}/messages/${id}/raw`, {
        headers: { 'x-auth-token': t },
      });
      expect(Buffer.from(await raw.arrayBuffer()).equals(audio)).toBe(true);
      const boxes = await cb.call('GET', `${acct()}/vmboxes`, { token: t });
      expect(boxes.body.data.find((b: { id: string }) => b.id === box).messages).toBe(1);
      const notAudio = await cb.call('PUT', `${acct()}/vmboxes/${box}/messages`, {
        token: t,
        data: { x: 1 },
      });
      expect(notAudio.status).toBe(400);
      expect(notAudio.body.data).toHaveProperty('content_type');
      const empty = await uploadMessage(box, t, Buffer.alloc(0));
      expect(empty.status).toBe(400);
      const badFolder = await uploadMessage(box, t, audio, '?folder=archive&length=abc');
      expect(badFolder.status).toBe(400);
      expect(badFolder.body.data).toMatchObject({ folder: { enum: {} }, length: { type: {} } });
      // A `timestamp` given in Unix seconds is stored as the same time in Gregorian seconds.
      const unix = Math.floor(Date.now() / 1000) - 600;
      const dated = await uploadMessage(box, t, audio, `?timestamp=${unix}`);
      expect(dated.status, JSON.stringify(dated.body)).toBe(201);
      expect(dated.body.data.timestamp).toBe(unix + GREGORIAN_OFFSET_S);
    });

    it('vmbox messages: POST / DELETE on the list move several at once and report which failed', async () => {
      const t = tokens.reseller!;
      const box = (
        await cb.call('PUT', `${acct()}/vmboxes`, { token: t, data: { name: 'Bulk', mailbox: '4200' } })
      ).body.data.id as string;
      const msg: string[] = [];
      for (let i = 0; i < 3; i++)
        msg.push((await uploadMessage(box, t, Buffer.from(`RIFF${i}`))).body.data.media_id as string);
      const path = `${acct()}/vmboxes/${box}/messages`;
      const bogus = '209901-' + 'a'.repeat(32);
      const moved = await cb.call('POST', path, {
        token: t,
        data: { messages: [msg[0], msg[1], bogus], folder: 'saved' },
      });
      expect(moved.status, moved.text).toBe(200);
      expect(moved.body.data).toEqual({ succeeded: [msg[0], msg[1]], failed: { [bogus]: 'not_found' } });
      const folders = async () =>
        Object.fromEntries(
          (
            (await cb.call('GET', path, { token: t })).body.data as Array<{
              media_id: string;
              folder: string;
            }>
          ).map((m) => [m.media_id, m.folder]),
        );
      expect(await folders()).toEqual({ [msg[0]!]: 'saved', [msg[1]!]: 'saved', [msg[2]!]: 'new' });
      const del = await cb.call('DELETE', path, { token: t, data: { messages: [msg[0]] } });
      expect(del.body.data).toEqual({ succeeded: [msg[0]], failed: {} });
      expect(Object.keys(await folders()).sort()).toEqual([msg[1], msg[2]].sort());
      const all = await cb.call('POST', `${path}?folder=new`, { token: t });
      expect(all.body.data.succeeded.sort()).toEqual([msg[1], msg[2]].sort());
      expect(await folders()).toEqual({ [msg[1]!]: 'new', [msg[2]!]: 'new' });
      const noFolder = await cb.call('POST', path, { token: t, data: { messages: [msg[1]] } });
      expect(noFolder.status).toBe(400);
      expect(noFolder.body.data).toHaveProperty('folder');
      const badList = await cb.call('POST', path, { token: t, data: { messages: 'all', folder: 'saved' } });
      expect(badList.status).toBe(400);
      expect(badList.body.data).toMatchObject({ messages: { type: {} } });
      const u = tokens.unrelated!;
      expect((await uploadMessage(box, u, Buffer.from('RIFF'))).status).toBe(403);
      for (const m of ['POST', 'DELETE']) {
        const refused = await cb.call(m, path, { token: u, data: { messages: [msg[1]], folder: 'saved' } });
        expect(refused.status, m).toBe(403);
        expect(refused.body).toMatchObject({ message: 'forbidden', data: { cause: ids.customer } });
      }
    });
    it('user_auth answers the installed apps the user may open (all, admins, specific)', async () => {
      const t = tokens.reseller!;
      const offered = (await cb.call('GET', `${acct()}/apps_store`, { token: t })).body.data as Array<
        Record<string, any>
      >;
      const voip = offered.find((a) => a.name === 'voip')!.id as string;
      const accounts = offered.find((a) => a.name === 'accounts')!.id as string;
      await userIn(cb, t, ids.customer!, 'custadmin', 'admin-pass');
      const plain = await cb.call('PUT', `${acct()}/users`, {
        token: t,
        data: { first_name: 'P', last_name: 'U', username: 'plainuser', password: 'plain-pass' },
      });
      const plainId = plain.body.data.id as string;
      const apps = async (username: string, password: string) => {
        const r = await cb.call('PUT', '/v2/user_auth', {
          data: { credentials: md5(`${username}:${password}`), account_name: 'Customer' },
        });
        expect(r.status, r.text).toBe(201);
        return (r.body.data.apps as Array<Record<string, any>>).map((a) => a.name).sort();
      };
      expect(await apps('custadmin', 'admin-pass')).toEqual([]);
      await cb.call('PUT', `${acct()}/apps_store/${voip}`, { token: t, data: { allowed_users: 'admins' } });
      await cb.call('PUT', `${acct()}/apps_store/${accounts}`, {
        token: t,
        data: { allowed_users: 'specific', users: [{ id: plainId }] },
      });
      const login = await cb.call('PUT', '/v2/user_auth', {
        data: { credentials: md5('custadmin:admin-pass'), account_name: 'Customer' },
      });
      expect(login.body.data.apps).toEqual([
        expect.objectContaining({
          id: voip,
          name: 'voip',
          api_url: 'http://api.platform.test:8000/v2/',
          label: 'SmartPBX',
        }),
      ]);
      expect(await apps('plainuser', 'plain-pass')).toEqual(['accounts']);
      await cb.call('POST', `${acct()}/apps_store/${voip}`, { token: t, data: { allowed_users: 'all' } });
      expect(await apps('plainuser', 'plain-pass')).toEqual(['accounts', 'voip']);
      for (const id of [voip, accounts]) await cb.call('DELETE', `${acct()}/apps_store/${id}`, { token: t });
      expect(await apps('plainuser', 'plain-pass')).toEqual([]);
    });
  });
}
