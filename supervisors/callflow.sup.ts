/**
 * callflow_sup: the callflow WhApp's tree (Kazoo's callflow_sup).
 *
 *   callflow_sup (rest_for_one, 5 restarts in 30 s)
 *   ├── callflow_cache      gen_listener (doc-change notices): StoreCache + change feeds of the account databases
 *   ├── callflow_exe_sup    simple_one_for_one: one temporary callflow_exe:<call-id> per call
 *   ├── callflow_route      gen_listener: route_req -> route_resp (park); route_win -> executor
 *   └── callflow_vm_store   gen_listener: voicemail messages (MODB documents, uploads by switch_command)
 *
 * The router is last so that a call is only taken once there is somewhere to run it.
 */
import { Supervisor, type SupervisorSpec } from '../src/kernel/index.ts';
import type { BusTransport } from '../src/bus/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import { cfCacheChildSpec } from '../apps/callflow/cache.ts';
import { exeTemplate } from '../apps/callflow/exe.ts';
import { CF_EXE_SUP, routeChildSpec } from '../apps/callflow/route.ts';
import { vmStoreChildSpec } from '../apps/callflow/voicemail-store.ts';
import { FIFE_VERSION } from '../src/version.ts';

export const CALLFLOW_SUP = 'callflow_sup';

export interface CallflowServices {
  store: DocumentStore;
  bus: BusTransport;
  node: string;
  settings?: { routeWinTimeoutMs?: number; callCheckMs?: number };
}

export function callflowTree(s: CallflowServices): SupervisorSpec {
  const ctx = { appName: 'callflow', appVersion: FIFE_VERSION, node: s.node };
  return {
    flags: { strategy: 'rest_for_one', intensity: 5, period: 30 },
    children: [
      cfCacheChildSpec({ store: s.store }, s.bus),
      Supervisor.childSpec(
        'callflow_exe_sup',
        {
          flags: { strategy: 'simple_one_for_one', intensity: 100, period: 1 },
          children: [exeTemplate(s.bus, s.settings?.callCheckMs)],
        },
        { name: CF_EXE_SUP },
      ),
      routeChildSpec({ bus: s.bus, ctx, routeWinTimeoutMs: s.settings?.routeWinTimeoutMs ?? 3000 }),
      vmStoreChildSpec({ store: s.store, bus: s.bus, ctx }),
    ],
  };
}
