/**
 * The node's public surface (`fife/node`): what a plugin WhApp and its tests need from the
 * node that runs it. NodeServices is what an app's `tree(env)` receives (config, runtime,
 * logger, data folder, store, bus); startNode runs a whole node in-process (a plugin's
 * integration test); loadConfig reads a config as `fife start` does; listenOwned binds an
 * HTTP server (fastify) to the process that owns it. Everything else in src/node is
 * internal.
 */
export {
  startNode,
  NodeStartError,
  NodeStartAborted,
  FIFE_VERSION,
  type NodeServices,
  type FifeNode,
  type StartNodeOptions,
} from './node.ts';
export { loadConfig, defaultConfig, nodeDir, ConfigError, type NodeConfig } from './config.ts';
export { listenOwned, type ListenOptions, type OwnedServer } from './http-listen.ts';
export { AppLoadError, loadPlugin, loadPlugins, pluginFile, type PluginFailure } from './app-loader.ts';
