/**
 * `fife apps upgrade NAME --from PATH` end to end: a node started with `fife start` runs
 * the upgrade_counter plugin (test/node/fixtures); the command, run from another folder
 * with a relative path, moves it to version 2 (`fife apps` shows the versions), and a
 * version that cannot be imported fails with exit 1 and the reason, the old one running.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startFife, FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const HERE = import.meta.dirname;
const run = promisify(execFile);
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

const fife = (args: string[], env: NodeJS.ProcessEnv) =>
  run(process.execPath, [FIFE_BIN, ...args], { env, cwd: HERE });

async function fails(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  try {
    await fife(args, env);
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  throw new Error(`fife ${args.join(' ')} succeeded`);
}

describe('fife apps upgrade', () => {
  it('moves a running plugin to its new version; a version that cannot load exits 1 with the reason and the old one runs on', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-upgrade-cli-'),
      FIFE_NODE: 'upgrade-cli@localhost',
      FIFE_PLUGINS: resolve(HERE, 'fixtures/upgrade-counter-v1'),
      FIFE_APPS: 'upgrade_counter',
      FIFE_LOG_LEVEL: 'info',
    };
    const node = await startFife(env);
    started.push(node.child);
    expect((await fife(['apps'], env)).stdout).toMatch(
      /^upgrade_counter\trunning\ttype=temporary\tversion=1\.0\.0\trestarts=0$/m,
    );

    const up = await fife(
      ['apps', 'upgrade', 'upgrade_counter', '--from', 'fixtures/upgrade-counter-v2'],
      env,
    );
    expect(up.stdout).toMatch(
      /^upgrade_counter: upgraded 1\.0\.0 -> 2\.0\.0\tchanged=counter\trestarted=-\tadded=-\tremoved=-$/m,
    );
    expect((await fife(['apps'], env)).stdout).toMatch(
      /^upgrade_counter\trunning\ttype=temporary\tversion=2\.0\.0\trestarts=0$/m,
    );
    expect(await node.waitFor((l) => l.msg === 'app upgraded')).toMatchObject({
      app: 'upgrade_counter',
      from: '1.0.0',
      to: '2.0.0',
      changed: ['counter'],
    });

    const broken = await fails(
      ['apps', 'upgrade', 'upgrade_counter', '--from', 'fixtures/upgrade-counter-broken'],
      env,
    );
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toMatch(
      /^fife: upgrade upgrade_counter from .*upgrade-counter-broken: cannot load plugin .*not-there.*; the old version runs on$/m,
    );
    expect(await node.waitFor((l) => l.msg === 'app upgrade failed: the old version runs on')).toMatchObject({
      app: 'upgrade_counter',
      from: join(HERE, 'fixtures/upgrade-counter-broken'),
    });
    expect((await fife(['apps'], env)).stdout).toMatch(
      /^upgrade_counter\trunning\ttype=temporary\tversion=2\.0\.0/m,
    );

    const usage = await fails(['apps', 'upgrade', 'upgrade_counter'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--from');

    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 120_000);
});
