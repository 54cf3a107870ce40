/**
 * The registrar WhApp: SIP credentials (authn_req), registrations (reg_success) and
 * queries (reg_query), on Kazoo's wire format. Its tree is supervisors/registrar.sup.ts.
 * Settings: `settings.registrar` in the node config (settings.ts).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { registrarTree } from '../../supervisors/registrar.sup.ts';

const app: AppDefinition<NodeServices> = {
  name: 'registrar',
  version: '0.1.0',
  description: 'SIP credentials, registrations and registration queries (Whistle/Kazoo registrar)',
  restart: 'permanent',
  tree: (services) => registrarTree(services),
};

export default app;
