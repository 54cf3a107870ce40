/**
 * The admin endpoint's answers to what a client can get wrong: a missing or wrong token
 * (401), a POST that is not JSON (415), an oversized body (413), an unknown route (404),
 * a wrong method (405 with Allow), a body that is not what the route takes (400 naming
 * it), an unexpected error (500, logged with the request id); a non-loopback bind
 * without a token does not start. Each refusal carries a request id found in a log line.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { request } from 'node:http';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { isLoopback } from '../../src/node/admin.ts';
import type { AppDefinition } from '../../src/kernel/index.ts';

const nodes: FifeNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

const TOKEN = 'tok-3f9a1c';
const opsApp: AppDefinition<NodeServices> = {
  name: 'opsapp',
  tree: () => ({ children: [] }),
  operations: {
    echo: async (input) => ({ echoed: input }),
    refuse: async () => Promise.reject(Object.assign(new Error('already there'), { code: 'conflict' })),
    explode: async () => {
      throw new TypeError('cannot read properties of undefined');
    },
  },
};

async function boot(env: Record<string, string> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const config = loadConfig({
    env: { FIFE_DATA_DIR: tmpDir('fife-admin-'), FIFE_NODE: 'adm@localhost', FIFE_APPS: 'opsapp', ...env },
  });
  const node = await startNode({
    config,
    extraApps: [opsApp],
    logDestination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  nodes.push(node);
  return { node, url: node.adminUrl!, lines };
}

const json = { 'content-type': 'application/json' };
const call = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, init);
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (res.headers.get('content-type') ?? '').includes('json')
      ? (JSON.parse(text) as Record<string, unknown>)
      : text,
  };
};

describe('admin endpoint', () => {
  it('with a token, every request but the probes needs Authorization: Bearer (401 otherwise); a non-loopback bind without one does not start', async () => {
    const { url, lines } = await boot({ FIFE_ADMIN_TOKEN: TOKEN });
    const none = await call(`${url}/tree`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.body).toMatchObject({ error: expect.stringContaining('Authorization: Bearer') });
    expect(
      lines.find(
        (l) =>
          l.msg === 'admin request refused' &&
          l.request_id === (none.body as { request_id: string }).request_id,
      ),
    ).toMatchObject({ status: 401, path: '/tree' });
    expect(
      (
        await call(`${url}/apps/opsapp/stop`, {
          method: 'POST',
          headers: { ...json, authorization: 'Bearer nope' },
          body: '{}',
        })
      ).status,
    ).toBe(401);
    expect(await call(`${url}/tree`, { headers: { authorization: `Bearer ${TOKEN}` } })).toMatchObject({
      status: 200,
      body: { node: 'adm@localhost' },
    });
    expect(JSON.stringify(lines)).not.toContain(TOKEN);

    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost')).toBe(true);
    expect(isLoopback('0.0.0.0') || isLoopback('192.168.1.10') || isLoopback('::')).toBe(false);
    await expect(
      startNode({
        config: loadConfig({
          env: {
            FIFE_DATA_DIR: tmpDir('fife-admin-'),
            FIFE_NODE: 'open@localhost',
            FIFE_ADMIN_HOST: '0.0.0.0',
            FIFE_APPS: '',
          },
        }),
        logDestination: { write: () => undefined },
      }),
    ).rejects.toThrow(
      /admin endpoint on non-loopback host 0\.0\.0\.0 needs a token: set admin\.token or FIFE_ADMIN_TOKEN/,
    );
  });

  it('answers 415 to a POST that is not JSON, 413 to an oversized body, 404 to an unknown route, 405 with Allow to a wrong method', async () => {
    const { url, node } = await boot();
    const { AppsController } = await import('../../src/kernel/index.ts');
    for (const headers of [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    ] as Array<Record<string, string>>) {
      const r = await call(`${url}/apps/opsapp/stop`, {
        method: 'POST',
        headers,
        body: headers['content-type'] ? 'x=1' : undefined,
      });
      expect(r.status).toBe(415);
      expect(r.body).toMatchObject({ error: expect.stringContaining('Content-Type: application/json') });
    }
    expect(await AppsController.runningApps(node.runtime)).toContain('opsapp');

    // Over 64 KiB: answered 413 (the connection is not reset under the client).
    const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/apps/opsapp/ops/echo`, { method: 'POST', headers: json }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ blob: 'x'.repeat(100 * 1024) }));
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toMatchObject({ error: expect.stringMatching(/too large/i) });

    expect(await call(`${url}/nope`)).toMatchObject({ status: 404, body: { error: 'no route GET /nope' } });
    expect(
      await call(`${url}/apps/opsapp/bogus`, { method: 'POST', headers: json, body: '{}' }),
    ).toMatchObject({ status: 404 });
    const wrong = await call(`${url}/kill`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await fetch(`${url}/kill`, { method: 'HEAD' })).status).toBe(405);
    const put = await call(`${url}/health`, { method: 'PUT', headers: json, body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 400 naming what is wrong with a body, 500 with a logged request id to an unexpected error; the routes the CLI uses answer as before', async () => {
    const { url, lines } = await boot();
    const post = (path: string, body: string) =>
      call(`${url}${path}`, { method: 'POST', headers: json, body });
    expect(await post('/apps/opsapp/ops/echo', 'null')).toMatchObject({
      status: 400,
      body: { error: 'body must be object' },
    });
    expect(await post('/kill', 'null')).toMatchObject({
      status: 400,
      body: { error: 'body must be object' },
    });
    expect(await post('/kill', '[1]')).toMatchObject({ status: 400, body: { error: 'body must be object' } });
    expect(await post('/kill', '{}')).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('body needs name') },
    });
    expect(await post('/kill', '{"name": 5}')).toMatchObject({
      status: 400,
      body: { error: 'body/name must be string' },
    });
    expect(await post('/kill', '{"name": "nobody"}')).toMatchObject({
      status: 404,
      body: { error: 'no such process: nobody' },
    });
    expect(await post('/kill', '{"name": ')).toMatchObject({
      status: 400,
      body: { error: 'body is not JSON' },
    });

    const boom = await post('/apps/opsapp/ops/explode', '{}');
    expect(boom.status).toBe(500);
    const id = (boom.body as { request_id: string }).request_id;
    expect(id).toMatch(/^adm-\d+$/);
    const logged = lines.find((l) => l.msg === 'admin request failed unexpectedly' && l.request_id === id);
    expect(logged).toMatchObject({
      level: 50,
      path: '/apps/opsapp/ops/explode',
      err: { message: 'cannot read properties of undefined' },
    });
    expect((logged!.err as { stack: string }).stack).toContain('TypeError');

    expect(await post('/apps/opsapp/ops/echo', '{"a":1}')).toMatchObject({
      status: 200,
      body: { type: 'ok', result: { echoed: { a: 1 } } },
    });
    expect(await post('/apps/opsapp/ops/refuse', '{}')).toMatchObject({
      status: 409,
      body: { type: 'error', code: 'conflict', error: 'already there' },
    });
    expect(await post('/apps/nosuch/ops/x', '{}')).toMatchObject({
      status: 404,
      body: { code: 'unknown_app' },
    });
    expect(await post('/apps/opsapp/stop', '')).toMatchObject({ status: 200, body: { type: 'ok' } });
    expect(await post('/apps/opsapp/stop', '{}')).toMatchObject({ status: 409, body: { type: 'error' } });
    expect(await post('/apps/opsapp/start', '{}')).toMatchObject({ status: 200, body: { type: 'ok' } });
    const text = await call(`${url}/tree?format=text`);
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text.body).toMatch(/kernel_sup .*supervisor\(one_for_one\)/);
    expect(await call(`${url}/tree`)).toMatchObject({
      status: 200,
      body: { node: 'adm@localhost', kernel: { name: 'kernel_sup' } },
    });
    expect(await call(`${url}/apps`)).toMatchObject({ status: 200 });
    expect(await call(`${url}/nodes`)).toMatchObject({ status: 200 });
  });

  it('POST /kill of admin itself answers, then the restarted admin serves on its new address and the old server is closed', async () => {
    const { node, url } = await boot();
    const restarted = new Promise<void>((resolve) =>
      node.runtime.events.on('supervisor', (e: { kind: string; childId?: string }) => {
        if (e.kind === 'child_restarted' && e.childId === 'admin') resolve();
      }),
    );
    expect(
      await call(`${url}/kill`, { method: 'POST', headers: json, body: '{"name": "admin"}' }),
    ).toMatchObject({ status: 200, body: { type: 'ok', reason: 'killed' } });
    await restarted;
    const { adminUrl } = await import('../../src/node/admin.ts');
    const next = adminUrl(node.runtime)!;
    expect(next).not.toBe(url);
    expect(await call(`${next}/health`)).toMatchObject({ status: 200 });
    // The old server no longer serves: refused, or 503 while fastify finishes closing it.
    expect(
      await fetch(`${url}/health`).then(
        (r) => r.status,
        () => 'refused',
      ),
    ).toSatisfy((r) => r === 'refused' || r === 503);
  });
});
