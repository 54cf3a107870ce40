/**
 * crossbar's behaviour suite, driven with fetch the way Kazoo's clients drive Kazoo 4.3:
 * logins, the envelope, every endpoint's happy path, the authorization matrix, validation
 * errors, pagination, CORS, and a device created over HTTP answering the registrar's
 * authn_req (on the embedded bus). The store is the caller's: embedded in
 * crossbar.test.ts, the CouchDB-protocol server in crossbar.couchdb.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAuthn, register } from '../registrar/support.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDesignDocs, readDesignDocs, type DocumentStore } from '../../../src/store/index.ts';
import { lookupCallflow } from '../../../apps/callflow/lookup.ts';
import { childAccount, md5, seedAccounts, sha1, startCrossbar, userIn, type CbHarness } from './support.ts';

const CALLFLOW_DESIGN = readDesignDocs(
  join(dirname(fileURLToPath(import.meta.url)), '../../../apps/callflow/couchdb/account'),
);

let cb: CbHarness;
let rootId: string;
let rootToken: string;
/** reseller (child of root) > customer (child of reseller); unrelated (child of root). */
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

export function describeCrossbar(label: string, open?: () => Promise<DocumentStore>): void {
  describe(`crossbar: ${label}`, () => {
    beforeAll(async () => {
      cb = await startCrossbar({ store: open === undefined ? undefined : await open() });
      ({ rootId, rootToken } = await seedAccounts(cb, ids, tokens));
    }, 30_000);

    afterAll(async () => {
      await cb?.close();
    });

    describe('logins and tokens', () => {
      it('user_auth with md5 credentials and account_name answers 201, the envelope and a JWT with the claims', async () => {
        const r = await cb.call('PUT', '/v2/user_auth', {
          data: { credentials: md5('resadmin:res-pass'), account_name: 'Reseller One' },
        });
        expect(r.status).toBe(201);
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(r.body).toMatchObject({
          status: 'success',
          data: { account_id: ids.reseller, account_name: 'Reseller One', reseller_id: rootId },
        });
        for (const k of ['auth_token', 'request_id', 'revision', 'timestamp', 'version', 'node'])
          expect(r.body, k).toHaveProperty(k);
        const parts = (r.body.auth_token as string).split('.');
        expect(parts).toHaveLength(3);
        expect(JSON.parse(Buffer.from(parts[0]!, 'base64url').toString())).toMatchObject({
          alg: 'EdDSA',
          typ: 'JWT',
        });
        const claims = claimsOf(r.body.auth_token as string);
        expect(claims).toMatchObject({
          account_id: ids.reseller,
          owner_id: r.body.data.owner_id,
          method: 'cb_user_auth',
        });
        expect(claims.exp as number).toBeGreaterThan(Math.floor(Date.now() / 1000));
      });

      it('sha1 credentials and account_realm log in too; wrong credentials are 401 invalid_credentials', async () => {
        const ok = await cb.call('PUT', '/v2/user_auth', {
          data: {
            credentials: sha1('resadmin:res-pass'),
            method: 'sha',
            account_realm: 'sip.reseller.test',
          },
        });
        expect(ok.status).toBe(201);
        const bad = await cb.call('PUT', '/v2/user_auth', {
          data: { credentials: md5('resadmin:wrong'), account_name: 'Reseller One' },
        });
        expect(bad.status).toBe(401);
        expect(bad.headers.get('content-type')).toBe('application/json');
        expect(bad.body).toMatchObject({ status: 'error', error: '401', message: 'invalid_credentials' });
      });

      it('tokeninfo answers the claims; a tampered token is 401; no token on an account route is 401', async () => {
        const info = await cb.call('POST', '/v2/auth/tokeninfo', { data: { token: tokens.reseller } });
        expect(info.status).toBe(200);
        expect(info.body.data).toMatchObject({ account_id: ids.reseller, method: 'cb_user_auth' });
        const t = tokens.reseller!;
        const tampered = `${t.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claimsOf(t), account_id: rootId })).toString('base64url')}.${t.split('.')[2]}`;
        expect((await cb.call('POST', '/v2/auth/tokeninfo', { data: { token: tampered } })).status).toBe(401);
        expect((await cb.call('GET', `/v2/accounts/${ids.reseller}`, { token: tampered })).status).toBe(401);
        const none = await cb.call('GET', `/v2/accounts/${ids.reseller}`);
        expect(none.status).toBe(401);
        expect(none.body.message).toBe('invalid_credentials');
      });

      it('a disabled account cannot log in: 423 locked', async () => {
        const id = await childAccount(cb, rootToken, rootId, 'Sleepy Co', 'sip.sleepy.test');
        await userIn(cb, rootToken, id, 'sleeper', 'zzz-pass');
        expect(await cb.login('Sleepy Co', 'sleeper', 'zzz-pass')).toContain('.');
        const off = await cb.call('PATCH', `/v2/accounts/${id}`, {
          token: rootToken,
          data: { enabled: false },
        });
        expect(off.status).toBe(200);
        const r = await cb.call('PUT', '/v2/user_auth', {
          data: { credentials: md5('sleeper:zzz-pass'), account_name: 'Sleepy Co' },
        });
        expect(r.status).toBe(423);
        expect(r.body).toMatchObject({ message: 'locked', data: { account: { disabled: {} } } });
      });

      it("api_auth with the account's api key answers a token for that account", async () => {
        const key = await cb.call('GET', `/v2/accounts/${ids.customer}/api_key`, { token: tokens.reseller });
        expect(key.body.data.api_key).toMatch(/^[0-9a-f]{64}$/);
        const r = await cb.call('PUT', '/v2/api_auth', { data: { api_key: key.body.data.api_key } });
        expect(r.status).toBe(201);
        expect(claimsOf(r.body.auth_token as string)).toMatchObject({
          account_id: ids.customer,
          method: 'cb_api_auth',
        });
        expect((await cb.call('PUT', '/v2/api_auth', { data: { api_key: 'f'.repeat(64) } })).status).toBe(
          401,
        );
      });
    });

    describe('accounts', () => {
      it('create a child, get, edit (POST replaces), patch (null deletes), children, descendants, parents, delete', async () => {
        const t = tokens.reseller;
        const id = await childAccount(cb, t!, ids.customer!, 'Sub Co', 'sip.sub.test');
        const got = await cb.call('GET', `/v2/accounts/${id}`, { token: t });
        expect(got.status).toBe(200);
        expect(got.body.data).toMatchObject({ id, name: 'Sub Co', realm: 'sip.sub.test' });
        expect(
          Object.keys(got.body.data as object).filter((k) => k.startsWith('pvt_') || k.startsWith('_')),
        ).toEqual([]);
        expect(got.body.revision).toMatch(/^\d+-/);

        const patched = await cb.call('PATCH', `/v2/accounts/${id}`, {
          token: t,
          data: { timezone: 'Europe/Paris', caller_id: { external: { number: '+15550001' } } },
        });
        expect(patched.body.data).toMatchObject({ name: 'Sub Co', timezone: 'Europe/Paris' });
        const unset = await cb.call('PATCH', `/v2/accounts/${id}`, { token: t, data: { timezone: null } });
        expect(unset.body.data).not.toHaveProperty('timezone');
        expect(unset.body.data.caller_id).toEqual({ external: { number: '+15550001' } });
        const replaced = await cb.call('POST', `/v2/accounts/${id}`, {
          token: t,
          data: { name: 'Sub Company' },
        });
        expect(replaced.status).toBe(200);
        expect(replaced.body.data).toMatchObject({ id, name: 'Sub Company', realm: 'sip.sub.test' });
        expect(replaced.body.data).not.toHaveProperty('caller_id');

        const children = await cb.call('GET', `/v2/accounts/${ids.customer}/children`, { token: t });
        expect(children.body.data).toEqual([
          { id, name: 'Sub Company', realm: 'sip.sub.test', descendants_count: 0, flags: [] },
        ]);
        const resChildren = await cb.call('GET', `/v2/accounts/${ids.reseller}/children`, { token: t });
        expect(resChildren.body.data).toEqual([
          expect.objectContaining({ id: ids.customer, descendants_count: 1 }),
        ]);
        const desc = await cb.call('GET', `/v2/accounts/${ids.reseller}/descendants`, { token: t });
        expect((desc.body.data as Array<{ id: string }>).map((a) => a.id).sort()).toEqual(
          [ids.customer, id].sort(),
        );
        const parents = await cb.call('GET', `/v2/accounts/${id}/parents`, { token: t });
        expect(parents.body.data).toEqual([
          { id: ids.reseller, name: 'Reseller One' },
          { id: ids.customer, name: 'Customer' },
        ]);
        const rootParents = await cb.call('GET', `/v2/accounts/${id}/parents`, { token: rootToken });
        expect((rootParents.body.data as unknown[]).length).toBe(3);

        const refused = await cb.call('DELETE', `/v2/accounts/${ids.customer}`, { token: t });
        expect(refused.status).toBe(500);
        expect(refused.body).toMatchObject({
          message: 'account_has_descendants',
          data: { message: 'account has descendants' },
        });
        const del = await cb.call('DELETE', `/v2/accounts/${id}`, { token: t });
        expect(del.status).toBe(200);
        const gone = await cb.call('GET', `/v2/accounts/${id}`, { token: rootToken });
        expect(gone.status).toBe(404);
        expect(gone.body).toMatchObject({ message: 'bad_identifier', error: '404', data: { cause: id } });
      });

      it('a realm already in use is a validation error on realm', async () => {
        const r = await cb.call('PUT', `/v2/accounts/${ids.customer}`, {
          token: tokens.reseller,
          data: { name: 'Dup', realm: 'SIP.reseller.test' },
        });
        expect(r.status).toBe(400);
        expect(r.body).toMatchObject({ message: 'validation error', data: { realm: { unique: {} } } });
      });
    });

    describe('users, devices, callflows', () => {
      it('a user saved with username and password loses the password, gets a lower-cased username and can log in', async () => {
        const t = tokens.reseller;
        const r = await cb.call('PUT', `/v2/accounts/${ids.customer}/users`, {
          token: t,
          data: {
            first_name: 'Bo',
            last_name: 'Peep',
            username: 'Bo.Peep',
            password: 'sheep-1',
            email: 'bo@example.com',
          },
        });
        expect(r.status).toBe(201);
        expect(r.body.data).toMatchObject({ username: 'bo.peep', first_name: 'Bo', priv_level: 'user' });
        expect(r.body.data).not.toHaveProperty('password');
        const stored = await cb.store.get(
          `account/${ids.customer!.slice(0, 2)}/${ids.customer!.slice(2, 4)}/${ids.customer!.slice(4)}`,
          r.body.data.id as string,
        );
        expect(stored.password).toBeUndefined();
        expect(stored.pvt_md5_auth).toBe(md5('bo.peep:sheep-1'));
        expect(stored.pvt_sha1_auth).toBe(sha1('bo.peep:sheep-1'));
        const token = await cb.login('Customer', 'bo.peep', 'sheep-1');
        expect(claimsOf(token)).toMatchObject({ account_id: ids.customer, owner_id: r.body.data.id });

        const list = await cb.call('GET', `/v2/accounts/${ids.customer}/users`, { token: t });
        expect(list.body.data).toContainEqual(
          expect.objectContaining({
            id: r.body.data.id,
            username: 'bo.peep',
            first_name: 'Bo',
            last_name: 'Peep',
            email: 'bo@example.com',
          }),
        );
        const patched = await cb.call('PATCH', `/v2/accounts/${ids.customer}/users/${r.body.data.id}`, {
          token: t,
          data: { email: null, last_name: 'Beep' },
        });
        expect(patched.body.data).toMatchObject({ last_name: 'Beep', username: 'bo.peep' });
        expect(patched.body.data).not.toHaveProperty('email');
        expect(await cb.login('Customer', 'bo.peep', 'sheep-1')).toContain('.');
        const dup = await cb.call('PUT', `/v2/accounts/${ids.customer}/users`, {
          token: t,
          data: { first_name: 'X', last_name: 'Y', username: 'BO.PEEP', password: 'another' },
        });
        expect(dup.status).toBe(400);
        expect(dup.body.data).toHaveProperty('username.unique');
        const del = await cb.call('DELETE', `/v2/accounts/${ids.customer}/users/${r.body.data.id}`, {
          token: t,
        });
        expect(del.status).toBe(200);
        expect(
          (await cb.call('GET', `/v2/accounts/${ids.customer}/users/${r.body.data.id}`, { token: t })).status,
        ).toBe(404);
      });

      it('a device created over HTTP is the one the registrar authenticates: authn_req answered with its password', async () => {
        const t = tokens.reseller;
        const r = await cb.call('PUT', `/v2/accounts/${ids.customer}/devices`, {
          token: t,
          data: { name: 'Desk phone', sip: { username: 'desk100', password: 'pa55word' } },
        });
        expect(r.status, r.text).toBe(201);
        expect(r.body.data).toMatchObject({
          name: 'Desk phone',
          device_type: 'sip_device',
          enabled: true,
          sip: { username: 'desk100', password: 'pa55word', method: 'password', invite_format: 'contact' },
        });
        const authn = await askAuthn(cb.h, 'desk100', 'sip.customer.test');
        expect(authn).toMatchObject({
          'Event-Name': 'authn_resp',
          'Auth-Password': 'pa55word',
          'Auth-Method': 'password',
        });

        const edited = await cb.call('PATCH', `/v2/accounts/${ids.customer}/devices/${r.body.data.id}`, {
          token: t,
          data: { sip: { password: 'n3wpass' } },
        });
        expect(edited.body.data.sip).toMatchObject({ username: 'desk100', password: 'n3wpass' });
        await expect
          .poll(async () => (await askAuthn(cb.h, 'desk100', 'sip.customer.test'))['Auth-Password'])
          .toBe('n3wpass');

        const list = await cb.call('GET', `/v2/accounts/${ids.customer}/devices`, { token: t });
        expect(list.body.data).toContainEqual({
          id: r.body.data.id,
          name: 'Desk phone',
          username: 'desk100',
          enabled: true,
          device_type: 'sip_device',
          mac_address: '',
          flags: [],
        });
        const dup = await cb.call('PUT', `/v2/accounts/${ids.customer}/devices`, {
          token: t,
          data: { name: 'Other', sip: { username: 'DESK100', password: 'abcdef' } },
        });
        expect(dup.status).toBe(400);
        expect(dup.body.data).toHaveProperty(['sip.username', 'unique']);
        const del = await cb.call('DELETE', `/v2/accounts/${ids.customer}/devices/${r.body.data.id}`, {
          token: t,
        });
        expect(del.status).toBe(200);
        await expect
          .poll(async () => (await askAuthn(cb.h, 'desk100', 'sip.customer.test'))['Event-Name'])
          .toBe('authn_err');
      });

      it('callflows: create, get, list, edit, patch, delete; a number in use is refused', async () => {
        const t = tokens.reseller;
        const base = `/v2/accounts/${ids.customer}/callflows`;
        const r = await cb.call('PUT', base, {
          token: t,
          data: {
            name: 'Main',
            numbers: ['1000'],
            flow: { module: 'device', data: { id: 'x' }, children: { _: { module: 'hangup', data: {} } } },
          },
        });
        expect(r.status, r.text).toBe(201);
        expect(r.body.data).toMatchObject({
          numbers: ['1000'],
          patterns: [],
          flow: { module: 'device', children: {} },
        });
        const id = r.body.data.id as string;
        const c = ids.customer!;
        const accountDb = `account%2F${c.slice(0, 2)}%2F${c.slice(2, 4)}%2F${c.slice(4)}`;
        const stored = await cb.store.get(accountDb, id);
        expect(stored).toMatchObject({ pvt_type: 'callflow', pvt_account_id: ids.customer });
        // The callflow app finds it by number, its flow passing the app's own check.
        await ensureDesignDocs(cb.store, accountDb, CALLFLOW_DESIGN);
        expect(await lookupCallflow(cb.store, accountDb, '1000')).toMatchObject({
          docId: id,
          matchedBy: 'number',
          flow: { module: 'device' },
        });
        expect((await cb.call('GET', `${base}/${id}`, { token: t })).body.data).toMatchObject({
          id,
          name: 'Main',
        });
        const list = await cb.call('GET', base, { token: t });
        expect(list.body.data).toContainEqual(
          expect.objectContaining({ id, name: 'Main', numbers: ['1000'], modules: ['device', 'hangup'] }),
        );
        const posted = await cb.call('POST', `${base}/${id}`, {
          token: t,
          data: { numbers: ['1000', '1001'], flow: { module: 'voicemail', data: {} } },
        });
        expect(posted.body.data).not.toHaveProperty('name');
        expect(await lookupCallflow(cb.store, accountDb, '1001')).toMatchObject({
          docId: id,
          matchedBy: 'number',
        });
        const patched = await cb.call('PATCH', `${base}/${id}`, { token: t, data: { name: 'Renamed' } });
        expect(patched.body.data).toMatchObject({ name: 'Renamed', numbers: ['1000', '1001'] });
        const dup = await cb.call('PUT', base, {
          token: t,
          data: { numbers: ['1001'], flow: { module: 'device' } },
        });
        expect(dup.status).toBe(400);
        expect(dup.body.data).toHaveProperty('numbers.unique');
        expect((await cb.call('DELETE', `${base}/${id}`, { token: t })).status).toBe(200);
        expect((await cb.call('GET', `${base}/${id}`, { token: t })).body.message).toBe('bad_identifier');
      });
      it('devices ?with_status=true and devices/status ask the registrar who is registered', async () => {
        const t = tokens.reseller;
        const acc = `/v2/accounts/${ids.customer}`;
        const device = async (name: string, username: string): Promise<string> => {
          const r = await cb.call('PUT', `${acc}/devices`, {
            token: t,
            data: { name, sip: { username, password: 'pa55word' } },
          });
          expect(r.status, r.text).toBe(201);
          return r.body.data.id as string;
        };
        const onDesk = await device('Status desk', 'status200');
        const offDesk = await device('Status spare', 'status201');
        const before = await cb.call('GET', `${acc}/devices?with_status=true&paginate=false`, { token: t });
        expect(before.status).toBe(200);
        expect(before.body.data).toContainEqual(expect.objectContaining({ id: onDesk, registered: false }));
        // The phone registers through the proxy: reg_success on the bus, as Kamailio sends it.
        await register(cb.h, 'Status200', 'sip.customer.test', 'sip:status200@127.0.0.1:5070');
        await expect
          .poll(async () => (await cb.call('GET', `${acc}/devices/status`, { token: t })).body.data)
          .toEqual([{ device_id: onDesk, registered: true }]);
        const listed = await cb.call('GET', `${acc}/devices?with_status=true&paginate=false`, { token: t });
        const rows = listed.body.data as Array<Record<string, unknown>>;
        expect(rows.find((r) => r.id === onDesk)).toMatchObject({ name: 'Status desk', registered: true });
        expect(rows.find((r) => r.id === offDesk)).toMatchObject({ registered: false });
        // Without with_status the listing is Kazoo's plain one.
        const plain = await cb.call('GET', `${acc}/devices?paginate=false`, { token: t });
        expect(plain.body.data.every((r: Record<string, unknown>) => !('registered' in r))).toBe(true);
        // Another account's token is refused.
        const other = await cb.call('GET', `${acc}/devices/status`, { token: tokens.unrelated });
        expect(other.status).toBe(403);
      });

      it('a callflow GET names the documents its flow points at in metadata (not stored)', async () => {
        const t = tokens.reseller;
        const acc = `/v2/accounts/${ids.customer}`;
        const made = async (path: string, data: object): Promise<string> => {
          const r = await cb.call('PUT', `${acc}/${path}`, { token: t, data });
          expect(r.status, r.text).toBe(201);
          return r.body.data.id as string;
        };
        const userId = await made('users', { first_name: 'Cy', last_name: 'Rus' });
        const deviceId = await made('devices', { name: 'Lobby phone' });
        const boxId = await made('vmboxes', { name: 'Cy box', mailbox: '4101' });
        const flow = {
          module: 'user',
          data: { id: userId },
          children: {
            _: {
              module: 'device',
              data: { id: deviceId },
              children: { _: { module: 'voicemail', data: { id: boxId } } },
            },
            nope: { module: 'device', data: { id: 'no-such-document' } },
          },
        };
        const id = await made('callflows', { name: 'Cy', numbers: ['4101'], flow });
        const got = await cb.call('GET', `${acc}/callflows/${id}`, { token: t });
        expect(got.status).toBe(200);
        expect(got.body.data.metadata).toEqual({
          [userId]: { name: 'Cy Rus', pvt_type: 'user' },
          [deviceId]: { name: 'Lobby phone', pvt_type: 'device' },
          [boxId]: { name: 'Cy box', pvt_type: 'vmbox' },
        });
        // Sent back as read, the metadata is not stored.
        const posted = await cb.call('POST', `${acc}/callflows/${id}`, { token: t, data: got.body.data });
        expect(posted.status, posted.text).toBe(200);
        expect(posted.body.data).not.toHaveProperty('metadata');
        const c = ids.customer!;
        const stored = await cb.store.get(
          `account%2F${c.slice(0, 2)}%2F${c.slice(2, 4)}%2F${c.slice(4)}`,
          id,
        );
        expect(stored).not.toHaveProperty('metadata');
      });
    });

    describe('authorization matrix', () => {
      const kinds = {
        users: { first_name: 'M', last_name: 'X' },
        devices: { name: 'matrix phone' },
        callflows: { flow: { module: 'device' } },
      };
      it('every route: a token of an unrelated account is 403 and writes nothing; a parent account token is allowed', async () => {
        const acct = `/v2/accounts/${ids.customer}`;
        const routes: Array<[string, string, unknown?]> = [
          ['GET', acct],
          ['PATCH', acct, { notes: 'x' }],
          ['POST', acct, { name: 'Customer', realm: 'sip.customer.test' }],
          ['GET', `${acct}/children`],
          ['GET', `${acct}/descendants`],
          ['GET', `${acct}/parents`],
          ['GET', `${acct}/api_key`],
          ['PUT', acct, { name: 'Matrix child' }],
        ];
        for (const [kind, data] of Object.entries(kinds)) {
          routes.push(['GET', `${acct}/${kind}`], ['PUT', `${acct}/${kind}`, data]);
        }
        // What an unrelated token sends is marked, so the store can show none of it landed.
        const intrude = (d: unknown): unknown =>
          d === undefined ? undefined : { ...(d as object), intruder: true };
        const check = async (method: string, path: string, data: unknown, token: string, want: number[]) => {
          const r = await cb.call(method, path, { token, data });
          expect(want, `${method} ${path}: ${r.text}`).toContain(r.status);
          return r;
        };
        for (const [m, p, d] of routes) {
          const refused = await check(m, p, intrude(d), tokens.unrelated!, [403]);
          expect(refused.body).toMatchObject({
            status: 'error',
            error: '403',
            message: 'forbidden',
            data: { message: 'forbidden', cause: ids.customer },
          });
          await check(m, p, d, tokens.reseller!, [200, 201]);
        }
        for (const [kind, data] of Object.entries(kinds)) {
          const made = await check('PUT', `${acct}/${kind}`, data, tokens.reseller!, [201]);
          const one = `${acct}/${kind}/${made.body.data.id}`;
          for (const [m, d] of [['GET'], ['PATCH', { x: 1 }], ['POST', data], ['DELETE']] as Array<
            [string, unknown?]
          >) {
            await check(m, one, intrude(d), tokens.unrelated!, [403]);
            await check(m, one, d, tokens.reseller!, [200]);
          }
        }
        const doomed = await childAccount(cb, tokens.reseller!, ids.customer!, 'Doomed', 'sip.doomed.test');
        await check('DELETE', `/v2/accounts/${doomed}`, undefined, tokens.unrelated!, [403]);
        await check('GET', `/v2/accounts/${doomed}`, undefined, tokens.reseller!, [200]);
        await check('DELETE', `/v2/accounts/${doomed}`, undefined, tokens.reseller!, [200]);
        // A child's token does not reach its parent; the superduper admin reaches every account.
        const custToken = (
          await cb.call('PUT', '/v2/api_auth', {
            data: {
              api_key: (await cb.call('GET', `${acct}/api_key`, { token: rootToken })).body.data.api_key,
            },
          })
        ).body.auth_token as string;
        await check('GET', `/v2/accounts/${ids.reseller}`, undefined, custToken, [403]);
        await check('GET', `/v2/accounts/${ids.unrelated}/users`, undefined, rootToken, [200]);
        const c = ids.customer!;
        const docs = await cb.store.allDocs(`account/${c.slice(0, 2)}/${c.slice(2, 4)}/${c.slice(4)}`, {
          includeDocs: true,
        });
        expect(docs.rows.length).toBeGreaterThan(0);
        expect(docs.rows.filter((r) => r.doc?.intruder !== undefined)).toEqual([]);
        const all = await cb.store.allDocs('accounts', { includeDocs: true });
        expect(all.rows.filter((r) => r.doc?.intruder !== undefined)).toEqual([]);
      });
    });

    describe('bad input', () => {
      it('schema violations answer 400 validation error naming every field', async () => {
        const r = await cb.call('PUT', `/v2/accounts/${ids.customer}/devices`, {
          token: tokens.reseller,
          data: { device_type: 'toaster', sip: { username: 'a', password: 7 } },
        });
        expect(r.status).toBe(400);
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(r.body).toMatchObject({
          status: 'error',
          error: '400',
          message: 'validation error',
          data: {
            name: { required: { message: expect.any(String) } },
            device_type: { enum: { message: expect.any(String) } },
            'sip.username': { minLength: { target: 2 } },
            'sip.password': { type: { target: 'string' } },
          },
        });
      });

      it('unknown ids 404 bad_identifier; a stale If-Match 409; an oversized body 413; bad JSON 400', async () => {
        const base = `/v2/accounts/${ids.customer}/devices`;
        const missing = await cb.call('GET', `${base}/0123456789abcdef0123456789abcdef`, {
          token: tokens.reseller,
        });
        expect(missing.status).toBe(404);
        expect(missing.body).toMatchObject({
          message: 'bad_identifier',
          data: { cause: '0123456789abcdef0123456789abcdef' },
        });
        const made = await cb.call('PUT', base, { token: tokens.reseller, data: { name: 'rev test' } });
        const rev = made.body.revision as string;
        await cb.call('PATCH', `${base}/${made.body.data.id}`, {
          token: tokens.reseller,
          data: { name: 'rev test 2' },
        });
        const stale = await cb.call('POST', `${base}/${made.body.data.id}`, {
          token: tokens.reseller,
          data: { name: 'lost update' },
          headers: { 'if-match': rev },
        });
        expect(stale.status).toBe(409);
        expect(stale.body).toMatchObject({
          message: 'datastore_conflict',
          data: { message: 'conflicting documents' },
        });
        expect(
          (await cb.call('GET', `${base}/${made.body.data.id}`, { token: tokens.reseller })).body.data.name,
        ).toBe('rev test 2');
        const big = await cb.call('PUT', base, {
          token: tokens.reseller,
          data: { name: 'big', notes: 'x'.repeat(70_000) },
        });
        expect(big.status).toBe(413);
        expect(big.body.data).toMatchObject({ file: { maxSize: { target: 64 * 1024 } } });
        expect(big.headers.get('content-type')).toBe('application/json');
        const junk = await cb.call('PUT', base, {
          token: tokens.reseller,
          raw: '{"data":',
          headers: { 'content-type': 'application/json' },
        });
        expect(junk.status).toBe(400);
        expect(junk.body.message).toBe('parse_error');
        expect(junk.body.status).toBe('error');
      });
    });

    describe('logs', () => {
      it('carry no password, token or signing key', () => {
        const text = JSON.stringify(cb.h.lines);
        expect(text).toContain('crossbar: user_auth');
        for (const secret of ['res-pass', 'sheep-1', 'root-pass', tokens.reseller!, 'PRIVATE KEY'])
          expect(text.includes(secret), secret).toBe(false);
      });
    });

    describe('pagination and CORS', () => {
      it('page_size pages with next_start_key until the last page; paginate=false answers all', async () => {
        const acct = await childAccount(cb, tokens.reseller!, ids.reseller!, 'Paging Co', 'sip.paging.test');
        const made: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await cb.call('PUT', `/v2/accounts/${acct}/devices`, {
            token: tokens.reseller,
            data: { name: `d${i}` },
          });
          made.push(r.body.data.id as string);
        }
        const seen: string[] = [];
        let start: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const q = `page_size=2${start ? `&start_key=${start}` : ''}`;
          const r = await cb.call('GET', `/v2/accounts/${acct}/devices?${q}`, { token: tokens.reseller });
          expect(r.body.page_size).toBe((r.body.data as unknown[]).length);
          seen.push(...(r.body.data as Array<{ id: string }>).map((d) => d.id));
          start = r.body.next_start_key as string | undefined;
          if (start === undefined) break;
        }
        expect(seen.sort()).toEqual([...made].sort());
        const all = await cb.call('GET', `/v2/accounts/${acct}/devices?paginate=false`, {
          token: tokens.reseller,
        });
        expect((all.body.data as unknown[]).length).toBe(5);
        expect(all.body).not.toHaveProperty('next_start_key');
      });

      it('a preflight on any route answers with the CORS headers allowing X-Auth-Token; answers carry them too', async () => {
        for (const path of [
          '/v2/user_auth',
          `/v2/accounts/${ids.customer}/devices/abc`,
          `/v2/accounts/${ids.customer}/callflows`,
        ]) {
          const r = await cb.call('OPTIONS', path, {
            headers: {
              origin: 'http://ui.example',
              'access-control-request-method': 'PUT',
              'access-control-request-headers': 'x-auth-token,content-type',
            },
          });
          expect(r.status).toBe(200);
          expect(r.headers.get('access-control-allow-origin')).toBe('*');
          expect(r.headers.get('access-control-allow-methods')).toContain('PATCH');
          expect(r.headers.get('access-control-allow-headers')!.toLowerCase()).toContain('x-auth-token');
        }
        const err = await cb.call('GET', `/v2/accounts/${ids.customer}`, {
          headers: { origin: 'http://ui.example' },
        });
        expect(err.headers.get('access-control-allow-origin')).toBe('*');
      });
    });
  });
}
