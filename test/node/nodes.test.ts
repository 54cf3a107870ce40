/**
 * The cluster view: two nodes on one bus hear each other's heartbeats, list each other
 * (admin GET /nodes) with their apps, and a stopped node expires from the other's view.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';

const running: FifeNode[] = [];
afterAll(async () => {
  for (const n of running) await n.stop();
});

/** Starts a node whose log lines can be waited on. */
async function node(name: string, apps: string[] = []) {
  const dir = tmpDir('fife-nodes-');
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  const logDestination = {
    write(s: string) {
      const l = JSON.parse(s) as Record<string, unknown>;
      for (const w of waiters.splice(0)) if (w.match(l)) w.resolve(); else waiters.push(w);
    },
  };
  const config = loadConfig({ env: { FIFE_NODE: `${name}@localhost`, FIFE_DATA_DIR: dir, FIFE_HEARTBEAT_MS: '200', FIFE_LOG_LEVEL: 'debug' } });
  const extra = apps.map((a) => ({ name: a, tree: () => ({ children: [] }) }));
  const n = await startNode({ config, logDestination, extraApps: extra });
  running.push(n);
  for (const a of apps) await (await import('../../src/kernel/index.ts')).AppsController.startApp(n.runtime, a);
  const logged = (match: (l: Record<string, unknown>) => boolean) => new Promise<void>((resolve) => waiters.push({ match, resolve }));
  return { n, logged };
}

describe('nodes: heartbeats and the cluster view', () => {
  it('nodes list each other with their apps, and a stopped node expires', async () => {
    const a = await node('alpha');
    const joined = a.logged((l) => l.msg === 'node joined' && l.peer === 'beta@localhost');
    const withApp = a.logged((l) => l.peer === 'beta@localhost' && Array.isArray(l.apps) && (l.apps as string[]).includes('registrar_like'));
    await node('beta', ['registrar_like']);
    await joined;
    await withApp;
    type View = { nodes: Array<{ node: string; apps: string[]; version?: string }>; switches: unknown[] };
    let list = ((await (await fetch(`${a.n.adminUrl}/nodes`)).json()) as View).nodes;
    expect(list.map((x) => x.node)).toEqual(expect.arrayContaining(['alpha@localhost', 'beta@localhost']));
    expect(list.find((x) => x.node === 'beta@localhost')).toMatchObject({ apps: ['registrar_like'], version: expect.any(String) });
    const expired = a.logged((l) => l.msg === 'node expired' && l.peer === 'beta@localhost');
    const b = running.find((n) => n.config.node === 'beta@localhost')!;
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await expired;
    list = ((await (await fetch(`${a.n.adminUrl}/nodes`)).json()) as View).nodes;
    expect(list.map((x) => x.node)).toEqual(['alpha@localhost']);
  });
});
