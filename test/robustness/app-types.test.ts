/**
 * Application types as an operator sees them, on `fife start` processes: a permanent app
 * that fails for good takes its node down (fatal line naming the app and reason, clean
 * stop, exit 5); a temporary one (the default) is left failed and shown by `fife apps`
 * and, across the cluster, by `fife nodes` (with every node's zone, version, uptime,
 * memory and process count).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { spawnFife, startFife, FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const CRASHY = join(import.meta.dirname, 'crashy-app');
const HELLO = join(ROOT, 'test/support/hello-plugin');
const NODE = 'types@localhost';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const envFor = (dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  FIFE_DATA_DIR: dataDir,
  FIFE_NODE: NODE,
  FIFE_PLUGINS: `${HELLO},${CRASHY}`,
  FIFE_APPS: 'hello,crashy',
  FIFE_BUS_URL: '',
  FIFE_STORE_URL: '',
  FIFE_LOG_LEVEL: 'info',
  FIFE_LOG_PRETTY: '0',
  FIFE_HEARTBEAT_MS: '200',
  ...extra,
});

describe('application types', { timeout: 60_000 }, () => {
  it('a permanent app that fails for good stops its node cleanly: fatal line with app and reason, exit 5', async () => {
    const dataDir = tmpDir('fife-types-');
    const p = spawnFife(envFor(dataDir, { FIFE_APP_TYPES: 'crashy:permanent' }));
    started.push(p.child);
    expect(await p.exited).toBe(5);
    const fatal = p.lines.find((l) => l.msg === 'app failed for good: the node stops');
    expect(fatal).toMatchObject({
      level: 60,
      app: 'crashy',
      type: 'permanent',
      reason: 'Error: crashy says boom',
      exit_code: 5,
    });
    const msgs = p.lines.map((l) => l.msg);
    expect(msgs.indexOf('node stopped')).toBeGreaterThan(msgs.indexOf('app failed for good: the node stops'));
    expect(p.lines).toContainEqual(expect.objectContaining({ msg: 'app stopped', app: 'hello' }));
    expect(existsSync(join(dataDir, NODE, 'admin.json'))).toBe(false);
    expect(existsSync(join(dataDir, NODE, 'node.lock'))).toBe(false);
  });

  it('a temporary app (the default) is left failed: fife apps shows its type, fife nodes the node with its app down', async () => {
    const env = envFor(tmpDir('fife-types-'), { FIFE_ZONE: 'east' });
    const node = await startFife(env);
    started.push(node.child);
    await node.waitFor((l) => String(l.msg).startsWith('app failed for good') && l.app === 'crashy');
    const apps = (await run(process.execPath, [FIFE_BIN, 'apps'], { env })).stdout;
    expect(apps).toMatch(
      /^crashy\tfailed\ttype=temporary\tversion=-\trestarts=1\tlast_failure=Error: crashy says boom$/m,
    );
    expect(apps).toMatch(/^hello\trunning\ttype=temporary\tversion=0.1.0\trestarts=0$/m);

    // A heartbeat after the give-up carries it.
    const line = async (): Promise<string> =>
      (await run(process.execPath, [FIFE_BIN, 'nodes'], { env })).stdout.trim().split('\n')[0]!;
    let nodes = await line();
    for (const end = Date.now() + 10_000; !nodes.includes('down=crashy') && Date.now() < end;)
      nodes = await line();
    expect(nodes).toMatch(
      new RegExp(
        `^${NODE}\\tzone=east\\tapps=hello\\tdown=crashy:failed\\tversion=\\S+\\tuptime=\\d+s\\tmemory=\\d+(\\.\\d)?MB\\tprocesses=\\d+\\tlast_seen=\\d+ms$`,
      ),
    );
    const json = JSON.parse((await run(process.execPath, [FIFE_BIN, 'nodes', '--json'], { env })).stdout) as {
      nodes: Array<Record<string, unknown>>;
    };
    expect(json.nodes[0]).toMatchObject({
      node: NODE,
      zone: 'east',
      apps: ['hello'],
      appsDown: { crashy: 'failed' },
      version: expect.any(String),
      uptimeS: expect.any(Number),
      usedMemory: expect.any(Number),
      processes: expect.any(Number),
    });
  });
});
