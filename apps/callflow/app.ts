/**
 * The callflow WhApp: routes calls by the account's callflow documents and runs them
 * (Kazoo's callflow app). Its tree is supervisors/callflow.sup.ts; README.md beside this
 * file lists the modules. Settings: `settings.callflow.routeWinTimeoutMs` (default 3000).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { callflowTree } from '../../supervisors/callflow.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';

function routeWinTimeoutMs(settings: Record<string, unknown> | undefined): number | undefined {
  const v = settings?.routeWinTimeoutMs;
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0))
    throw new Error(`settings.callflow.routeWinTimeoutMs must be a number > 0, got ${JSON.stringify(v)}`);
  return v;
}

const app: AppDefinition<NodeServices> = {
  name: 'callflow',
  version: FIFE_VERSION,
  description: 'routes calls by callflow documents and runs them (Kazoo callflow)',
  tree: (s) =>
    callflowTree({
      store: s.store,
      bus: s.bus,
      node: s.config.node,
      settings: { routeWinTimeoutMs: routeWinTimeoutMs(s.config.settings.callflow) },
    }),
};

export default app;
