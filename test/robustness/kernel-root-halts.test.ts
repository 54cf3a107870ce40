/**
 * The root of a node's tree dies (`fife kill kernel_sup`, or POST /kill of its pid): the
 * OS process logs why and exits 4 (for systemd or a container runtime to restart it),
 * having stopped what was left and removed its admin.json and lock.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { startFife, FIFE_BIN, type FifeProcess } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const NODE = 'halt@localhost';
const envFor = (dataDir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  FIFE_DATA_DIR: dataDir,
  FIFE_NODE: NODE,
  FIFE_PLUGINS: join(ROOT, 'test/support/hello-plugin'),
  FIFE_APPS: 'hello',
  FIFE_BUS_URL: '',
  FIFE_STORE_URL: '',
  FIFE_LOG_LEVEL: 'info',
});

async function expectHalted(p: FifeProcess, nodeDir: string, reason: string): Promise<void> {
  expect(await p.exited).toBe(4);
  const fatal = p.lines.find((l) => l.msg === 'kernel root ended: the node halts');
  expect(fatal).toMatchObject({ level: 60, reason, exit_code: 4 });
  const msgs = p.lines.map((l) => l.msg);
  expect(msgs.indexOf('node stopped')).toBeGreaterThan(msgs.indexOf('kernel root ended: the node halts'));
  expect(msgs).toContain('embedded store closed');
  expect(existsSync(join(nodeDir, 'admin.json'))).toBe(false);
  expect(existsSync(join(nodeDir, 'node.lock'))).toBe(false);
}

describe('a dead kernel root halts the node', { timeout: 120_000 }, () => {
  it('fife kill kernel_sup: the process logs the reason and exits 4, leaving no admin.json or lock', async () => {
    const dataDir = tmpDir('fife-halt-');
    const env = envFor(dataDir);
    const p = await startFife(env);
    started.push(p.child);
    const out = await run(
      process.execPath,
      [FIFE_BIN, 'kill', '--json', 'kernel_sup', '--reason', 'operator_test'],
      { env },
    );
    expect(JSON.parse(out.stdout)).toMatchObject({ type: 'ok', reason: 'operator_test' });
    await expectHalted(p, join(dataDir, NODE), 'operator_test');
  });

  it("POST /kill with the root's pid does the same", async () => {
    const dataDir = tmpDir('fife-halt-');
    const env = envFor(dataDir);
    const p = await startFife(env);
    started.push(p.child);
    const { url } = JSON.parse(readFileSync(join(dataDir, NODE, 'admin.json'), 'utf8')) as { url: string };
    const tree = (await (await fetch(`${url}/tree`)).json()) as { kernel: { pid: string; name: string } };
    expect(tree.kernel.name).toBe('kernel_sup');
    const res = await fetch(`${url}/kill`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pid: tree.kernel.pid }),
    });
    expect(res.status).toBe(200);
    await expectHalted(p, join(dataDir, NODE), 'killed');
  });
});
