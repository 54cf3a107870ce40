/**
 * Third-party code never takes a node down: a plugin that throws while it loads, or whose
 * tree throws while it starts, is logged with its name and reason and listed as failed;
 * the node starts, runs its other apps and says it is not ready.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { join, resolve } from 'node:path';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { AppsController } from '../../src/kernel/index.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const HERE = import.meta.dirname;
const HELLO = resolve(HERE, '../support/hello-plugin');
const ON_LOAD = join(HERE, 'fixtures/throws-on-load');
const ON_START = join(HERE, 'fixtures/throws-on-start');

const nodes: FifeNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function nodeWith(plugins: string[], apps: string[]) {
  const lines: Array<Record<string, unknown>> = [];
  const config = loadConfig({
    env: {
      FIFE_DATA_DIR: tmpDir('fife-plugin-fail-'),
      FIFE_NODE: 'plugins@localhost',
      FIFE_PLUGINS: plugins.join(','),
      FIFE_APPS: apps.join(','),
    },
  });
  const node = await startNode({
    config,
    logDestination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  nodes.push(node);
  return { node, lines };
}

describe('a plugin that fails', () => {
  it('to load or to start is reported with its name and reason, left failed, and the node runs the rest', async () => {
    const { node, lines } = await nodeWith(
      [ON_LOAD, ON_START, HELLO],
      ['throws-on-load', 'throws_on_start', 'hello'],
    );

    const status = await AppsController.appsStatus(node.runtime);
    const byName = (n: string) => status.find((a) => a.name === n);
    expect(byName('hello')).toMatchObject({ state: 'running' });
    expect(byName('throws-on-load')).toMatchObject({
      state: 'failed',
      lastFailure: expect.stringContaining('throws-on-load: settings file missing'),
    });
    expect(byName('throws_on_start')).toMatchObject({
      state: 'failed',
      lastFailure: expect.stringContaining('broken init: no licence key'),
    });

    expect(lines.find((l) => l.msg?.toString().startsWith('plugin failed to load'))).toMatchObject({
      level: 50,
      app: 'throws-on-load',
      plugin: ON_LOAD,
      reason: expect.stringContaining('throws-on-load: settings file missing'),
    });
    expect(
      lines.find(
        (l) => l.msg?.toString().startsWith('plugin app failed to start') && l.app === 'throws_on_start',
      ),
    ).toMatchObject({ level: 50, reason: expect.stringContaining('broken init: no licence key') });

    // The node is up (its admin endpoint answers) but not ready: two configured apps failed.
    const ready = await fetch(`${node.adminUrl}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reasons: string[] }).reasons).toEqual(
      expect.arrayContaining([
        expect.stringContaining('throws-on-load'),
        expect.stringContaining('throws_on_start'),
      ]),
    );
  });

  it('a plugin at a path with nothing to load is a failed app named after the path, listed or not in apps', async () => {
    const missing = join(tmpDir('fife-no-plugin-'), 'ghost');
    const { node, lines } = await nodeWith([missing, HELLO], ['hello']);
    expect(await AppsController.runningApps(node.runtime)).toEqual(['hello']);
    // Not in `apps`, yet listed failed with its load error.
    expect((await AppsController.appsStatus(node.runtime)).find((a) => a.name === 'ghost')).toMatchObject({
      state: 'failed',
      lastFailure: expect.stringContaining(`plugin not found at ${missing}`),
    });
    expect(lines.find((l) => l.msg?.toString().startsWith('plugin failed to load'))).toMatchObject({
      app: 'ghost',
      reason: `plugin not found at ${missing}`,
    });
  });

  it('a built-in app that fails to start still fails the start (a node never runs without its own parts)', async () => {
    await expect(nodeWith([], ['nosuchapp'])).rejects.toThrow(/app 'nosuchapp' failed to start/);
  });
});
