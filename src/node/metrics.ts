/**
 * A node's metrics (Prometheus text format, through prom-client) and its readiness.
 *
 * Contract
 * - `createNodeMetrics({runtime, bus, store, apps})` makes one registry for one node. It
 *   counts events where they already happen: the kernel's `supervisor`, `app` and `fault` events,
 *   the bus's `ready`/`lost` events, and each bus publish and store request (their
 *   methods on the node's instances are wrapped once, here: a clock read and a histogram
 *   observation per call, into label children made up front). Everything else is read at
 *   scrape time from live state (collect callbacks): processes, mailboxes, listener
 *   counters (gen_listener's exposed counters), named kernel tables (registrations,
 *   calls), cache totals, app states. No label is made per message. prom-client's default
 *   process metrics (process_*, nodejs_*, without the `node` label) follow the node's.
 * - Label values are bounded: supervisors, listeners and apps by their registered or
 *   behaviour name (code, not data), switches by name, mailboxes only for the `topMailboxes`
 *   longest (default 10) of the moment. The list with names and labels is in the README.
 * - `metrics.text()` answers the exposition (and its content type); `readiness()` answers
 *   `{ready, reasons}`: every configured app running and the bus connected.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  AppsController,
  Table,
  procStats,
  type AppStatus,
  type Runtime,
  type SupervisorEvent,
} from '../kernel/index.ts';
import type { BusTransport } from '../bus/index.ts';
import { STORE_REQUESTS, storeCacheTotals, type DocumentStore } from '../store/index.ts';

/**
 * prom-client's default metrics (process_*, nodejs_*: memory, CPU, event-loop delay, GC)
 * are the OS process's, not a node's: one registry for the process, made on first use
 * (its collectors install GC and event-loop observers once, however many nodes run).
 */
let processMetrics: Registry | undefined;
const processRegistry = (): Registry => {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
};

export interface NodeMetricsArgs {
  runtime: Runtime;
  bus: BusTransport;
  store: DocumentStore;
  /** The apps the node's config starts (readiness). */
  apps: readonly string[];
  topMailboxes?: number;
}

export interface NodeMetrics {
  text(): Promise<{ contentType: string; body: string }>;
  readiness(): Promise<{ ready: boolean; reasons: string[] }>;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const REGISTRATIONS_TABLE = 'registrar_registrations';
const CALLS_TABLE = /^ecallmgr_calls:(.*)$/;

/** Live processes as the kernel holds them (the fields metrics read). */
interface ProcView {
  name?: string;
  meta?: { behaviour: string; describe?: () => unknown };
  self: { toString(): string };
  mailboxLength: number;
}

export function createNodeMetrics(a: NodeMetricsArgs): NodeMetrics {
  const { runtime: rt, bus, store } = a;
  const top = a.topMailboxes ?? 10;
  const registry = new Registry();
  registry.setDefaultLabels({ node: rt.node });
  const registers = [registry];
  const procs = (): ProcView[] =>
    rt.processes().flatMap((pid) => {
      const p = rt.resolve(pid) as unknown as ProcView | undefined;
      return p === undefined ? [] : [p];
    });
  const nameOf = (p: ProcView): string => p.name ?? p.meta?.behaviour ?? 'unnamed';

  // ---- kernel: processes, supervisors, mailboxes ------------------------------------
  new Gauge({
    name: 'fife_processes',
    help: 'Live processes on the node',
    registers,
    collect() {
      this.set(rt.processCount);
    },
  });
  new Gauge({
    name: 'fife_supervisor_children',
    help: 'Live children per supervisor (summed over supervisors of the same name)',
    labelNames: ['supervisor'],
    registers,
    collect() {
      this.reset();
      for (const p of procs()) {
        if (p.meta?.behaviour !== 'supervisor' || p.meta.describe === undefined) continue;
        const d = p.meta.describe() as { children?: Array<{ pid?: unknown }> };
        const live = (d.children ?? []).filter((c) => c.pid !== undefined).length;
        this.inc({ supervisor: nameOf(p) }, live);
      }
    },
  });
  const restarts = new Counter({
    name: 'fife_supervisor_restarts_total',
    help: 'Children restarted, per supervisor',
    labelNames: ['supervisor'],
    registers,
  });
  const gaveUp = new Counter({
    name: 'fife_supervisor_gave_up_total',
    help: 'Supervisors that reached their restart intensity and stopped',
    labelNames: ['supervisor'],
    registers,
  });
  // The supervisor is still alive when it publishes these: its name is read from it.
  const supName = (e: SupervisorEvent): string => {
    const p = rt.resolve(e.supervisor) as unknown as ProcView | undefined;
    return e.supervisorName ?? (p === undefined ? 'unnamed' : nameOf(p));
  };
  const onSupervisor = (e: SupervisorEvent): void => {
    if (e.kind === 'child_restarted') restarts.inc({ supervisor: supName(e) });
    else if (e.kind === 'gave_up') gaveUp.inc({ supervisor: supName(e) });
  };
  rt.events.on('supervisor', onSupervisor);
  const faults = new Counter({
    name: 'fife_faults_injected_total',
    help: 'Faults injected on purpose (fife chaos, fife kill, a chaos schedule), per kind',
    labelNames: ['kind'],
    registers,
  });
  rt.events.on('fault', (e) => {
    if (e.phase === 'injected') faults.inc({ kind: e.kind });
  });
  new Gauge({
    name: 'fife_mailbox_length',
    help: `Messages queued in the ${top} longest mailboxes at scrape time`,
    labelNames: ['process', 'pid'],
    registers,
    collect() {
      this.reset();
      const longest = procs()
        .map((p) => ({ p, n: p.mailboxLength }))
        .filter((x) => x.n > 0)
        .sort((x, y) => y.n - x.n)
        .slice(0, top);
      for (const { p, n } of longest) this.set({ process: nameOf(p), pid: String(p.self) }, n);
    },
  });
  new Gauge({
    name: 'fife_mailbox_messages',
    help: 'Messages queued in every mailbox of the node',
    registers,
    collect() {
      let n = 0;
      for (const p of procs()) n += p.mailboxLength;
      this.set(n);
    },
  });

  // ---- listeners ----------------------------------------------------------------------
  const listenerCounters = (): Map<string, Record<string, number>> => {
    const by = new Map<string, Record<string, number>>();
    for (const p of procs()) {
      const c = procStats(p as never)?.counters?.();
      if (c === undefined || c.received === undefined) continue;
      const key = p.meta?.behaviour ?? nameOf(p);
      const sum = by.get(key) ?? {};
      for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
      by.set(key, sum);
    }
    return by;
  };
  new Counter({
    name: 'fife_listener_messages_total',
    help: 'Bus deliveries per listener by outcome (handled, unhandled, invalid, dropped: backlog full)',
    labelNames: ['listener', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [listener, c] of listenerCounters()) {
        this.inc({ listener, outcome: 'handled' }, c.handled ?? 0);
        this.inc({ listener, outcome: 'unhandled' }, c.unhandled ?? 0);
        this.inc({ listener, outcome: 'invalid' }, c.invalid ?? 0);
        this.inc({ listener, outcome: 'dropped' }, c.backlogDropped ?? 0);
      }
    },
  });
  new Counter({
    name: 'fife_listener_errors_total',
    help: 'Responders that threw or rejected, per listener',
    labelNames: ['listener'],
    registers,
    collect() {
      this.reset();
      for (const [listener, c] of listenerCounters()) this.inc({ listener }, c.handlerErrors ?? 0);
    },
  });

  // ---- bus ----------------------------------------------------------------------------
  new Gauge({
    name: 'fife_bus_connected',
    help: '1 while the bus connection is up',
    registers,
    collect() {
      this.set(bus.state === 'connected' ? 1 : 0);
    },
  });
  const reconnects = new Counter({
    name: 'fife_bus_reconnects_total',
    help: 'Bus connections recovered (topology restored) after a loss',
    registers,
  });
  const lost = new Counter({
    name: 'fife_bus_connection_lost_total',
    help: 'Bus connections lost',
    registers,
  });
  bus.on('ready', (e) => {
    if (e.recovered) reconnects.inc();
  });
  bus.on('lost', () => lost.inc());
  instrumentBus(bus, registry);

  // ---- store --------------------------------------------------------------------------
  instrumentStore(store, registry);

  // ---- caches, registrations, calls ------------------------------------------------------
  new Counter({
    name: 'fife_cache_hits_total',
    help: 'StoreCache hits (every cache of the OS process)',
    registers,
    collect() {
      this.reset();
      this.inc(storeCacheTotals().hits);
    },
  });
  new Counter({
    name: 'fife_cache_misses_total',
    help: 'StoreCache misses (every cache of the OS process)',
    registers,
    collect() {
      this.reset();
      this.inc(storeCacheTotals().misses);
    },
  });
  new Gauge({
    name: 'fife_cache_hit_ratio',
    help: 'StoreCache hits / (hits + misses) since the process started (0 before any lookup)',
    registers,
    collect() {
      const { hits, misses } = storeCacheTotals();
      this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
    },
  });
  new Gauge({
    name: 'fife_registrations',
    help: "Live registrations in the registrar's table",
    registers,
    collect() {
      this.set(Table.all(rt).find((t) => t.name === REGISTRATIONS_TABLE)?.size ?? 0);
    },
  });
  new Gauge({
    name: 'fife_calls_in_progress',
    help: 'Calls ecallmgr knows on each switch it connects (its calls table)',
    labelNames: ['switch'],
    registers,
    collect() {
      this.reset();
      for (const t of Table.all(rt)) {
        const sw = CALLS_TABLE.exec(t.name ?? '')?.[1];
        if (sw !== undefined) this.set({ switch: sw }, t.size);
      }
    },
  });

  // ---- apps ---------------------------------------------------------------------------
  // The apps controller may be restarting: no app series then, rather than a failed scrape.
  const appStatus = async (): Promise<AppStatus[]> => {
    try {
      return await AppsController.appsStatus(rt);
    } catch {
      return [];
    }
  };
  new Gauge({
    name: 'fife_app_state',
    help: '1 for the state each known app is in (running, stopped, failed), 0 for the others',
    labelNames: ['app', 'state'],
    registers,
    async collect() {
      this.reset();
      for (const s of await appStatus())
        for (const state of ['running', 'stopped', 'failed'] as const)
          this.set({ app: s.name, state }, s.state === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'fife_app_restarts_total',
    help: 'Whole-app restarts by the apps controller (its tree gave up)',
    labelNames: ['app'],
    registers,
    async collect() {
      this.reset();
      for (const s of await appStatus()) this.inc({ app: s.name }, s.restarts);
    },
  });

  return {
    async text() {
      const own = await registry.metrics();
      return { contentType: registry.contentType, body: `${own}\n${await processRegistry().metrics()}` };
    },
    async readiness() {
      const reasons: string[] = [];
      if (bus.state !== 'connected') reasons.push(`bus ${bus.state}`);
      const status = new Map((await appStatus()).map((s) => [s.name, s.state]));
      for (const name of a.apps)
        if (status.get(name) !== 'running') reasons.push(`app ${name} ${status.get(name) ?? 'unknown'}`);
      return { ready: reasons.length === 0, reasons };
    },
  };
}

/** Wraps `target[method]` (a promise-returning method) on the instance: `done` gets the elapsed ms and the error. */
function timed<T extends object>(
  target: T,
  method: keyof T & string,
  done: (ms: number, err: unknown) => void,
): void {
  const orig = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  (target as Record<string, unknown>)[method] = (...args: unknown[]): Promise<unknown> => {
    const t0 = performance.now();
    return orig(...args).then(
      (v) => {
        done(performance.now() - t0, undefined);
        return v;
      },
      (err: unknown) => {
        done(performance.now() - t0, err);
        throw err;
      },
    );
  };
}

/** Times every publish of `bus` into `fife_bus_publish_seconds` (also used by bench/bus). */
export function instrumentBus(bus: BusTransport, registry: Registry): void {
  const publishSeconds = new Histogram({
    name: 'fife_bus_publish_seconds',
    help: 'Time for a publish to be handed to the connection (confirmed: acknowledged by the broker)',
    labelNames: ['kind', 'result'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  for (const kind of ['publish', 'publishConfirmed'] as const) {
    const ok = publishSeconds.labels({ kind, result: 'ok' });
    const failed = publishSeconds.labels({ kind, result: 'error' });
    timed(bus, kind, (ms, err) => (err === undefined ? ok : failed).observe(ms / 1000));
  }
}

/** Times every store request into `fife_store_request_seconds`, failures into `fife_store_errors_total`. */
export function instrumentStore(store: DocumentStore, registry: Registry): void {
  const storeSeconds = new Histogram({
    name: 'fife_store_request_seconds',
    help: 'Store request latency per operation (answered, or failed with any error)',
    labelNames: ['op'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: 'fife_store_errors_total',
    help: 'Store requests that failed, per operation and StoreError code (not_found included)',
    labelNames: ['op', 'code'],
    registers: [registry],
  });
  for (const op of STORE_REQUESTS) {
    if (typeof store[op] !== 'function') continue;
    const seconds = storeSeconds.labels({ op });
    timed(store, op, (ms, err) => {
      seconds.observe(ms / 1000);
      if (err === undefined) return;
      const code = (err as { code?: unknown }).code;
      storeErrors.inc({ op, code: typeof code === 'string' && code.length < 32 ? code : 'other' });
    });
  }
}
