/**
 * The crossbar WhApp: Kazoo's REST API v2 (accounts, users, devices, callflows, logins
 * with JWT tokens). Its tree is supervisors/crossbar.sup.ts; settings (`settings.crossbar`,
 * FIFE_CROSSBAR_*) in settings.ts; routes in server.ts. README.md beside this file has the
 * endpoint table.
 *
 * Operations: `base_url` ({} -> {url}, `not_started` while the server is not up) and
 * `add_user` ({account, username, password, admin?} -> {id, account_id}; `fife user add`).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { crossbarTree } from '../../supervisors/crossbar.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { crossbarUrl } from './http-server.ts';
import { addUser, OperatorError, type UserInput } from './operators.ts';

export { crossbarUrl } from './http-server.ts';

const app: AppDefinition<NodeServices> = {
  name: 'crossbar',
  version: FIFE_VERSION,
  description: "Kazoo's REST API v2: accounts, users, devices, callflows, token logins",
  restart: 'permanent',
  tree: (services) => crossbarTree(services),
  operations: {
    base_url: async (_input, s) => {
      const url = s.runtime === undefined ? undefined : crossbarUrl(s.runtime);
      if (url === undefined) throw new OperatorError('not_found', 'crossbar server is not running');
      return { url };
    },
    add_user: async (input, s) => addUser(s.store, input as unknown as UserInput),
  },
};

export default app;
