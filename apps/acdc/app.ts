/**
 * The acdc WhApp: call-center queues and agents (Kazoo's acdc). Its tree is
 * supervisors/acdc.sup.ts; README.md beside this file describes the processes, the
 * message flow and the states. Settings: `settings.acdc` (settings.ts); without queues and
 * agents there, they come from the account database (directory.ts).
 *
 * Operations (operations.ts; `fife acdc ...`): `queues`, `agents`, `agent_action`.
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { acdcTree } from '../../supervisors/acdc.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { acdcOperations } from './operations.ts';

const app: AppDefinition<NodeServices> = {
  name: 'acdc',
  version: FIFE_VERSION,
  description: 'call-center queues and agents (Whistle/Kazoo acdc)',
  tree: (s) =>
    acdcTree({ bus: s.bus, node: s.config.node, settings: s.config.settings.acdc, store: s.store }),
  operations: acdcOperations,
};

export default app;
