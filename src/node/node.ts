/**
 * One Fife node: boots the kernel, then the apps its config lists; stops in reverse.
 *
 * Start order, each step undone in reverse by `stop()` or by a failed or aborted start:
 *   1. the node lock `<nodeDir>/node.lock` (node-lock.ts): a second node on the same node
 *      folder is refused here, before anything opens (NodeLockedError);
 *   2. every app definition loaded: the built-ins (a load error fails the start), then the
 *      plugins. A plugin that cannot be loaded is logged at error level with its name and
 *      reason and listed as a failed app (whether `apps` lists it or not); the node goes on
 *      without it;
 *   3. the store, then the bus (Kazoo's exchanges declared); a bus that cannot start
 *      fails the start;
 *   4. the runtime, the store's fault switch (store-faults.ts, for `fife chaos`), the
 *      node's metrics (metrics.ts: they time the bus's publishes and the store's requests
 *      on these instances), and the kernel tree `kernel_sup` (one_for_one) with
 *      `apps_controller`, `admin`, `nodes` and `chaos`;
 *   5. each configured app in list order (its deps first); when the list is the platform's
 *      default without ecallmgr (config.ts), one info line says no switch is configured.
 *      A built-in app that fails to start fails `startNode` with the reason: a node never
 *      runs half-configured without its own parts. A plugin app that fails (its tree or one
 *      of its processes throws while starting, or the plugin did not load) is logged with
 *      its name and reason and left failed (`fife apps`, `/ready` say so): third-party code
 *      never takes the node down.
 * A failed start throws NodeStartError (NodeLockedError for the lock) after undoing what
 * it had done.
 *
 * Abort: `startNode({signal})` checks the AbortSignal between steps and stops a bus that
 * is still connecting; once aborted it undoes what has started (apps in reverse, kernel,
 * bus, store, lock) and throws NodeStartAborted. An app start in progress is waited for
 * (bounded by the app's own start), then stopped with the rest.
 *
 * `node.stop()` stops kernel_sup with `shutdown`: the apps controller stops apps in
 * reverse start order, each tree draining within its shutdown budgets, then the admin
 * endpoint closes; then the runtime, bus and store close and the lock is released. Every
 * undo step runs even when one before it failed (each failure logged). Idempotent.
 *
 * `node.halted` resolves with the reason when kernel_sup ends without `stop()` (killed,
 * restart intensity exceeded): the node has no apps and no admin endpoint any more, and
 * its owner must stop it (`fife start` logs it and exits 4, as an OTP node halts when its
 * kernel application dies). It also resolves, with `app` and `type`, when an app whose
 * application type says so (config `appTypes`: permanent, or transient ended abnormally)
 * ended for good (the apps controller's `halts_node` event): its owner stops the node
 * (`fife start` exits 5). It never resolves for a node that is stopped.
 *
 * Services given to apps (their `tree(env)` receives them): NodeServices below.
 */
import { FIFE_VERSION } from '../version.ts';
import {
  Runtime,
  Supervisor,
  AppsController,
  createRootLogger,
  formatReason,
  type AppDefinition,
  type AppEvent,
  type AppType,
  type ExitReason,
  type Logger,
  type Pid,
} from '../kernel/index.ts';
import { loadConfig, nodeDir, type NodeConfig } from './config.ts';
import { builtinApps, failedPluginApp, loadBuiltinApp, loadPlugins } from './app-loader.ts';
import { adminUrl, ADMIN_FILE } from './admin.ts';
import { createNodeMetrics } from './metrics.ts';
import { publishingStore } from './publishing-store.ts';
import { acquireNodeLock, removeOwnFile } from './node-lock.ts';
import { kernelTree, KERNEL_SUP } from '../../supervisors/kernel.sup.ts';
import type { DestinationStream } from 'pino';
import { join } from 'node:path';
import { installStoreFaults, openStore, type DocumentStore } from '../store/index.ts';
import { createTransport, type BusTransport } from '../bus/index.ts';
import { busExchangeSpecs } from '../api/bus-adapters.ts';

export interface NodeServices {
  config: NodeConfig;
  runtime: Runtime;
  log: Logger;
  /** This node's data folder. */
  dataDir: string;
  /** The document store the config names (embedded by default); every write is announced on the bus (doc_created / doc_edited / doc_deleted). */
  store: DocumentStore;
  /** The bus transport the config names (embedded by default), Kazoo's exchanges declared. */
  bus: BusTransport;
}

export interface FifeNode {
  config: NodeConfig;
  runtime: Runtime;
  log: Logger;
  adminUrl: string | undefined;
  apps: AppDefinition<NodeServices>[];
  /** Resolves when the kernel root ends without stop(), or an app's type stops the node (`app`); see the contract above. */
  halted: Promise<{ reason: ExitReason; app?: string; type?: AppType }>;
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  config?: NodeConfig;
  /** The node's root logger; default one made from the config (stdout, or logDestination). */
  log?: Logger;
  logDestination?: DestinationStream;
  extraApps?: AppDefinition<NodeServices>[];
  /** Aborting it stops the start and undoes what had started (NodeStartAborted). */
  signal?: AbortSignal;
}

export { KERNEL_SUP };

export { FIFE_VERSION };

export class NodeStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeStartError';
  }
}

export class NodeStartAborted extends NodeStartError {
  constructor(step: string) {
    super(`start aborted (${step}); what had started is stopped`);
    this.name = 'NodeStartAborted';
  }
}

export async function startNode(opts: StartNodeOptions = {}): Promise<FifeNode> {
  const config = opts.config ?? loadConfig();
  const log =
    opts.log ??
    createRootLogger({ node: config.node, level: config.logLevel, destination: opts.logDestination });
  const signal = opts.signal;
  const dir = nodeDir(config);
  const undo: Array<{ what: string; run: () => unknown }> = [];
  let unwinding: Promise<void> | undefined;
  const unwind = (): Promise<void> =>
    (unwinding ??= (async () => {
      for (const u of undo.splice(0).reverse()) {
        try {
          await u.run();
        } catch (err) {
          log.error(
            { step: u.what, err: (err as Error).message },
            'stop step failed (carrying on with the rest)',
          );
        }
      }
    })());
  let step = 'lock';
  const checkpoint = (next: string): void => {
    if (signal?.aborted) throw new NodeStartAborted(`before ${next}`);
    step = next;
  };

  try {
    checkpoint('lock');
    const lock = acquireNodeLock(dir, config.node, log);
    undo.push({ what: 'lock', run: () => lock.release() });

    checkpoint('apps load');
    const builtins = await Promise.all(builtinApps().map(loadBuiltinApp));
    const plugins = await loadPlugins(
      config.plugins,
      builtins.map((d) => d.name),
      config.pluginsFrom,
    );
    const pluginNames = new Set(plugins.apps.map((d) => d.name));
    const placeholders: typeof plugins.failed = [];
    for (const f of plugins.failed) {
      log.error(
        { app: f.name, plugin: f.plugin, reason: f.reason },
        'plugin failed to load: listed as failed, the node goes on without it',
      );
      if (builtins.some((d) => d.name === f.name) || pluginNames.has(f.name)) continue;
      pluginNames.add(f.name);
      placeholders.push(f);
      plugins.apps.push(failedPluginApp(f));
    }
    const apps = [...builtins, ...plugins.apps, ...(opts.extraApps ?? [])] as AppDefinition<NodeServices>[];

    checkpoint('store');
    const store = openStore(config.store, { dataDir: dir, logger: log.child({ layer: 'store' }) });
    undo.push({ what: 'store', run: () => store.close() });

    checkpoint('bus');
    const bus = createTransport({
      url: config.bus,
      logger: log.child({ layer: 'bus' }),
      connectionName: config.node,
    });
    undo.push({ what: 'bus', run: () => bus.close() });
    // On abort the bus is closed and the start goes on unwinding at once, without waiting
    // for a connect or a declaration in flight to settle.
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        void bus.close();
        reject(new NodeStartAborted('while the bus was connecting'));
      };
    });
    aborted.catch(() => undefined);
    signal?.addEventListener('abort', onAbort);
    try {
      await Promise.race([
        (async () => {
          await bus.start();
          await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
        })(),
        aborted,
      ]);
    } catch (err) {
      if (signal?.aborted) throw new NodeStartAborted('while the bus was connecting');
      throw new NodeStartError(
        `bus ${config.bus === 'embedded' ? 'embedded' : 'AMQP'} failed to start: ${(err as Error).message}`,
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }

    checkpoint('kernel');
    const runtime = new Runtime({ node: config.node, logger: log });
    undo.push({ what: 'runtime', run: () => runtime.shutdown() });
    // A node only removes its own admin.json (admin's terminate does; this covers an admin that was killed).
    undo.push({ what: 'admin.json', run: () => removeOwnFile(join(dir, ADMIN_FILE)) });
    // The store's fault switch (fife chaos --store-down) goes under the metrics' timing.
    const storeFaults = installStoreFaults(store);
    // Before any app holds the bus or store: metrics time their calls on these instances.
    const metrics = createNodeMetrics({ runtime, bus, store, apps: config.apps });
    // Apps write through a store that announces each write on the bus (publishing-store.ts).
    const appStore = publishingStore(
      store,
      bus,
      { appName: 'fife_store', appVersion: FIFE_VERSION, node: config.node },
      log.child({ layer: 'store' }),
    );
    const services: NodeServices = { config, runtime, log, dataDir: dir, store: appStore, bus };
    const startedAt = Date.now();
    let onAppHalt: (e: AppEvent) => void = () => undefined;
    const appHalted = new Promise<{ reason: ExitReason; app: string; type?: AppType }>((resolve) => {
      onAppHalt = (e) => {
        if (e.kind === 'halts_node') resolve({ reason: e.reason, app: e.app, type: e.type });
      };
    });
    runtime.events.on('app', onAppHalt);
    undo.push({ what: 'app halt watch', run: () => runtime.events.off('app', onAppHalt) });
    const kernel = await Supervisor.start(
      runtime,
      kernelTree({
        services,
        apps,
        appTypes: config.appTypes,
        admin: {
          host: config.admin.host,
          port: config.admin.port,
          token: config.admin.token,
          nodeDir: dir,
          kernelRoot: KERNEL_SUP,
          startedAt,
          metrics,
          chaos: { bus, storeFaults, kernelRoot: KERNEL_SUP },
          pluginsFrom: config.pluginsFrom,
        },
        nodes: {
          transport: bus,
          heartbeatMs: config.heartbeatMs,
          version: FIFE_VERSION,
          startedAt,
          zone: config.zone,
        },
        chaos: { bus, storeFaults, kernelRoot: KERNEL_SUP },
      }),
      { name: KERNEL_SUP },
    );
    if (kernel.type !== 'ok')
      throw new NodeStartError(
        `kernel failed to start: ${formatReason(kernel.type === 'error' ? kernel.reason : 'ignore')}`,
      );
    const kernelPid: Pid = kernel.pid;
    let stopping = false;
    undo.push({
      what: 'kernel',
      run: async () => {
        stopping = true;
        const exited = runtime.awaitExit(kernelPid);
        runtime.exit(kernelPid, 'shutdown');
        await exited;
      },
    });
    const never = new Promise<never>(() => undefined);
    const halted = Promise.race([
      runtime.awaitExit(kernelPid).then((reason) => ({ reason })),
      appHalted,
    ]).then((h) => (stopping ? never : h));

    if (config.appsFromDefaults === true && !config.apps.includes('ecallmgr'))
      log.info(
        'no switch configured: ecallmgr not started (settings.ecallmgr.switches or FIFE_ECALLMGR_SWITCHES=host:port adds it)',
      );
    for (const name of config.apps) {
      checkpoint(`app ${name}`);
      const r = await AppsController.startApp(runtime, name);
      if (r.type === 'ok') continue;
      const unknown = typeof r.reason === 'object' && r.reason !== null && 'unknown_app' in r.reason;
      if (pluginNames.has(name) || (unknown && plugins.failed.length > 0)) {
        log.error(
          {
            app: name,
            reason: formatReason(r.reason),
            ...(unknown ? { failedPlugins: plugins.failed.map((f) => f.plugin) } : {}),
          },
          unknown
            ? 'app is unknown, maybe the app of a plugin that failed to load: the node goes on without it'
            : 'plugin app failed to start: left failed, the node goes on without it',
        );
        continue;
      }
      throw new NodeStartError(`app '${name}' failed to start: ${formatReason(r.reason)}`);
    }
    // A broken plugin that `apps` does not list is still shown failed, with its load error.
    for (const f of placeholders)
      if (!config.apps.includes(f.name)) await AppsController.startApp(runtime, f.name);
    checkpoint('done');

    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        log.info('node stopping');
        await unwind();
        log.info('node stopped');
      })());
    log.info(
      {
        apps: await AppsController.runningApps(runtime),
        admin: adminUrl(runtime),
        bus: config.bus === 'embedded' ? 'embedded' : 'amqp',
        store: /^https?:/.test(config.store) ? 'couchdb' : 'embedded',
      },
      'node started',
    );
    return { config, runtime, log, adminUrl: adminUrl(runtime), apps, halted, stop };
  } catch (err) {
    const aborted = err instanceof NodeStartAborted;
    const what = undo.length > 0 ? ': stopping what had started' : '';
    if (aborted) log.info({ step }, `start aborted${what}`);
    else log.error({ step, err: (err as Error).message }, `start failed${what}`);
    await unwind();
    if (aborted) log.info('start aborted: stopped');
    throw err;
  }
}
