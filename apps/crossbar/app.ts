/**
 * The crossbar WhApp: Kazoo's REST API v2 (accounts, users, devices, callflows, logins
 * with JWT tokens). Its tree is supervisors/crossbar.sup.ts; settings (`settings.crossbar`,
 * FIFE_CROSSBAR_*) in settings.ts; routes in server.ts. README.md beside this file has the
 * endpoint table.
 *
 * Operations: `base_url` ({} -> {url}, `not_started` while the server is not up) and
 * `add_user` ({account, username, password, admin?} -> {id, account_id}; `fife user add`),
 * `init_apps` ({dir, api_url?} -> {apps: [{app, result, id, images, missing?, error?}]};
 * `fife crossbar init-apps DIR`: a browser client's apps into the apps store, apps-store.ts).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { crossbarTree } from '../../supervisors/crossbar.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { crossbarUrl } from './http-server.ts';
import { addUser, OperatorError, type UserInput } from './operators.ts';
import { initApps } from './apps-store.ts';

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
    init_apps: async (input, s) => {
      if (typeof input.dir !== 'string' || input.dir === '')
        throw new OperatorError(
          'invalid',
          'init_apps needs {dir}: the folder holding <app>/metadata/app.json',
        );
      const apiUrl = typeof input.api_url === 'string' && input.api_url !== '' ? input.api_url : undefined;
      const apps = await initApps(s.store, input.dir, { apiUrl });
      for (const a of apps)
        if (a.result === 'failed')
          s.log.warn({ app: a.app, error: a.error }, 'crossbar: init_apps skipped an app');
        else s.log.info({ app: a.app, app_id: a.id, result: a.result }, 'crossbar: init_apps');
      return { apps };
    },
  },
};

export default app;
