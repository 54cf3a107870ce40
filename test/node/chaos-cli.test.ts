/**
 * `fife chaos` against a running node: one fault prints what it hit, a schedule prints
 * its seed and returns while the node runs it (stop ends it), and bad flags are usage
 * errors (exit 2, one line naming the flag).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { GenServer, ok, noreply, type AppDefinition } from '../../src/kernel/index.ts';

const exec = promisify(execFile);

describe('fife chaos', () => {
  let node: FifeNode;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const app: AppDefinition<NodeServices> = {
      name: 'victims',
      tree: () => ({
        flags: { strategy: 'one_for_one', intensity: 100, period: 10 },
        children: [
          GenServer.childSpec(
            'v',
            { name: 'victim', init: () => ok(null), handleInfo: (_m: unknown, s: null) => noreply(s) },
            undefined,
            { name: 'victim' },
          ),
        ],
      }),
    };
    const config = loadConfig({
      env: {
        FIFE_DATA_DIR: tmpDir('fife-chaos-cli-'),
        FIFE_NODE: 'chaoscli@localhost',
        FIFE_APPS: 'victims',
      },
    });
    node = await startNode({ config, extraApps: [app], logDestination: { write: () => true } });
    env = { ...process.env, FIFE_ADMIN_URL: node.adminUrl, FIFE_DATA_DIR: tmpDir('fife-chaos-cli-none-') };
  });
  afterAll(() => node?.stop());

  const fife = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [FIFE_BIN, ...args], { env, timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  it('kill prints what it hit; the node restarts it', async () => {
    const before = String(node.runtime.whereis('victim'));
    const restarted = node.runtime.events.waitFor('supervisor', (e) => e.kind === 'child_restarted');
    const r = await fife('chaos', 'kill', 'victim');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^kill victim .*"pid":"${before.replace(/[<>.]/g, '\\$&')}"`));
    await restarted;
  });

  it('a schedule returns at once with its seed while the node runs it; stop ends it', async () => {
    const first = node.runtime.events.waitFor('fault', (e) => e.seed === 7 && e.step === 0);
    const r = await fife(
      'chaos',
      '--every',
      '200ms',
      '--for',
      '1h',
      '--seed',
      '7',
      '--kinds',
      'store-down',
      '--ms',
      '50ms',
    );
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^chaos schedule started: seed 7, 18000 steps every 200 ms, kinds store-down/);
    expect(await first).toMatchObject({ kind: 'store-down', phase: 'injected', target: 'store' });
    expect((await fife('chaos', 'stop')).stdout).toBe('chaos schedule stopped\n');
  });

  it.each([
    [
      ['chaos', '--every', '2x', '--for', '1s'],
      "--every must be a duration such as 500ms, 2s or 1m, got '2x'",
    ],
    [['chaos', 'kill'], 'give a target (name or <pid>) or --random-in SUPERVISOR'],
    [['chaos', 'drop-bus', '--drop', '3'], "--drop must be a share within (0, 1], got '3'"],
    [['chaos', 'sever-bus', '--msec', '3'], "unknown option '--msec'"],
  ])('fife %j is a usage error naming the flag', async (args, message) => {
    const r = await fife(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a refusal of the node is one line, exit 1', async () => {
    const r = await fife('chaos', 'kill', 'no_such_process');
    expect(r).toMatchObject({ code: 1, stderr: 'fife: no such process: no_such_process\n' });
  });
});
