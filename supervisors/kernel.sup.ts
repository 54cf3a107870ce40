/**
 * kernel_sup: the root of every node.
 *
 *   kernel_sup (one_for_one, 3 restarts in 10 s)
 *   ├── apps_controller   starts/stops WhApps; each app's own tree hangs off it
 *   ├── admin             HTTP admin endpoint, loopback by default (fife tree / apps / kill / nodes)
 *   ├── nodes             heartbeat on the bus and the cluster view (gen_listener)
 *   ├── chaos             runs a fault-injection schedule (fife chaos --every ...)
 *   └── observer          the observer page's cluster-wide trees and events (gen_listener)
 *
 * App trees are declared in supervisors/<app>.sup.ts and started by the apps controller.
 */
import {
  AppsController,
  type AppDefinition,
  type AppType,
  type SupervisorSpec,
} from '../src/kernel/index.ts';
import { adminChildSpec, type AdminArgs } from '../src/node/admin.ts';
import { nodesChildSpec, type NodesArgs } from '../src/node/nodes.ts';
import { chaosChildSpec, type ChaosDepsArgs } from '../src/node/chaos-scheduler.ts';
import { observerChildSpec } from '../src/node/observer/observer.ts';

export const KERNEL_SUP = 'kernel_sup';

export function kernelTree(args: {
  services: unknown;
  apps: AppDefinition<any>[];
  /** Application type per app (the config's appTypes). */
  appTypes?: Readonly<Record<string, AppType>>;
  admin: AdminArgs;
  nodes: NodesArgs;
  chaos: ChaosDepsArgs;
}): SupervisorSpec {
  return {
    flags: { strategy: 'one_for_one', intensity: 3, period: 10 },
    children: [
      AppsController.childSpec({ env: args.services, apps: args.apps, types: args.appTypes }),
      adminChildSpec(args.admin),
      nodesChildSpec(args.nodes),
      chaosChildSpec(args.chaos),
      observerChildSpec({ transport: args.nodes.transport, kernelRoot: KERNEL_SUP }),
    ],
  };
}
