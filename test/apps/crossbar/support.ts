/**
 * crossbar as the tests drive it: the registrar harness (runtime, embedded bus, embedded
 * store, the registrar's tree) plus crossbar's tree in the same runtime, and a real HTTP
 * client (fetch) speaking Kazoo's envelope to it.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { addAccount } from '../../../apps/registrar/provisioning.ts';
import { addUser } from '../../../apps/crossbar/operators.ts';
import { createServer } from 'node:net';
import { Supervisor, type Pid } from '../../../src/kernel/index.ts';
import type { DocumentStore } from '../../../src/store/index.ts';
import { crossbarTree } from '../../../supervisors/crossbar.sup.ts';
import { crossbarUrl } from '../../../apps/crossbar/http-server.ts';
import { startHarness, type Harness } from '../registrar/support.ts';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, any>;
  text: string;
}

export interface CbHarness {
  h: Harness;
  store: DocumentStore;
  sup: Pid;
  base: string;
  port: number;
  call(
    method: string,
    path: string,
    opts?: { token?: string; data?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  login(account: string, username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
export const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

export async function startCrossbar(
  opts: { store?: DocumentStore; maxBodyBytes?: number } = {},
): Promise<CbHarness> {
  const h = await startHarness({ store: opts.store });
  await h.startRegistrar();
  const port = await freePort();
  const r = await Supervisor.start(
    h.rt,
    crossbarTree(
      {
        store: h.store,
        bus: h.bus,
        config: { settings: { crossbar: { port, max_body_bytes: opts.maxBodyBytes ?? 64 * 1024 } } },
      },
      {},
    ),
  );
  if (r.type !== 'ok') throw new Error(`crossbar failed to start: ${JSON.stringify(r)}`);
  const base = crossbarUrl(h.rt)!;
  const call: CbHarness['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers['x-auth-token'] = o.token;
    let body: string | undefined = o.raw;
    if (o.data !== undefined) {
      body = JSON.stringify({ data: o.data });
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: Record<string, any>;
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, any>);
    } catch {
      parsed = { unparsable: text };
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  const cb: CbHarness = {
    h,
    store: h.store,
    sup: r.pid,
    base,
    port,
    call,
    async login(account, username, password) {
      const res = await call('PUT', '/v2/user_auth', {
        data: { credentials: md5(`${username.toLowerCase()}:${password}`), account_name: account },
      });
      if (res.status !== 201) throw new Error(`login ${username}@${account} failed: ${res.text}`);
      return res.body.auth_token as string;
    },
    async close() {
      await h.close();
    },
  };
  return cb;
}

export async function childAccount(
  cb: CbHarness,
  parentToken: string,
  parentId: string,
  name: string,
  realm: string,
): Promise<string> {
  const r = await cb.call('PUT', `/v2/accounts/${parentId}`, { token: parentToken, data: { name, realm } });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as string;
}

export async function userIn(
  cb: CbHarness,
  token: string,
  accountId: string,
  username: string,
  password: string,
): Promise<string> {
  const r = await cb.call('PUT', `/v2/accounts/${accountId}/users`, {
    token,
    data: { first_name: 'Ann', last_name: 'Example', username, password, priv_level: 'admin' },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as string;
}

/**
 * The suites' accounts: Platform (the superduper admin's) > reseller > customer, and
 * unrelated (a child of Platform); fills `ids` and `tokens` (reseller, unrelated).
 */
export async function seedAccounts(
  cb: CbHarness,
  ids: Record<string, string>,
  tokens: Record<string, string>,
): Promise<{ rootId: string; rootToken: string }> {
  const rootId = await addAccount(cb.store, { name: 'Platform', realm: 'sip.platform.test' });
  await addUser(cb.store, { account: 'Platform', username: 'Admin', password: 'root-pass', admin: true });
  const rootToken = await cb.login('Platform', 'admin', 'root-pass');
  ids.reseller = await childAccount(cb, rootToken, rootId, 'Reseller One', 'sip.reseller.test');
  ids.unrelated = await childAccount(cb, rootToken, rootId, 'Unrelated Co', 'sip.unrelated.test');
  await userIn(cb, rootToken, ids.reseller, 'resadmin', 'res-pass');
  await userIn(cb, rootToken, ids.unrelated, 'other', 'other-pass');
  tokens.reseller = await cb.login('Reseller One', 'resadmin', 'res-pass');
  tokens.unrelated = await cb.login('Unrelated Co', 'other', 'other-pass');
  ids.customer = await childAccount(cb, tokens.reseller, ids.reseller, 'Customer', 'sip.customer.test');
  return { rootId, rootToken };
}
