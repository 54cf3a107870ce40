/**
 * nodes: the cluster view (Kazoo's kz_nodes). Every node announces itself on the bus and
 * keeps a table of the others, so any node can list the cluster (`fife nodes`).
 *
 * Contract
 * - Every `heartbeatMs` (default 5000) the node publishes `nodes_advertise` on the `nodes`
 *   fanout exchange: Node (its name), Expires (= heartbeatMs), WhApps (running apps,
 *   each with `Startup`: its start time in Gregorian seconds, as Kazoo's kz_nodes sends it), Version, Zone (the config's zone), Used-Memory (heap bytes),
 *   Processes (kernel processes alive) and Node-Info (uptime_s, pid, and apps_down: the
 *   apps that ended by themselves and are not running, name -> stopped | failed).
 *   Nothing is sent while the bus is down (a heartbeat would only queue). A heartbeat is
 *   never held up by an app starting (the apps controller answers only between its
 *   operations): past a quarter of a heartbeat it carries the apps as last known.
 * - Each advertise received (its own included) records the node until
 *   `last seen + Expires x 1.25` and drops it at that moment (the sweep is scheduled for
 *   the earliest such deadline, and at least every second), logging `node expired` once
 *   (warn, with `silent_ms` since its last heartbeat and `expires_ms`). A node seen for
 *   the first time is logged as `node joined`. A node never expires itself (its own
 *   entry stays while it runs, whatever its heartbeats' delays). Heartbeats go out at a
 *   fixed rate (the next is scheduled before this one is sent). Both facts are also
 *   published on the runtime's kernel events (`cluster`: `node_joined`, `node_expired`,
 *   with `node`), once each, for the node's apps (ecallmgr routes again the calls an
 *   expired node controlled).
 * - `Nodes.list(rt)` answers the table: name, zone, apps, apps down, version, memory,
 *   process count, uptime, age of the last heartbeat in ms.
 * - Media servers (Kazoo's kz_nodes with ecallmgr): switches are not nodes. A node whose
 *   ecallmgr has a switch connection up lists it in its heartbeat's `Media-Servers`
 *   (switch name -> {Startup (Gregorian s), Interface: {URL}}), as Kazoo's kz_nodes does; a
 *   switch that goes down is no longer listed. ecallmgr reports its switches with
 *   `reportMediaServer(rt, ...)` (a no-op when the runtime has no cluster view), and every
 *   change is advertised at once, not at the next heartbeat. Receivers keep a table of
 *   switches apart from the nodes, one entry per switch however many nodes connect it
 *   (several ecallmgr nodes on one FreeSWITCH is the usual redundant set-up): name, URL,
 *   the nodes that list it, status (up while one does; down from the first heartbeat in
 *   which none does), since when. A node that expires no longer counts; a switch no node
 *   lists whose last node expired is forgotten. `listSwitches(rt)` answers that table.
 * A gen_listener: its queue is anonymous and bound to the fanout exchange.
 */
import {
  ok,
  noreply,
  reply,
  AppsController,
  APPS_CONTROLLER,
  GenServer,
  type ChildSpec,
  type Logger,
  type ProcessContext,
  type AppStatus,
  type Runtime,
} from '../kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../bus/gen-listener.ts';
import {
  asGregorianSeconds,
  build,
  destination,
  gregorianSeconds,
  GREGORIAN_OFFSET_S,
} from '../api/index.ts';
import type { BusTransport } from '../bus/index.ts';

export interface NodesArgs {
  transport: BusTransport;
  heartbeatMs: number;
  version: string;
  startedAt: number;
  /** The node's zone (default `local`). */
  zone?: string;
}

/** A switch (media server) as the cluster sees it. */
export interface SwitchEntry {
  name: string;
  url?: string;
  status: 'up' | 'down';
  /** The nodes whose ecallmgr has it up (none when down). */
  nodes: string[];
  /** Unix ms: up since its first connection still up; down since it went down. */
  since: number;
}

interface SwitchSeen {
  url?: string;
  /** node -> unix ms it connected the switch. */
  via: Map<string, number>;
  lastNode: string;
  downSince: number;
}

/** What ecallmgr tells the local cluster view about one of its switches. */
export interface MediaServerReport {
  name: string;
  status: 'up' | 'down';
  url: string;
}

export interface NodeEntry {
  node: string;
  zone?: string;
  apps: string[];
  /** Apps that ended by themselves and are not running: name -> stopped | failed. */
  appsDown: Record<string, string>;
  version?: string;
  usedMemory?: number;
  processes?: number;
  uptimeS?: number;
  lastSeenMsAgo: number;
}

interface Seen {
  zone?: string;
  apps: string[];
  appsDown: Record<string, string>;
  version?: string;
  usedMemory?: number;
  processes?: number;
  uptimeS?: number;
  lastSeen: number;
  expiresMs: number;
}

interface State {
  args: NodesArgs;
  nodes: Map<string, Seen>;
  /** This node's switches that are up: Kazoo's Media-Servers object. */
  local: Map<string, { Startup: number; Interface: { URL: string } }>;
  switches: Map<string, SwitchSeen>;
  /** The apps as the last heartbeat carried them. */
  lastStatus: AppStatus[];
  /** When the next sweep runs, and its number: only the latest scheduled sweep runs. */
  sweepAt: number | undefined;
  sweepSeq: number;
}

type Info = { type: 'media_server'; report: MediaServerReport } | { type: 'sweep'; seq: number };

const BEAT = 'heartbeat';
const SWEEP_MS = 1000;

/** Schedules a sweep at `at` unless one is already due by then. */
function armSweep(s: State, ctx: ProcessContext, at: number): void {
  if (s.sweepAt !== undefined && s.sweepAt <= at) return;
  s.sweepAt = at;
  ctx.sendAfter(Math.max(0, at - Date.now()), { type: 'sweep', seq: ++s.sweepSeq } satisfies Info);
}
export const NODES = 'nodes';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;

async function advertise(s: State, rt: Runtime): Promise<void> {
  if (s.args.transport.state !== 'connected') return;
  // A runtime without an apps controller (ecallmgr's tests, benches) runs no apps.
  let status = s.lastStatus;
  if (rt.whereis(APPS_CONTROLLER) === undefined) status = [];
  else
    try {
      status = s.lastStatus = await AppsController.appsStatus(rt, Math.max(50, s.args.heartbeatMs / 4));
    } catch (err) {
      rt.log.debug({ err: (err as Error).message }, 'heartbeat: apps as last known (controller busy)');
    }
  const down = Object.fromEntries(
    status
      .filter((a) => a.state === 'failed' || (a.state === 'stopped' && a.lastFailure !== undefined))
      .map((a) => [a.name, a.state]),
  );
  const msg = build(
    'nodes_advertise',
    {
      Expires: s.args.heartbeatMs,
      WhApps: Object.fromEntries(
        status
          .filter((a) => a.state === 'running')
          .map((a) => [a.name, { Startup: gregorianSeconds(a.startedAt ?? s.args.startedAt) }]),
      ),
      Version: s.args.version,
      Zone: s.args.zone ?? 'local',
      'Used-Memory': process.memoryUsage().heapUsed,
      Processes: rt.processCount,
      'Node-Info': {
        uptime_s: Math.round((Date.now() - s.args.startedAt) / 1000),
        pid: process.pid,
        apps_down: down,
      },
      'Media-Servers': s.local.size > 0 ? Object.fromEntries(s.local) : undefined,
    },
    { appName: 'kz_nodes', appVersion: s.args.version, node: rt.node },
  );
  const to = destination('nodes_advertise', msg);
  await s.args.transport.publish(to.exchange, to.routingKey, JSON.stringify(msg), {
    contentType: 'application/json',
  });
}

/** A heartbeat's Media-Servers: the switches listed are up through `node`; those `node`
 *  listed before and no longer does are down through it. */
function seeMediaServers(s: State, node: string, servers: unknown, log: Logger): void {
  const listed =
    typeof servers === 'object' && servers !== null && !Array.isArray(servers)
      ? (servers as Record<string, unknown>)
      : {};
  const now = Date.now();
  for (const [name, v] of Object.entries(listed)) {
    const e = (typeof v === 'object' && v !== null ? v : {}) as {
      Startup?: unknown;
      Interface?: { URL?: unknown };
    };
    const startup = asGregorianSeconds(e.Startup);
    const url = typeof e.Interface?.URL === 'string' ? e.Interface.URL : undefined;
    const sw = s.switches.get(name) ?? { via: new Map<string, number>(), lastNode: node, downSince: now };
    s.switches.set(name, sw);
    if (!sw.via.has(node)) log.info({ switch: name, peer: node, url }, 'switch up');
    sw.via.set(
      node,
      startup === undefined ? (sw.via.get(node) ?? now) : (startup - GREGORIAN_OFFSET_S) * 1000,
    );
    sw.url = url ?? sw.url;
    sw.lastNode = node;
  }
  for (const [name, sw] of s.switches) {
    if (!sw.via.has(node) || name in listed) continue;
    sw.via.delete(node);
    log.info({ switch: name, peer: node }, 'switch down');
    if (sw.via.size === 0) sw.downSince = now;
  }
}

function switchEntries(s: State): SwitchEntry[] {
  return [...s.switches]
    .map(([name, sw]): SwitchEntry => ({
      name,
      url: sw.url,
      status: sw.via.size > 0 ? 'up' : 'down',
      nodes: [...sw.via.keys()].sort(),
      since: sw.via.size > 0 ? Math.min(...sw.via.values()) : sw.downSince,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const Nodes: GenListenerBehaviour<State, NodesArgs, 'list' | 'switches'> = {
  name: NODES,
  init(args, ctx) {
    // Trapping exits, a shutdown runs terminate: the node's stop waits for the consumer and
    // its queue to go before the bus closes.
    ctx.trapExit(true);
    ctx.sendAfter(0, BEAT);
    const s: State = {
      args,
      nodes: new Map(),
      local: new Map(),
      switches: new Map(),
      lastStatus: [],
      sweepAt: undefined,
      sweepSeq: 0,
    };
    armSweep(s, ctx, Date.now() + SWEEP_MS);
    return ok(s);
  },
  listen: () => ({ bindings: [{ exchange: 'nodes', routingKey: '' }] }),
  handleEvent(m, s, ctx) {
    // The observer's messages share the fanout: only heartbeats are this listener's.
    if (m['Event-Category'] !== 'nodes' || m['Event-Name'] !== 'advertise') return s;
    const node = typeof m.Node === 'string' ? m.Node : undefined;
    if (node === undefined) return s;
    const info = (m['Node-Info'] ?? {}) as { uptime_s?: unknown; apps_down?: unknown };
    const apps = Object.keys((m.WhApps ?? {}) as object);
    const down = Object.fromEntries(
      Object.entries(
        typeof info.apps_down === 'object' && info.apps_down !== null ? info.apps_down : {},
      ).filter((kv): kv is [string, string] => typeof kv[1] === 'string'),
    );
    const zone = typeof m.Zone === 'string' ? m.Zone : undefined;
    const joined = !s.nodes.has(node);
    if (joined) {
      ctx.log.info({ peer: node, zone, apps, down }, 'node joined');
      if (node !== ctx.runtime.node) ctx.runtime.events.emit('cluster', { kind: 'node_joined', node });
    } else if (ctx.log.isLevelEnabled('debug'))
      ctx.log.debug({ peer: node, apps, down }, 'heartbeat received');
    s.nodes.set(node, {
      zone,
      apps,
      appsDown: down,
      version: typeof m.Version === 'string' ? m.Version : undefined,
      usedMemory: num(m['Used-Memory']),
      processes: num(m.Processes),
      uptimeS: num(info.uptime_s),
      lastSeen: Date.now(),
      expiresMs: (num(m.Expires) ?? 5000) * 1.25,
    });
    // A known node's deadline only moves later; a new one may fall before the next sweep.
    if (joined && node !== ctx.runtime.node) armSweep(s, ctx, Date.now() + s.nodes.get(node)!.expiresMs);
    seeMediaServers(s, node, m['Media-Servers'], ctx.log);
    return s;
  },
  async handleInfo(msg, s, ctx) {
    const info = msg as Info;
    if (info?.type === 'media_server') {
      const { name, status, url } = info.report;
      if (status === 'up') s.local.set(name, { Startup: gregorianSeconds(), Interface: { URL: url } });
      else s.local.delete(name);
      await advertise(s, ctx.runtime).catch((err: unknown) =>
        ctx.log.warn(
          { err: (err as Error).message, switch: name, status },
          'switch change not advertised; the next heartbeat carries it',
        ),
      );
    } else if (msg === BEAT) {
      // At a fixed rate: the time a heartbeat takes to go out does not add up.
      ctx.sendAfter(s.args.heartbeatMs, BEAT);
      await advertise(s, ctx.runtime).catch((err: unknown) =>
        ctx.log.warn({ err: (err as Error).message }, 'heartbeat not published'),
      );
    } else if (info?.type === 'sweep') {
      if (info.seq !== s.sweepSeq) return noreply(s);
      s.sweepAt = undefined;
      const now = Date.now();
      for (const [node, e] of s.nodes) {
        if (node !== ctx.runtime.node && now >= e.lastSeen + e.expiresMs) {
          s.nodes.delete(node);
          ctx.log.warn({ peer: node, silent_ms: now - e.lastSeen, expires_ms: e.expiresMs }, 'node expired');
          ctx.runtime.events.emit('cluster', { kind: 'node_expired', node });
          for (const [name, sw] of s.switches) {
            if (sw.via.delete(node) && sw.via.size === 0) sw.downSince = now;
            if (sw.via.size === 0 && sw.lastNode === node) s.switches.delete(name);
          }
        }
      }
      const due = Math.min(
        ...[...s.nodes]
          .filter(([node]) => node !== ctx.runtime.node)
          .map(([, e]) => e.lastSeen + e.expiresMs),
      );
      armSweep(s, ctx, Math.min(now + SWEEP_MS, due));
    }
    return noreply(s);
  },
  handleCall(req, _from, s) {
    if (req === 'switches') return reply(switchEntries(s), s);
    const now = Date.now();
    const list: NodeEntry[] = [...s.nodes].map(([node, e]) => ({
      node,
      zone: e.zone,
      apps: e.apps,
      appsDown: e.appsDown,
      version: e.version,
      usedMemory: e.usedMemory,
      processes: e.processes,
      uptimeS: e.uptimeS,
      lastSeenMsAgo: now - e.lastSeen,
    }));
    return reply(
      list.sort((a, b) => a.node.localeCompare(b.node)),
      s,
    );
  },
  describe: (s) => ({ nodes: s.nodes.size }),
};

export const nodesChildSpec = (args: NodesArgs): ChildSpec =>
  GenListener.childSpec(NODES, Nodes, args, { transport: args.transport, name: NODES, appName: 'kz_nodes' });

export const listNodes = (rt: Runtime): Promise<NodeEntry[]> =>
  GenServer.call<NodeEntry[]>(rt, NODES, 'list');

export const listSwitches = (rt: Runtime): Promise<SwitchEntry[]> =>
  GenServer.call<SwitchEntry[]>(rt, NODES, 'switches');

/** ecallmgr: a switch connection went up or down. Advertised at once in this node's
 *  heartbeat (Media-Servers); nothing happens when the runtime has no cluster view. */
export function reportMediaServer(rt: Runtime, report: MediaServerReport): boolean {
  if (rt.whereis(NODES) === undefined) return false;
  rt.send(NODES, { type: 'media_server', report } satisfies Info);
  return true;
}
