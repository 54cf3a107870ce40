/**
 * Output for people: `fife apps` shows an app's real last failure (the crash that made
 * its supervisor give up, not the supervisor's `shutdown`), `fife kill` prints text
 * (`--json` for JSON), and logs are one readable line each with `--pretty` (JSON
 * otherwise), crash reasons as text.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startFife, FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { newRuntime, workerSpec, crash } from '../kernel/helpers.ts';
import { AppsController } from '../../src/kernel/apps-controller.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import type { Pid } from '../../src/kernel/pid.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const CRASHY = join(import.meta.dirname, 'crashy-app');
const HELLO = join(ROOT, 'test/support/hello-plugin');

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function envFor(dataDir: string, apps: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FIFE_DATA_DIR: dataDir,
    FIFE_NODE: 'out@localhost',
    FIFE_PLUGINS: `${HELLO},${CRASHY}`,
    FIFE_APPS: apps,
    FIFE_LOG_LEVEL: 'info',
    FIFE_LOG_PRETTY: '0',
  };
}

describe('fife apps: the real last failure', () => {
  it('an app whose child keeps crashing shows the crash reason, not shutdown; fife kill prints text, or JSON with --json', async () => {
    const env = envFor(tmpDir('fife-out-'), 'hello,crashy');
    const node = await startFife(env);
    started.push(node.child);
    const fatal = await node.waitFor(
      (l) => String(l.msg).startsWith('app failed for good') && l.app === 'crashy',
    );
    expect(fatal.reason).toMatchObject({ type: 'Error', message: 'crashy says boom' });

    const apps = (await run(process.execPath, [FIFE_BIN, 'apps'], { env })).stdout;
    expect(apps).toMatch(
      /^crashy\tfailed\ttype=temporary\tversion=-\trestarts=1\tlast_failure=Error: crashy says boom$/m,
    );
    expect(apps).not.toContain('last_failure=shutdown');
    expect(apps).toMatch(/^hello\trunning\ttype=temporary\tversion=0.1.0\trestarts=0$/m);
    expect((await run(process.execPath, [FIFE_BIN, 'tree'], { env })).stdout).toMatch(
      /app crashy\s+failed\s+restarts=1\s+last_failure=Error: crashy says boom/,
    );
    const gaveUp = node.lines.find((l) => l.msg === 'app tree gave up' && l.app === 'crashy');
    expect(gaveUp).toMatchObject({
      reason: 'shutdown',
      cause: { type: 'Error', message: 'crashy says boom' },
    });

    const text = (await run(process.execPath, [FIFE_BIN, 'kill', 'greeter', '--reason', 'injected'], { env }))
      .stdout;
    expect(text).toMatch(/^greeter \(<out@localhost\.\d+>\) crashed with reason injected\n$/);
    await node.waitFor((l) => l.msg === 'process crashed' && l.reason === 'injected');
    const json = JSON.parse(
      (await run(process.execPath, [FIFE_BIN, 'kill', 'greeter', '--json'], { env })).stdout,
    ) as unknown;
    expect(json).toMatchObject({
      type: 'ok',
      pid: expect.stringMatching(/^<out@localhost\.\d+>$/),
      reason: 'killed',
    });
  }, 90_000);

  it('a crash deep in an app (a nested supervisor gives up first) is still the last failure', async () => {
    const { rt } = newRuntime();
    await AppsController.start(rt, {
      env: undefined,
      apps: [
        {
          name: 'deep',
          restart: 'temporary',
          tree: () => ({
            flags: { intensity: 0 },
            children: [
              Supervisor.childSpec(
                'inner',
                { flags: { intensity: 0 }, children: [workerSpec({ id: 'w' })] },
                { name: 'inner' },
              ),
            ],
          }),
        },
      ],
    });
    expect(await AppsController.startApp(rt, 'deep')).toEqual({ type: 'ok' });
    const inner = rt.whereis('inner') as Pid;
    const worker = (await Supervisor.whichChildren(rt, inner))[0]!.pid!;
    const crashed = rt.events.waitFor('app', (e) => e.kind === 'crashed' && e.app === 'deep');
    crash(rt, worker, { db_timeout: 'accounts' });
    expect(await crashed).toMatchObject({ reason: 'shutdown', cause: { db_timeout: 'accounts' } });
    expect((await AppsController.appsStatus(rt))[0]).toMatchObject({
      state: 'stopped',
      lastFailure: '{"db_timeout":"accounts"}',
    });
    await rt.shutdown();
  });

  it('an app stopped by the operator and started again forgets the old cause', async () => {
    const { rt } = newRuntime();
    await AppsController.start(rt, {
      env: undefined,
      apps: [
        {
          name: 'a',
          restart: 'temporary',
          tree: () => ({ flags: { intensity: 0 }, children: [workerSpec({ id: 'w' })] }),
        },
      ],
    });
    await AppsController.startApp(rt, 'a');
    const root = (await AppsController.appsStatus(rt))[0]!.pid!;
    const crashed = rt.events.waitFor('app', (e) => e.kind === 'crashed' && e.app === 'a');
    crash(rt, (await Supervisor.whichChildren(rt, root))[0]!.pid!, 'first');
    await crashed;
    await AppsController.startApp(rt, 'a');
    const root2 = (await AppsController.appsStatus(rt))[0]!.pid!;
    const again = rt.events.waitFor('app', (e) => e.kind === 'crashed' && e.app === 'a');
    rt.crash(root2, 'shutdown');
    expect(await again).not.toHaveProperty('cause');
    expect((await AppsController.appsStatus(rt))[0]).toMatchObject({ lastFailure: 'shutdown' });
    await rt.shutdown();
  });
});

describe('logs for people', () => {
  it('pretty lines: one readable line each, reasons as text, secrets redacted', () => {
    const out: string[] = [];
    const log = createRootLogger({
      node: 'p@localhost',
      level: 'info',
      pretty: true,
      destination: { write: (s: string) => void out.push(s) },
    });
    const err = new Error('crashy says boom');
    log
      .child({ app: 'crashy', proc: 'crashy' })
      .error({ reason: { type: 'Error', message: err.message, stack: err.stack } }, 'process crashed');
    log.info({ password: 's3cret', apps: ['hello'] }, 'node started');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: process crashed app=crashy proc=crashy reason="Error: crashy says boom"\n$/,
    );
    expect(out[1]).toMatch(/INFO: node started password=\[redacted\] apps=\["hello"\]\n$/);
    expect(out.join('')).not.toContain('s3cret');
    expect(out.join('')).not.toContain('at ');
  });

  it('JSON lines when not asked for pretty and not on a terminal', () => {
    const out: string[] = [];
    createRootLogger({ node: 'p@localhost', destination: { write: (s: string) => void out.push(s) } }).info(
      'hello',
    );
    expect(JSON.parse(out[0]!)).toMatchObject({ msg: 'hello', node: 'p@localhost' });
  });

  it('fife start --pretty logs readable lines, the crash reason as text', async () => {
    const child = spawn(process.execPath, [FIFE_BIN, 'start', '--pretty'], {
      env: envFor(tmpDir('fife-pretty-'), 'crashy'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let text = '';
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (/FATAL: app failed for good.* app=crashy .*reason="Error: crashy says boom"/.test(text)) res();
      });
      child.on('exit', (code) => rej(new Error(`fife start exited ${code}: ${text}`)));
    });
    const lines = text.trimEnd().split('\n');
    expect(lines.some((l) => /INFO: node started apps=\["crashy"\]/.test(l))).toBe(true);
    expect(lines.some((l) => /ERROR: process crashed .*reason="Error: crashy says boom"/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    child.kill('SIGTERM');
  }, 60_000);
});
