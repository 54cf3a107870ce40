/**
 * crossbar as an operator runs it: a node started with the registrar and crossbar apps,
 * its port from settings.crossbar.port; `fife account add` and `fife user add` through the
 * node's admin endpoint; the user logging in over HTTP; the server process killed and
 * the API back on the same port with the same signing key (old tokens still good); the
 * node's writes announced on the bus (another runtime's cache sees the user created).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { loadConfig } from '../../../src/node/config.ts';
import { CROSSBAR_HTTP, crossbarUrl } from '../../../apps/crossbar/http-server.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { Runtime } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport } from '../../../src/bus/index.ts';
import { GenListener } from '../../../src/bus/gen-listener.ts';
import { StoreCache, type DocChange } from '../../../src/store/index.ts';
import { CacheSync } from '../../../src/node/cache-sync.ts';
import { freePort, md5 } from './support.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIFE = join(ROOT, 'bin/fife.js');
const run = promisify(execFile);

/** One request on a connection of its own (no keep-alive pool that a killed server left behind). */
function call(
  method: string,
  url: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  return new Promise((ok, fail) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers['x-auth-token'] = token;
    const req = httpRequest(url, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body === undefined ? undefined : JSON.stringify({ data: body }));
  });
}

const nodes: FifeNode[] = [];
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.splice(0)) await c();
  for (const n of nodes.splice(0)) await n.stop();
});

describe('crossbar in a node', () => {
  it('fife user add makes a user who logs in; a killed server comes back on the same port and honours old tokens', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-crossbar-node-'),
      FIFE_NODE: 'cbnode@localhost',
      FIFE_APPS: 'registrar,crossbar',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const config = loadConfig({ env });
    config.settings.crossbar = { port };
    const node = await startNode({ config, logDestination: { write: () => undefined } });
    nodes.push(node);
    const base = `http://127.0.0.1:${port}`;
    expect(crossbarUrl(node.runtime)).toBe(base);

    // Another runtime on the same bus keeps a StoreCache in step with the notices.
    const { logger } = memoryLogger('watcher@localhost', 'warn');
    const watcherBus = createTransport({ url: 'embedded', logger, namePrefix: 'cb-node-watcher' });
    await watcherBus.start();
    const watcher = new Runtime({ node: 'watcher@localhost', logger });
    const cache = new StoreCache({ logger });
    const changes: DocChange[] = [];
    const apply = cache.onDocChange.bind(cache);
    cache.onDocChange = (change) => {
      changes.push(change);
      return apply(change);
    };
    await GenListener.start(watcher, CacheSync, { cache }, { transport: watcherBus });
    cleanup.push(async () => {
      await watcher.shutdown();
      cache.close();
      await watcherBus.close();
    });

    const fife = (...args: string[]) => run(process.execPath, [FIFE, ...args], { env });
    const accountId = (
      await fife('account', 'add', '--name', 'Acme Corp', '--realm', 'acme.example.com')
    ).stdout.trim();
    const userId = (
      await fife(
        'user',
        'add',
        '--account',
        'Acme Corp',
        '--username',
        'Boss',
        '--password',
        'pw-boss',
        '--admin',
      )
    ).stdout.trim();
    expect(userId).toMatch(/^[0-9a-f]{32}$/);
    // The node's store layer announced the user's creation on the bus.
    await expect
      .poll(() => changes.find((c) => c.id === userId))
      .toMatchObject({ action: 'created', type: 'user', database: expect.stringMatching(/^account%2F/) });
    const missing = await fife(
      'user',
      'add',
      '--account',
      'Nobody',
      '--username',
      'x',
      '--password',
      'y',
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toMatch(/no account is named "Nobody"/);

    const login = await call('PUT', `${base}/v2/user_auth`, {
      credentials: md5('boss:pw-boss'),
      account_name: 'Acme Corp',
    });
    expect(login.status).toBe(201);
    expect(login.body.data).toMatchObject({ account_id: accountId, owner_id: userId });
    const token = login.body.auth_token as string;
    const me = await call('GET', `${base}/v2/accounts/${accountId}/users/${userId}`, undefined, token);
    expect(me.body.data).toMatchObject({ username: 'boss', priv_level: 'admin' });

    const rt = node.runtime;
    const before = rt.whereis(CROSSBAR_HTTP)!;
    const exited = rt.awaitExit(before);
    rt.crash(before, 'killed');
    await exited;
    // The successor is registered before its server listens; its url shows once it does.
    await expect
      .poll(() => {
        const p = rt.whereis(CROSSBAR_HTTP);
        return p !== undefined && String(p) !== String(before) ? crossbarUrl(rt) : undefined;
      })
      .toBe(base);
    const again = await call('GET', `${base}/v2/accounts/${accountId}`, undefined, token);
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ id: accountId, name: 'Acme Corp' });
  });
});
