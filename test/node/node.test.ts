/**
 * A node as a user runs it: `fife start` in its own process on embedded defaults with a
 * plugin app, then `fife tree`, `fife apps`, `fife kill` against it, then SIGTERM.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { startFife } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { execFile, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { memoryLogger } from '../../src/kernel/log.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FIFE = join(ROOT, 'bin/fife.js');
const run = promisify(execFile);

const started: ChildProcess[] = [];
const nodes: FifeNode[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const n of nodes.splice(0)) await n.stop();
});

function envFor(dataDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FIFE_DATA_DIR: dataDir,
    FIFE_NODE: 'cli@localhost',
    FIFE_PLUGINS: join(ROOT, 'test/support/hello-plugin'),
    FIFE_APPS: 'hello',
    FIFE_LOG_LEVEL: 'info',
  };
}

async function startCli(env: NodeJS.ProcessEnv) {
  const p = await startFife(env);
  started.push(p.child);
  return p;
}

describe('fife node', () => {
  it('fife start runs the configured apps; fife tree / apps / kill work against it; SIGTERM stops apps and exits 0', async () => {
    const dataDir = tmpDir('fife-node-');
    const env = envFor(dataDir);
    const { child, lines, exited } = await startCli(env);
    expect(lines.find((l) => l.msg === 'node started')).toMatchObject({
      node: 'cli@localhost',
      apps: ['hello'],
      bus: 'embedded',
      store: 'embedded',
    });

    const tree = await run(process.execPath, [FIFE, 'tree'], { env });
    expect(tree.stdout).toContain('node cli@localhost');
    expect(tree.stdout).toMatch(/kernel_sup .*supervisor\(one_for_one\)/);
    expect(tree.stdout).toMatch(/greeter\s+<cli@localhost\.\d+>\s+greeter\s+running\s+restarts=0/);

    const json = JSON.parse((await run(process.execPath, [FIFE, 'tree', '--json'], { env })).stdout) as {
      apps: Array<{ name: string; state: string }>;
    };
    expect(json.apps).toContainEqual(expect.objectContaining({ name: 'hello', state: 'running' }));

    await run(process.execPath, [FIFE, 'kill', 'greeter', '--reason', 'injected'], { env });
    let after = '';
    for (let i = 0; i < 50 && !/restarts=1/.test(after); i++)
      after = (await run(process.execPath, [FIFE, 'tree'], { env })).stdout;
    expect(after).toMatch(/greeter\s+<cli@localhost\.\d+>\s+greeter\s+running\s+restarts=1/);

    expect((await run(process.execPath, [FIFE, 'apps', 'stop', 'hello'], { env })).stdout).toContain(
      'hello: stop ok',
    );
    expect((await run(process.execPath, [FIFE, 'apps'], { env })).stdout).toMatch(/hello\tstopped/);
    await run(process.execPath, [FIFE, 'apps', 'start', 'hello'], { env });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const tail = lines.map((l) => l.msg);
    expect(tail).toContain('greeter stopping');
    expect(tail.indexOf('greeter stopping')).toBeLessThan(tail.indexOf('node stopped'));
    expect(lines.some((l) => l.msg === 'process crashed' && JSON.stringify(l.reason) === '"injected"')).toBe(
      true,
    );
  });

  it('operator commands without a running node fail with one clear line and exit 1; bad usage exits 2', async () => {
    const env = envFor(tmpDir('fife-none-'));
    const e1 = await run(process.execPath, [FIFE, 'tree'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(e1).toMatchObject({ code: 1 });
    expect((e1 as { stderr: string }).stderr).toMatch(/no running node 'cli@localhost' found/);
    const e2 = await run(process.execPath, [FIFE, 'frobnicate'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(e2).toMatchObject({ code: 2 });
    expect((e2 as { stderr: string }).stderr).toContain("unknown command 'frobnicate'");
  });

  it('a configured app that cannot be found fails the start with the reason, and nothing is left running', async () => {
    const { logger } = memoryLogger();
    void logger;
    const config = loadConfig({ env: { FIFE_APPS: 'nosuchapp', FIFE_DATA_DIR: tmpDir('fife-bad-') } });
    await expect(startNode({ config, logDestination: { write: () => undefined } })).rejects.toThrow(
      /app 'nosuchapp' failed to start: .*unknown_app/,
    );
  });

  it('a node stops its apps in reverse start order', async () => {
    const config = loadConfig({
      env: { FIFE_DATA_DIR: tmpDir('fife-rev-'), FIFE_NODE: 'rev@localhost', FIFE_APPS: '' },
    });
    const msgs: string[] = [];
    const mk = (name: string, deps: string[] = []) => ({
      name,
      deps,
      tree: () => ({ children: [] }),
    });
    const node = await startNode({
      config,
      extraApps: [mk('first'), mk('second', ['first'])],
      logDestination: { write: (s: string) => void msgs.push(s) },
    });
    nodes.push(node);
    const { AppsController } = await import('../../src/kernel/index.ts');
    await AppsController.startApp(node.runtime, 'second');
    expect(await AppsController.runningApps(node.runtime)).toEqual(['first', 'second']);
    await node.stop();
    const stoppedOrder = msgs
      .map((s) => JSON.parse(s) as { msg: string; app?: string })
      .filter((l) => l.msg === 'app stopped')
      .map((l) => l.app);
    expect(stoppedOrder).toEqual(['second', 'first']);
  });
});
