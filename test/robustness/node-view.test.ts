/**
 * The node view with a switch (issue 9, item 9): a node running ecallmgr against the switch
 * simulator keeps its own entry in the cluster view through several heartbeats and a
 * switch down/up (no `node expired` for itself: the switch is advertised in the node's own
 * heartbeat, Kazoo's Media-Servers, not in a message of its own that overwrote the node's
 * entry), and GET /nodes and `fife nodes` list the node and the switch apart.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { Switch } from '../../src/switch/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';

const NODE = 'view@localhost';
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface View {
  nodes: Array<{ node: string; apps: string[] }>;
  switches: Array<{ name: string; nodes: string[]; url?: string; status: string; since: number }>;
}

describe('the node view with a switch', () => {
  it('a node running ecallmgr never expires itself across heartbeats and a switch down/up; GET /nodes and `fife nodes` list the node and the switch apart', async () => {
    const { logger } = memoryLogger('sim@localhost', 'warn');
    const sw = await Switch.start({ port: 0, logger });
    cleanups.push(() => sw.close());

    const lines: Array<Record<string, unknown>> = [];
    const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
    const logged = (match: (l: Record<string, unknown>) => boolean): Promise<void> => {
      if (lines.some(match)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    };
    const after = (mark: number, match: (l: Record<string, unknown>) => boolean) =>
      logged((l) => lines.indexOf(l) >= mark && match(l));
    const logDestination = {
      write(s: string) {
        const l = JSON.parse(s) as Record<string, unknown>;
        lines.push(l);
        for (const w of waiters.splice(0))
          if (w.match(l)) w.resolve();
          else waiters.push(w);
      },
    };
    // Heartbeats 1.5 s apart, longer than the 1 s sweep: an entry made to expire between two
    // heartbeats is swept before the next one restores it.
    const config = loadConfig({
      env: {
        FIFE_NODE: NODE,
        FIFE_DATA_DIR: tmpDir('fife-view-'),
        FIFE_HEARTBEAT_MS: '1500',
        FIFE_LOG_LEVEL: 'debug',
      },
    });
    config.apps = ['ecallmgr'];
    config.settings = {
      ...config.settings,
      ecallmgr: { switches: [{ host: '127.0.0.1', port: sw.port, name: 'fs1' }] },
    };
    const node: FifeNode = await startNode({ config, logDestination });
    cleanups.push(() => node.stop());

    const ownBeat = (l: Record<string, unknown>): boolean =>
      l.peer === NODE && (l.msg === 'heartbeat received' || l.msg === 'node joined');
    const beats = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await after(lines.length, ownBeat);
    };

    // Fails at once on the symptom if the node expires itself while the switch comes up.
    const expiredSelf = logged((l) => l.msg === 'node expired' && l.peer === NODE).then(() => {
      throw new Error(`${NODE} expired from its own view`);
    });
    await Promise.race([
      logged((l) => l.msg === 'switch up' && l.switch === 'fs1' && l.peer === NODE),
      expiredSelf,
    ]);
    await beats(3);
    const mark = lines.length;
    sw.dropConnections();
    await after(mark, (l) => l.msg === 'switch down' && l.switch === 'fs1');
    await after(mark, (l) => l.msg === 'switch up' && l.switch === 'fs1');
    await beats(3);

    expect(
      lines.filter((l) => l.msg === 'node expired'),
      'node expired lines',
    ).toEqual([]);
    expect(
      lines.filter((l) => l.msg === 'node joined' && l.peer === NODE),
      'the node joined once',
    ).toHaveLength(1);

    const view = (await (await fetch(`${node.adminUrl}/nodes`)).json()) as View;
    expect(view.nodes.map((n) => n.node)).toEqual([NODE]);
    expect(view.nodes[0]!.apps).toContain('ecallmgr');
    expect(view.switches).toEqual([
      {
        name: 'fs1',
        nodes: [NODE],
        url: `esl://127.0.0.1:${sw.port}`,
        status: 'up',
        since: expect.any(Number),
      },
    ]);

    const { stdout } = await promisify(execFile)(process.execPath, [FIFE_BIN, 'nodes'], {
      env: { ...process.env, FIFE_ADMIN_URL: node.adminUrl },
    });
    const [nodeLine, header, switchLine, ...rest] = stdout.trim().split('\n');
    expect(nodeLine).toMatch(new RegExp(`^${NODE}\\tzone=local\\tapps=[^\\t]*ecallmgr\\tdown=-\\t`));
    expect(header).toBe('switches:');
    expect(switchLine).toMatch(
      new RegExp(`^fs1\\tup\\tnodes=${NODE}\\turl=esl://127\\.0\\.0\\.1:${sw.port}\\tsince=`),
    );
    expect(rest).toEqual([]);
  });
});
