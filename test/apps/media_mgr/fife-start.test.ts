/**
 * media_mgr in `fife start` as a user runs it: port from FIFE_MEDIA_MGR_PORT, a recording
 * PUT into an account database made by the registrar's add_account, read back; the server
 * process killed through the admin endpoint (`fife kill`'s route) comes back on the same
 * port; a second node wanting the same port fails its start naming the port.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { accountDbName } from '../../../src/store/index.ts';
import { mediaStoreUrl } from '../../../apps/media_mgr/media-urls.ts';
import { spawnFife, startFife } from '../../support/fife-process.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { freePort, wavBody } from './media-mgr.suite.ts';

const started: ChildProcess[] = [];
afterAll(async () => {
  for (const c of started) {
    if (c.exitCode === null) {
      const done = new Promise((r) => c.once('close', r));
      c.kill('SIGTERM');
      await done;
    }
  }
});

/** One request on a connection of its own, as a switch's http_put makes. */
function request(method: string, url: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'audio/x-wav' };
    const req = httpRequest(url, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('media_mgr under fife start', () => {
  it('stores and serves a recording, survives a kill of its server, and refuses a taken port', async () => {
    const dataDir = tmpDir('fife-media-cli-');
    const port = await freePort();
    const env = {
      ...process.env,
      FIFE_DATA_DIR: dataDir,
      FIFE_NODE: 'media-cli@localhost',
      FIFE_APPS: 'registrar,media_mgr',
      FIFE_MEDIA_MGR_PORT: String(port),
      FIFE_LOG_LEVEL: 'info',
    };
    const node = await startFife(env);
    started.push(node.child);
    const base = `http://127.0.0.1:${port}`;
    expect(node.lines.find((l) => l.msg === 'media_mgr listening')).toMatchObject({ url: base });

    const admin = (
      JSON.parse(readFileSync(join(dataDir, 'media-cli@localhost', 'admin.json'), 'utf8')) as { url: string }
    ).url;
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${admin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const account = (await post('/apps/registrar/ops/add_account', {
      name: 'Media',
      realm: 'media.test',
    })) as {
      result: { id: string };
    };
    expect(await post('/apps/media_mgr/ops/base_url', {})).toMatchObject({
      type: 'ok',
      result: { url: base },
    });

    const db = accountDbName(account.result.id);
    const url = mediaStoreUrl(base, db, 'vm-msg-1', 'message.wav');
    const wav = wavBody(4000);
    expect((await request('PUT', url, wav)).status).toBe(201);
    const got = await request('GET', url);
    expect(got.status).toBe(200);
    expect(got.body.equals(wav)).toBe(true);

    expect(await post('/kill', { name: 'media_mgr_http' })).toMatchObject({ type: 'ok', reason: 'killed' });
    await node.waitFor(
      (l) => l.msg === 'media_mgr listening' && node.lines.filter((x) => x.msg === l.msg).length === 2,
    );
    const again = await request('GET', url);
    expect(again.status).toBe(200);
    expect(again.body.equals(wav)).toBe(true);

    const second = spawnFife({
      ...env,
      FIFE_DATA_DIR: tmpDir('fife-media-cli2-'),
      FIFE_NODE: 'media-cli2@localhost',
    });
    started.push(second.child);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`media_mgr cannot listen on 127.0.0.1:${port}: the address is in use`);
  });
});
