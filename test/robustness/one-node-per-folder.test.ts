/**
 * Two `fife start` on one data folder: the second is refused at once with one line and
 * exit 3, and the first keeps running with its admin.json; a lock left by a node killed
 * with SIGKILL does not block the next start, which takes it over and says so.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawnFife, startFife, FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const NODE = 'lock@localhost';
const envFor = (dataDir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  FIFE_DATA_DIR: dataDir,
  FIFE_NODE: NODE,
  FIFE_APPS: 'registrar',
  FIFE_BUS_URL: '',
  FIFE_STORE_URL: '',
  FIFE_LOG_LEVEL: 'info',
  FIFE_ADMIN_TOKEN: 'lock-test-token',
});
// With a token set, `fife apps` below passes only if the CLI sends it.

describe('one node per data folder', { timeout: 120_000 }, () => {
  it('a second fife start on the same folder is refused with one line and exit 3; the first runs on, its admin.json intact', async () => {
    const dataDir = tmpDir('fife-lock-');
    const env = envFor(dataDir);
    const nodeDir = join(dataDir, NODE);
    const first = await startFife(env);
    started.push(first.child);
    const adminBefore = readFileSync(join(nodeDir, 'admin.json'), 'utf8');

    const second = spawnFife(env);
    started.push(second.child);
    expect(await second.exited).toBe(3);
    expect(second.stderr()).toBe(`fife: node ${NODE} already runs in ${nodeDir} as pid ${first.child.pid}\n`);
    expect(second.lines.some((l) => l.msg === 'document store opened')).toBe(false);

    expect(readFileSync(join(nodeDir, 'admin.json'), 'utf8')).toBe(adminBefore);
    expect((await run(process.execPath, [FIFE_BIN, 'apps'], { env })).stdout).toMatch(/registrar\trunning/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(nodeDir, 'admin.json'))).toBe(false);
    expect(existsSync(join(nodeDir, 'node.lock'))).toBe(false);
  });

  it("a dead node's lock (SIGKILL) does not block the next start, which takes it over with a warning", async () => {
    const dataDir = tmpDir('fife-stale-');
    const env = envFor(dataDir);
    const nodeDir = join(dataDir, NODE);
    const killed = await startFife(env);
    started.push(killed.child);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(JSON.parse(readFileSync(join(nodeDir, 'node.lock'), 'utf8'))).toMatchObject({
      pid: killed.child.pid,
      node: NODE,
    });

    const next = await startFife(env);
    started.push(next.child);
    expect(
      next.lines.find((l) => l.msg === 'node lock left by a process that is gone: taken over'),
    ).toMatchObject({ level: 40, stale_pid: killed.child.pid });
    expect(JSON.parse(readFileSync(join(nodeDir, 'admin.json'), 'utf8'))).toMatchObject({
      pid: next.child.pid,
    });
    expect((await run(process.execPath, [FIFE_BIN, 'apps'], { env })).stdout).toMatch(/registrar\trunning/);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(existsSync(join(nodeDir, 'node.lock'))).toBe(false);
  });
});
