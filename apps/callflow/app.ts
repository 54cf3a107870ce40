/**
 * The callflow WhApp: routes calls by the account's callflow documents and runs them
 * (Kazoo's callflow app). Its tree is supervisors/callflow.sup.ts; README.md beside this
 * file lists the modules. Settings: `settings.callflow.routeWinTimeoutMs` (default 3000),
 * `settings.callflow.callCheckMs` (how often an executor asks whether its call is up,
 * default 30000; exe.ts).
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { callflowTree } from '../../supervisors/callflow.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';

function positiveMs(settings: Record<string, unknown> | undefined, key: string): number | undefined {
  const v = settings?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0))
    throw new Error(`settings.callflow.${key} must be a number > 0, got ${JSON.stringify(v)}`);
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
      settings: {
        routeWinTimeoutMs: positiveMs(s.config.settings.callflow, 'routeWinTimeoutMs'),
        callCheckMs: positiveMs(s.config.settings.callflow, 'callCheckMs'),
      },
    }),
};

export default app;
