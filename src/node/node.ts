/**
 * One Fife node: boots the kernel, then the apps its config lists; stops in reverse.
 *
 * Start order: runtime and root logger; every app definition loaded (built-ins and
 * plugins; a load error fails the start before anything runs); the kernel tree
 * `kernel_sup` (one_for_one) with `apps_controller` and `admin`; then each configured
 * app in list order (its deps first). An app that fails to start fails `startNode` with
 * the reason, after stopping what was started: a node never runs half-configured
 * without saying so.
 *
 * `node.stop()` (and SIGTERM / SIGINT under `fife start`) stops kernel_sup with
 * `shutdown`: the apps controller stops apps in reverse start order, each tree draining
 * within its shutdown budgets, then the admin endpoint closes and the runtime ends.
 *
 * Services given to apps (their `tree(env)` receives them): NodeServices below. The
 * store and the bus (with Kazoo's exchanges declared) are opened before the kernel tree
 * starts and closed after it has stopped; a bus that cannot start fails the node start.
 */
import { FIFE_VERSION } from '../version.ts';
import { Runtime, Supervisor, AppsController, createRootLogger, formatReason, type AppDefinition, type Logger, type Pid } from '../kernel/index.ts';
import { loadConfig, nodeDir, type NodeConfig } from './config.ts';
import { loadApps } from './app-loader.ts';
import { adminUrl } from './admin.ts';
import { kernelTree, KERNEL_SUP } from '../../supervisors/kernel.sup.ts';
import type { DestinationStream } from 'pino';
import { openStore, type DocumentStore } from '../store/index.ts';
import { createTransport, type BusTransport } from '../bus/index.ts';
import { busExchangeSpecs } from '../api/bus-adapters.ts';

export interface NodeServices {
  config: NodeConfig;
  runtime: Runtime;
  log: Logger;
  /** This node's data folder. */
  dataDir: string;
  /** The document store the config names (embedded by default). */
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
  stop(): Promise<void>;
}

export { KERNEL_SUP };

export { FIFE_VERSION };

export class NodeStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeStartError';
  }
}

export async function startNode(opts: { config?: NodeConfig; logDestination?: DestinationStream; extraApps?: AppDefinition<NodeServices>[] } = {}): Promise<FifeNode> {
  const config = opts.config ?? loadConfig();
  const log = createRootLogger({ node: config.node, level: config.logLevel, destination: opts.logDestination });
  const runtime = new Runtime({ node: config.node, logger: log });
  const apps = [...(await loadApps(config.plugins)), ...(opts.extraApps ?? [])] as AppDefinition<NodeServices>[];
  const store = openStore(config.store, { dataDir: nodeDir(config), logger: log.child({ layer: 'store' }) });
  const bus = createTransport({ url: config.bus, logger: log.child({ layer: 'bus' }), connectionName: config.node });
  try {
    await bus.start();
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  } catch (err) {
    await bus.close();
    await store.close();
    await runtime.shutdown();
    throw new NodeStartError(`bus ${config.bus === 'embedded' ? 'embedded' : 'AMQP'} failed to start: ${(err as Error).message}`);
  }
  const services: NodeServices = { config, runtime, log, dataDir: nodeDir(config), store, bus };
  const startedAt = Date.now();

  const kernel = await Supervisor.start(
    runtime,
    kernelTree({
      services,
      apps,
      admin: { host: config.admin.host, port: config.admin.port, nodeDir: nodeDir(config), kernelRoot: KERNEL_SUP, startedAt },
      nodes: { transport: bus, heartbeatMs: config.heartbeatMs, version: FIFE_VERSION, startedAt },
    }),
    { name: KERNEL_SUP },
  );
  if (kernel.type !== 'ok') {
    await runtime.shutdown();
    await bus.close();
    await store.close();
    throw new NodeStartError(`kernel failed to start: ${formatReason(kernel.type === 'error' ? kernel.reason : 'ignore')}`);
  }
  const kernelPid: Pid = kernel.pid;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      log.info('node stopping');
      const exited = runtime.awaitExit(kernelPid);
      runtime.exit(kernelPid, 'shutdown');
      await exited;
      await runtime.shutdown();
      await bus.close();
      await store.close();
      log.info('node stopped');
    })());

  for (const name of config.apps) {
    const r = await AppsController.startApp(runtime, name);
    if (r.type === 'error') {
      await stop();
      throw new NodeStartError(`app '${name}' failed to start: ${formatReason(r.reason)}`);
    }
  }
  log.info({ apps: await AppsController.runningApps(runtime), admin: adminUrl(runtime), bus: config.bus === 'embedded' ? 'embedded' : 'amqp', store: /^https?:/.test(config.store) ? 'couchdb' : 'embedded' }, 'node started');
  return { config, runtime, log, adminUrl: adminUrl(runtime), apps, stop };
}
