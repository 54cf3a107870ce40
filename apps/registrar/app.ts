/**
 * The registrar WhApp: SIP credentials (authn_req), registrations (reg_success) and
 * queries (reg_query), on Kazoo's wire format. Its tree is supervisors/registrar.sup.ts.
 * Settings: `settings.registrar` in the node config (settings.ts).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { registrarTree } from '../../supervisors/registrar.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { addAccount, addDevice, type AccountInput, type DeviceInput } from './provisioning.ts';

const app: AppDefinition<NodeServices> = {
  name: 'registrar',
  version: FIFE_VERSION,
  description: 'SIP credentials, registrations and registration queries (Whistle/Kazoo registrar)',
  restart: 'permanent',
  tree: (services) => registrarTree(services),
  // Operator operations (`fife account add`, `fife device add`): through a running node's
  // admin endpoint, or by the CLI on the configured store when no node runs. Bad input is
  // a ProvisionError with code invalid / not_found / conflict.
  operations: {
    add_account: async (input, s) => ({ id: await addAccount(s.store, input as unknown as AccountInput) }),
    add_device: async (input, s) => ({ id: await addDevice(s.store, input as unknown as DeviceInput) }),
  },
};

export default app;
