/**
 * nodes: the cluster view (Kazoo's kz_nodes). Every node announces itself on the bus and
 * keeps a table of the others, so any node can list the cluster (`fife nodes`).
 *
 * Contract
 * - Every `heartbeatMs` (default 5000) the node publishes `nodes_advertise` on the `nodes`
 *   fanout exchange: Node (its name), Expires (= heartbeatMs), WhApps (running apps with
 *   their start time), Version, Used-Memory (heap bytes) and Node-Info (uptime, pid).
 *   Nothing is sent while the bus is down (a heartbeat would only queue).
 * - Each advertise received (its own included) records the node until
 *   `last seen + Expires x 1.25`; a sweep every second drops nodes past that, logging
 *   `node expired`. A node seen for the first time is logged as `node joined`.
 * - `Nodes.list(rt)` answers the table: name, apps, version, memory, uptime, age of the
 *   last heartbeat in ms.
 * A gen_listener: its queue is anonymous and bound to the fanout exchange.
 */
import { ok, noreply, reply, AppsController, GenServer, type ChildSpec, type Runtime } from '../kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../bus/gen-listener.ts';
import { build, destination } from '../api/index.ts';
import type { BusTransport } from '../bus/index.ts';

export interface NodesArgs {
  transport: BusTransport;
  heartbeatMs: number;
  version: string;
  startedAt: number;
}

export interface NodeEntry {
  node: string;
  apps: string[];
  version?: string;
  usedMemory?: number;
  uptimeS?: number;
  lastSeenMsAgo: number;
}

interface Seen {
  apps: string[];
  version?: string;
  usedMemory?: number;
  uptimeS?: number;
  lastSeen: number;
  expiresMs: number;
}

interface State {
  args: NodesArgs;
  nodes: Map<string, Seen>;
}

const BEAT = 'heartbeat';
const SWEEP = 'sweep';
const SWEEP_MS = 1000;
export const NODES = 'nodes';

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);

async function advertise(s: State, rt: Runtime): Promise<void> {
  if (s.args.transport.state !== 'connected') return;
  const apps = await AppsController.runningApps(rt);
  const now = Math.floor(Date.now() / 1000);
  const msg = build(
    'nodes_advertise',
    {
      Expires: s.args.heartbeatMs,
      WhApps: Object.fromEntries(apps.map((a) => [a, { Startup: now }])),
      Version: s.args.version,
      'Used-Memory': process.memoryUsage().heapUsed,
      'Node-Info': { uptime_s: Math.round((Date.now() - s.args.startedAt) / 1000), pid: process.pid },
    },
    { appName: 'kz_nodes', appVersion: s.args.version, node: rt.node },
  );
  const to = destination('nodes_advertise', msg);
  await s.args.transport.publish(to.exchange, to.routingKey, JSON.stringify(msg), { contentType: 'application/json' });
}

export const Nodes: GenListenerBehaviour<State, NodesArgs, 'list'> = {
  name: NODES,
  init(args, ctx) {
    // Trapping exits, a shutdown runs terminate: the node's stop waits for the consumer and
    // its queue to go before the bus closes.
    ctx.trapExit(true);
    ctx.sendAfter(0, BEAT);
    ctx.sendAfter(SWEEP_MS, SWEEP);
    return ok({ args, nodes: new Map() });
  },
  listen: () => ({ bindings: [{ exchange: 'nodes', routingKey: '' }] }),
  handleEvent(m, s, ctx) {
    if (m['Event-Category'] !== 'nodes') return s;
    const node = typeof m.Node === 'string' ? m.Node : undefined;
    if (node === undefined) return s;
    const info = (m['Node-Info'] ?? {}) as { uptime_s?: unknown };
    const apps = Object.keys((m.WhApps ?? {}) as object);
    if (!s.nodes.has(node)) ctx.log.info({ peer: node, apps }, 'node joined');
    else if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ peer: node, apps }, 'heartbeat received');
    s.nodes.set(node, {
      apps,
      version: typeof m.Version === 'string' ? m.Version : undefined,
      usedMemory: num(m['Used-Memory']),
      uptimeS: num(info.uptime_s),
      lastSeen: Date.now(),
      expiresMs: (num(m.Expires) ?? 5000) * 1.25,
    });
    return s;
  },
  async handleInfo(msg, s, ctx) {
    if (msg === BEAT) {
      await advertise(s, ctx.runtime).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'heartbeat not published'));
      ctx.sendAfter(s.args.heartbeatMs, BEAT);
    } else if (msg === SWEEP) {
      const now = Date.now();
      for (const [node, e] of s.nodes) {
        if (now > e.lastSeen + e.expiresMs) {
          s.nodes.delete(node);
          ctx.log.warn({ peer: node }, 'node expired');
        }
      }
      ctx.sendAfter(SWEEP_MS, SWEEP);
    }
    return noreply(s);
  },
  handleCall(_req, _from, s) {
    const now = Date.now();
    const list: NodeEntry[] = [...s.nodes].map(([node, e]) => ({ node, apps: e.apps, version: e.version, usedMemory: e.usedMemory, uptimeS: e.uptimeS, lastSeenMsAgo: now - e.lastSeen }));
    return reply(list.sort((a, b) => a.node.localeCompare(b.node)), s);
  },
  describe: (s) => ({ nodes: s.nodes.size }),
};

export const nodesChildSpec = (args: NodesArgs): ChildSpec => GenListener.childSpec(NODES, Nodes, args, { transport: args.transport, name: NODES, appName: 'kz_nodes' });

export const listNodes = (rt: Runtime): Promise<NodeEntry[]> => GenServer.call<NodeEntry[]>(rt, NODES, 'list');
