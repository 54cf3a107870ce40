/**
 * observer: the cluster-wide view behind the observer page (a gen_listener in kernel_sup,
 * registered as `observer`). Every node runs one; it plays two parts.
 *
 * Watched (every node): on `nodes_observe_req` (fanout `nodes`) it records the asker's
 * Server-ID for Lease-Ms and sends it `nodes_observe` (targeted) at once; while any
 * asker's lease runs it sends again when its trees change (a kernel event) and once every
 * `tickMs` (rates and mailboxes move without events), never more often than one update
 * every `minIntervalMs` per node, whatever the event rate: kernel events between two
 * updates go in one batch (capped, the rest counted as dropped). An update carries the
 * node's tree trimmed to `maxChildren` per supervisor, so its size is bounded too. With
 * no lease running it sends nothing and holds no events.
 *
 * Watching (a node whose page is open): `subscribe(rt, sink)` adds a page's stream (an
 * SSE response, routes.ts). While it has a subscriber it publishes `nodes_observe_req`
 * every lease/2 (at once for the first), keeps the last update of each node, gives a new
 * subscriber all of them at once, and passes each update to every subscriber as it
 * arrives (`node` events); a node silent for a lease is dropped (`gone`). A sink whose
 * buffer is over its limit is closed (the page reconnects); when this process ends,
 * every sink is closed.
 *
 * `sendFault(rt, {node, kind, pid, reason?})` passes a page's fault button for another
 * node's process to that node's observer (`nodes_observe_fault` to the Server-ID of its
 * updates), which applies it (faults.ts); `unknown_node` for a node not heard from.
 *
 * Sinks get `{event, data}` with data as JSON text: `hello` {node, faults}, `node`
 * {node, at, seq, tree, events, droppedEvents, crashes, rates, mailboxes}, `gone` {node}.
 */
import {
  GenServer,
  describeNode,
  noreply,
  ok,
  reply,
  type AppEvent,
  type FaultEvent,
  type ChildSpec,
  type ExitEvent,
  type ProcessContext,
  type Runtime,
  type SupervisorEvent,
} from '../../kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../bus/gen-listener.ts';
import { build, destination, type Envelope } from '../../api/index.ts';
import type { BusTransport } from '../../bus/index.ts';
import { FIFE_VERSION } from '../../version.ts';
import { EventLog, RateMeter, mailboxes, trimTree } from './snapshot.ts';
import { FAULTS, applyFault } from './faults.ts';

export const OBSERVER = 'observer';

export interface ObserverArgs {
  transport: BusTransport;
  /** The kernel root's registered name (whose tree is shown). */
  kernelRoot: string;
  leaseMs?: number;
  tickMs?: number;
  minIntervalMs?: number;
  maxChildren?: number;
  maxEvents?: number;
}

export interface Sink {
  send(event: string, data: string): void;
  close(): void;
}

interface Limits {
  leaseMs: number;
  tickMs: number;
  minIntervalMs: number;
  maxChildren: number;
}

interface State {
  args: ObserverArgs;
  limits: Limits;
  queue?: string;
  /** Askers' Server-IDs -> end of their lease (unix ms). */
  watchers: Map<string, number>;
  log: EventLog;
  rates: RateMeter;
  seq: number;
  lastSent: number;
  flushDue: boolean;
  ticking: boolean;
  /** Watching side. */
  sinks: Set<Sink>;
  views: Map<string, { json: string; at: number }>;
  /** node -> the queue of its observer (the Server-ID of its updates). */
  peers: Map<string, string>;
  pinging: boolean;
}

type Info = 'observer_flush' | 'observer_tick' | 'observer_ping';
export interface FaultRequest {
  node: string;
  kind: string;
  pid: string;
  reason?: string;
}
type Call = { type: 'subscribe'; sink: Sink } | ({ type: 'fault' } & FaultRequest);
type Cast = { type: 'unsubscribe'; sink: Sink } | { type: 'kernel_event' };

const ctxOf = (rt: Runtime) => ({ appName: 'fife_observer', appVersion: FIFE_VERSION, node: rt.node });

function watched(s: State, now = Date.now()): boolean {
  for (const [id, until] of s.watchers) if (until < now) s.watchers.delete(id);
  return s.watchers.size > 0;
}

/** Sends an update at once, or arms the flush for when the throttle allows one. */
function scheduleFlush(s: State, ctx: ProcessContext): void {
  if (s.flushDue) return;
  s.flushDue = true;
  ctx.sendAfter(Math.max(0, s.lastSent + s.limits.minIntervalMs - Date.now()), 'observer_flush');
}

async function sendUpdate(s: State, ctx: ProcessContext): Promise<void> {
  const rt = ctx.runtime;
  if (!watched(s)) {
    s.log.clear();
    return;
  }
  const tree = describeNode(rt, { root: s.args.kernelRoot });
  const { events, dropped, crashes } = s.log.take();
  s.lastSent = Date.now();
  const msg = build(
    'nodes_observe',
    {
      'Server-ID': s.queue,
      Seq: ++s.seq,
      Tree: trimTree(tree, s.limits.maxChildren),
      Events: events,
      'Dropped-Events': dropped,
      Crashes: crashes,
      Rates: s.rates.sample(tree),
      Mailboxes: mailboxes(rt, 20),
    },
    ctxOf(rt),
  );
  const body = JSON.stringify(msg);
  if (s.args.transport.state !== 'connected') return;
  for (const id of s.watchers.keys()) {
    const to = destination('nodes_observe', msg, id);
    await s.args.transport
      .publish(to.exchange, to.routingKey, body, { contentType: 'application/json' })
      .catch((err: unknown) =>
        ctx.log.warn({ err: (err as Error).message, watcher: id }, 'observer update not sent'),
      );
  }
}

async function ping(s: State, ctx: ProcessContext): Promise<void> {
  if (s.queue === undefined || s.args.transport.state !== 'connected') return;
  const msg = build(
    'nodes_observe_req',
    { 'Server-ID': s.queue, 'Lease-Ms': s.limits.leaseMs },
    ctxOf(ctx.runtime),
  );
  const to = destination('nodes_observe_req', msg);
  await s.args.transport
    .publish(to.exchange, to.routingKey, JSON.stringify(msg), { contentType: 'application/json' })
    .catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'observer request not sent'));
}

async function publishFault(
  s: State,
  f: FaultRequest,
  ctx: ProcessContext,
): Promise<'sent' | 'unknown_node'> {
  const queue = s.peers.get(f.node);
  if (queue === undefined) return 'unknown_node';
  const msg = build(
    'nodes_observe_fault',
    { Fault: f.kind, 'Target-Pid': f.pid, Reason: f.reason },
    ctxOf(ctx.runtime),
  );
  const to = destination('nodes_observe_fault', msg, queue);
  await s.args.transport.publish(to.exchange, to.routingKey, JSON.stringify(msg), {
    contentType: 'application/json',
  });
  ctx.log.info({ fault: f.kind, pid: f.pid, peer: f.node }, 'fault sent to a node');
  return 'sent';
}

function broadcast(s: State, event: string, data: string, ctx: ProcessContext): void {
  for (const sink of s.sinks) {
    try {
      sink.send(event, data);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'observer stream closed: it could not take an update');
      s.sinks.delete(sink);
      sink.close();
    }
  }
}

/** A nodes_observe as a page reads it. */
function pageUpdate(m: Envelope): string {
  return JSON.stringify({
    node: m.Node,
    at: Date.now(),
    seq: m.Seq,
    tree: m.Tree,
    events: m.Events ?? [],
    droppedEvents: Number(m['Dropped-Events'] ?? 0),
    crashes: m.Crashes ?? [],
    rates: m.Rates ?? {},
    mailboxes: m.Mailboxes ?? {},
  });
}

export const Observer: GenListenerBehaviour<State, ObserverArgs, Call, Cast> = {
  name: OBSERVER,
  init(args, ctx) {
    ctx.trapExit(true);
    const s: State = {
      args,
      limits: {
        leaseMs: args.leaseMs ?? 6000,
        tickMs: args.tickMs ?? 1000,
        minIntervalMs: args.minIntervalMs ?? 250,
        maxChildren: args.maxChildren ?? 100,
      },
      watchers: new Map(),
      log: new EventLog(args.maxEvents ?? 100, 20),
      rates: new RateMeter(),
      seq: 0,
      lastSent: 0,
      flushDue: false,
      ticking: false,
      sinks: new Set(),
      views: new Map(),
      peers: new Map(),
      pinging: false,
    };
    // Kernel events are recorded as they happen; the process hears of them once per
    // flush (a cast only when no flush is armed), not once per event.
    const rt = ctx.runtime;
    const self = ctx.self;
    let nudged = false;
    const note = (): void => {
      if (nudged || s.watchers.size === 0) return;
      nudged = true;
      queueMicrotask(() => {
        nudged = false;
        void GenServer.cast(rt, self, { type: 'kernel_event' });
      });
    };
    const onExit = (e: ExitEvent): void => {
      if (s.watchers.size === 0) return;
      s.log.exit(e);
      note();
    };
    const onSupervisor = (e: SupervisorEvent): void => {
      if (s.watchers.size === 0) return;
      s.log.supervisor(e);
      note();
    };
    const onApp = (e: AppEvent): void => {
      if (s.watchers.size === 0) return;
      s.log.app(e);
      note();
    };
    const onFault = (e: FaultEvent): void => {
      if (s.watchers.size === 0) return;
      s.log.fault(e);
      note();
    };
    rt.events.on('exit', onExit);
    rt.events.on('supervisor', onSupervisor);
    rt.events.on('app', onApp);
    rt.events.on('fault', onFault);
    ctx.signal.addEventListener('abort', () => {
      rt.events.off('exit', onExit);
      rt.events.off('supervisor', onSupervisor);
      rt.events.off('app', onApp);
      rt.events.off('fault', onFault);
      for (const sink of s.sinks) sink.close();
      s.sinks.clear();
    });
    return ok(s);
  },
  listen: () => ({ bindings: [{ exchange: 'nodes', routingKey: '' }] }),
  handleEvent(m, s, ctx) {
    if (m['Event-Category'] !== 'nodes') return s;
    if (m['Event-Name'] === 'observe_req') {
      const id = m['Server-ID'];
      const lease = Number(m['Lease-Ms']);
      if (typeof id !== 'string' || !(lease > 0)) return s;
      const fresh = !s.watchers.has(id);
      s.watchers.set(id, Date.now() + Math.min(lease, 60_000));
      if (fresh) {
        ctx.log.info({ watcher: id, peer: m.Node }, 'observed by a node');
        scheduleFlush(s, ctx);
      }
      if (!s.ticking) {
        s.ticking = true;
        ctx.sendAfter(s.limits.tickMs, 'observer_tick');
      }
    } else if (m['Event-Name'] === 'observe_fault') {
      applyFault(
        ctx.runtime,
        {
          kind: String(m.Fault),
          pid: String(m['Target-Pid']),
          reason: typeof m.Reason === 'string' ? m.Reason : undefined,
          from: typeof m.Node === 'string' ? m.Node : undefined,
        },
        ctx.log,
      );
    } else if (m['Event-Name'] === 'observe' && typeof m.Node === 'string') {
      const json = pageUpdate(m);
      s.views.set(m.Node, { json, at: Date.now() });
      if (typeof m['Server-ID'] === 'string') s.peers.set(m.Node, m['Server-ID']);
      broadcast(s, 'node', json, ctx);
    }
    return s;
  },
  async handleInfo(msg, s, ctx) {
    const m = msg as Info | { type?: string; event?: string; queue?: string };
    if (typeof m === 'object' && m?.type === 'gen_listener') {
      if (m.event === 'created_queue') s.queue = m.queue;
      return noreply(s);
    }
    if (m === 'observer_flush') {
      s.flushDue = false;
      await sendUpdate(s, ctx);
    } else if (m === 'observer_tick') {
      if (watched(s)) {
        scheduleFlush(s, ctx);
        ctx.sendAfter(s.limits.tickMs, 'observer_tick');
      } else {
        s.ticking = false;
        s.log.clear();
      }
    } else if (m === 'observer_ping') {
      if (s.sinks.size === 0) {
        s.pinging = false;
        return noreply(s);
      }
      const now = Date.now();
      for (const [node, v] of s.views)
        if (now - v.at > s.limits.leaseMs) {
          s.views.delete(node);
          s.peers.delete(node);
          broadcast(s, 'gone', JSON.stringify({ node }), ctx);
        }
      await ping(s, ctx);
      ctx.sendAfter(s.limits.leaseMs / 2, 'observer_ping');
    }
    return noreply(s);
  },
  async handleCall(req, _from, s, ctx) {
    if (req.type === 'fault') return reply(await publishFault(s, req, ctx), s);
    const sink = req.sink;
    s.sinks.add(sink);
    sink.send('hello', JSON.stringify({ node: ctx.runtime.node, faults: FAULTS }));
    for (const v of s.views.values()) sink.send('node', v.json);
    if (!s.pinging) {
      s.pinging = true;
      await ping(s, ctx);
      ctx.sendAfter(s.limits.leaseMs / 2, 'observer_ping');
    }
    return reply('ok', s);
  },
  handleCast(msg, s, ctx) {
    if (msg.type === 'unsubscribe') s.sinks.delete(msg.sink);
    else if (watched(s)) scheduleFlush(s, ctx);
    return noreply(s);
  },
  describe: (s) => ({ watchers: s.watchers.size, subscribers: s.sinks.size, nodesSeen: s.views.size }),
};

export const observerChildSpec = (args: ObserverArgs): ChildSpec =>
  GenListener.childSpec(OBSERVER, Observer, args, {
    transport: args.transport,
    name: OBSERVER,
    appName: 'fife_observer',
  });

/** Adds a page's stream; false when this node runs no observer. */
export async function subscribe(rt: Runtime, sink: Sink): Promise<boolean> {
  if (rt.whereis(OBSERVER) === undefined) return false;
  await GenServer.call(rt, OBSERVER, { type: 'subscribe', sink } satisfies Call);
  return true;
}

/** A page's fault button for a process of `node` (any node the observer hears, itself too). */
export async function sendFault(
  rt: Runtime,
  f: FaultRequest,
): Promise<'sent' | 'unknown_node' | 'no_observer'> {
  if (rt.whereis(OBSERVER) === undefined) return 'no_observer';
  return GenServer.call(rt, OBSERVER, { type: 'fault', ...f } satisfies Call);
}

export function unsubscribe(rt: Runtime, sink: Sink): void {
  if (rt.whereis(OBSERVER) !== undefined)
    void GenServer.cast(rt, OBSERVER, { type: 'unsubscribe', sink } satisfies Cast);
}
