/**
 * The cluster view: two nodes on one bus hear each other's heartbeats, list each other
 * (admin GET /nodes) with their apps, and a stopped node expires from the other's view;
 * switches (Media-Servers in the heartbeats) are listed apart, one entry per switch.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { listSwitches, reportMediaServer } from '../../src/node/nodes.ts';
import { AppsController, GenServer, type AppDefinition } from '../../src/kernel/index.ts';
import { GREGORIAN_OFFSET_S } from '../../src/api/index.ts';

const running: FifeNode[] = [];
afterAll(async () => {
  for (const n of running) await n.stop();
});

/** Starts a node whose log lines can be waited on. */
async function node(
  name: string,
  apps: string[] = [],
  more: { zone?: string; extra?: AppDefinition<any>[] } = {},
) {
  const dir = tmpDir('fife-nodes-');
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  const logDestination = {
    write(s: string) {
      const l = JSON.parse(s) as Record<string, unknown>;
      for (const w of waiters.splice(0))
        if (w.match(l)) w.resolve();
        else waiters.push(w);
    },
  };
  const config = loadConfig({
    env: {
      FIFE_NODE: `${name}@localhost`,
      FIFE_APPS: '', // none but the stand-ins below (not the platform)
      FIFE_DATA_DIR: dir,
      FIFE_HEARTBEAT_MS: '200',
      FIFE_LOG_LEVEL: 'debug',
      ...(more.zone === undefined ? {} : { FIFE_ZONE: more.zone }),
    },
  });
  const extra = [...apps.map((a) => ({ name: a, tree: () => ({ children: [] }) })), ...(more.extra ?? [])];
  const n = await startNode({ config, logDestination, extraApps: extra });
  running.push(n);
  for (const a of apps)
    await (await import('../../src/kernel/index.ts')).AppsController.startApp(n.runtime, a);
  const logged = (match: (l: Record<string, unknown>) => boolean) =>
    new Promise<void>((resolve) => waiters.push({ match, resolve }));
  return { n, logged };
}

describe('nodes: heartbeats and the cluster view', () => {
  it('nodes list each other with their apps, and a stopped node expires', async () => {
    const a = await node('alpha');
    const joined = a.logged((l) => l.msg === 'node joined' && l.peer === 'beta@localhost');
    const withApp = a.logged(
      (l) =>
        l.peer === 'beta@localhost' &&
        Array.isArray(l.apps) &&
        (l.apps as string[]).includes('registrar_like'),
    );
    await node('beta', ['registrar_like']);
    await joined;
    await withApp;
    type View = { nodes: Array<{ node: string; apps: string[]; version?: string }>; switches: unknown[] };
    let list = ((await (await fetch(`${a.n.adminUrl}/nodes`)).json()) as View).nodes;
    expect(list.map((x) => x.node)).toEqual(expect.arrayContaining(['alpha@localhost', 'beta@localhost']));
    expect(list.find((x) => x.node === 'beta@localhost')).toMatchObject({
      apps: ['registrar_like'],
      version: expect.any(String),
    });
    const expired = a.logged((l) => l.msg === 'node expired' && l.peer === 'beta@localhost');
    const b = running.find((n) => n.config.node === 'beta@localhost')!;
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await expired;
    list = ((await (await fetch(`${a.n.adminUrl}/nodes`)).json()) as View).nodes;
    expect(list.map((x) => x.node)).toEqual(['alpha@localhost']);
  });

  it('a switch two nodes connect is one entry, up while either lists it in its heartbeat, down when neither does', async () => {
    const g = await node('gamma');
    const d = await node('delta');
    const sw = { name: 'fs-shared', url: 'esl://10.0.0.9:8021' };
    const upVia = (peer: string) =>
      g.logged((l) => l.msg === 'switch up' && l.switch === sw.name && l.peer === peer);
    const downVia = (peer: string) =>
      g.logged((l) => l.msg === 'switch down' && l.switch === sw.name && l.peer === peer);
    const upG = upVia('gamma@localhost');
    const upD = upVia('delta@localhost');
    expect(reportMediaServer(g.n.runtime, { ...sw, status: 'up' })).toBe(true);
    expect(reportMediaServer(d.n.runtime, { ...sw, status: 'up' })).toBe(true);
    await upG;
    await upD;
    const entry = async () => (await listSwitches(g.n.runtime)).find((x) => x.name === sw.name);
    expect(await entry()).toMatchObject({
      status: 'up',
      nodes: ['delta@localhost', 'gamma@localhost'],
      url: sw.url,
    });
    const downD = downVia('delta@localhost');
    reportMediaServer(d.n.runtime, { ...sw, status: 'down' });
    await downD;
    expect(await entry()).toMatchObject({ status: 'up', nodes: ['gamma@localhost'] });
    const downG = downVia('gamma@localhost');
    reportMediaServer(g.n.runtime, { ...sw, status: 'down' });
    await downG;
    expect(await entry()).toMatchObject({ status: 'down', nodes: [] });
    const view = (await (await fetch(`${g.n.adminUrl}/nodes`)).json()) as {
      nodes: Array<{ node: string }>;
      switches: Array<{ name: string }>;
    };
    expect(view.nodes.map((x) => x.node)).not.toContain(sw.name);
    expect(view.switches.map((x) => x.name)).toContain(sw.name);
  });

  it("heartbeats carry Kazoo's Startup times in Gregorian seconds: each app's own start, and a switch's up time read back", async () => {
    const t0 = Date.now();
    let bus: NodeServices['bus'] | undefined;
    const late: AppDefinition<NodeServices> = {
      name: 'late',
      tree: (env) => ((bus = env.bus), { children: [] }),
    };
    const h = await node('eta', ['early'], { extra: [late] });
    await new Promise((r) => setTimeout(r, 1100)); // the second app starts in a later second
    await AppsController.startApp(h.n.runtime, 'late');
    const tLate = Date.now();
    // A queue of our own on the nodes fanout sees the heartbeats as a Kazoo peer would.
    const q = await bus!.assertQueue('', { exclusive: true, autoDelete: true });
    await bus!.bindQueue(q, 'nodes', '');
    const beat = new Promise<Record<string, { Startup: number }>>((resolve) => {
      void bus!.consume(q, (d) => {
        const m = JSON.parse(d.body.toString()) as {
          Node?: string;
          WhApps?: Record<string, { Startup: number }>;
        };
        if (m.Node === 'eta@localhost' && m.WhApps?.late !== undefined) resolve(m.WhApps);
      });
    });
    const sw = { name: 'fs-greg', url: 'esl://10.0.0.7:8021' };
    const up = h.logged((l) => l.msg === 'switch up' && l.switch === sw.name);
    reportMediaServer(h.n.runtime, { ...sw, status: 'up' });
    const apps = await beat;
    await up;
    const asUnixS = (g: number) => g - GREGORIAN_OFFSET_S;
    expect(asUnixS(apps.early!.Startup)).toBeGreaterThanOrEqual(Math.floor(t0 / 1000));
    expect(asUnixS(apps.early!.Startup)).toBeLessThan(asUnixS(apps.late!.Startup));
    expect(asUnixS(apps.late!.Startup)).toBeLessThanOrEqual(Math.floor(tLate / 1000));
    // The switch's Startup went out in Gregorian seconds and is read back as the same moment.
    const entry = (await listSwitches(h.n.runtime)).find((x) => x.name === sw.name)!;
    expect(entry.since).toBeGreaterThanOrEqual(Math.floor(tLate / 1000) * 1000);
    expect(entry.since).toBeLessThanOrEqual(Date.now());
  });

  it("every node's zone, version, uptime, memory, process count and apps, with an app that failed for good listed as down", async () => {
    const e = await node('epsilon');
    // `broken` crashes whenever asked: its tree gives up at once and the controller gives up after one restart.
    const broken: AppDefinition<any> = {
      name: 'broken',
      maxRestarts: { intensity: 0, period: 60 },
      tree: () => ({
        flags: { intensity: 0 },
        children: [
          GenServer.childSpec(
            'broken_w',
            {
              name: 'broken_w',
              init: () => ({ type: 'ok', state: null }),
              handleCall: () => {
                throw new Error('broken');
              },
            },
            undefined,
            { name: 'broken_w' },
          ),
        ],
      }),
    };
    const z = await node('zeta', ['steady'], { zone: 'east', extra: [broken] });
    await AppsController.startApp(z.n.runtime, 'broken');
    const gaveUp = z.n.runtime.events.waitFor('app', (ev) => ev.kind === 'gave_up' && ev.app === 'broken');
    await GenServer.call(z.n.runtime, 'broken_w', 'boom').catch(() => undefined);
    await gaveUp;
    const seenDown = e.logged(
      (l) =>
        l.msg === 'heartbeat received' &&
        l.peer === 'zeta@localhost' &&
        JSON.stringify(l.down ?? {}).includes('broken'),
    );
    await seenDown;
    type Entry = {
      node: string;
      zone?: string;
      apps: string[];
      appsDown?: Record<string, string>;
      version?: string;
      uptimeS?: number;
      usedMemory?: number;
      processes?: number;
    };
    const list = ((await (await fetch(`${e.n.adminUrl}/nodes`)).json()) as { nodes: Entry[] }).nodes;
    const zeta = list.find((x) => x.node === 'zeta@localhost')!;
    expect(zeta).toMatchObject({
      zone: 'east',
      apps: ['steady'],
      appsDown: { broken: 'failed' },
      version: expect.any(String),
      uptimeS: expect.any(Number),
      usedMemory: expect.any(Number),
      processes: expect.any(Number),
    });
    expect(zeta.processes).toBeGreaterThan(3);
    expect(list.find((x) => x.node === 'epsilon@localhost')).toMatchObject({ zone: 'local', appsDown: {} });
  });
});
