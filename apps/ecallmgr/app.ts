/**
 * The ecallmgr WhApp: the bridge between switches (FreeSWITCH's event socket, or the
 * simulator) and the bus. Its tree is supervisors/ecallmgr.sup.ts; what it binds to and
 * publishes is in README.md beside this file.
 *
 * Settings: `config.settings.ecallmgr` (`switches: [{host, port?, password?, name?}]`,
 * timings), or FIFE_ECALLMGR_SWITCHES=`[password@]host:port,...` for scripted runs
 * (config.ts). A malformed setting fails the app's start with a message naming the key.
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { ecallmgrTree } from '../../supervisors/ecallmgr.sup.ts';
import { ecallmgrSettings } from './config.ts';
import { APP_NAME, APP_VERSION } from './context.ts';

const app: AppDefinition<NodeServices> = {
  name: APP_NAME,
  version: APP_VERSION,
  description: 'switch <-> bus: node connections, routing, call control and call events',
  tree: (services) =>
    ecallmgrTree({
      bus: services.bus,
      node: services.config.node,
      settings: ecallmgrSettings(services.config.settings[APP_NAME]),
    }),
};

export default app;
