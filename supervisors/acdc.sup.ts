/**
 * acdc_sup: the acdc WhApp's tree (Kazoo's acdc_sup, acdc_agents_sup, acdc_queues_sup).
 *
 *   acdc_sup (one_for_one, 5 restarts in 30 s; rest_for_one with acdc_directory)
 *   ├── acdc_originator                    gen_listener: rings agents by originate_req (apps/acdc/originator.ts)
 *   ├── acdc_agents_sup (one_for_one)
 *   │   └── acdc_agent:<agent-id>          gen_listener: the agent's state machine (apps/acdc/agent.ts)
 *   ├── acdc_queues_sup (one_for_one)
 *   │   └── acdc_queue_sup:<queue-id> (rest_for_one)
 *   │       ├── acdc_queue_manager:<queue-id>   gen_listener: agents seen, strategy state
 *   │       └── acdc_workers_sup:<queue-id> (one_for_one)
 *   │           └── acdc_worker_sup:<queue-id>:<n> (one_for_all)
 *   │               ├── acdc_queue_fsm:<queue-id>:<n>     gen_listener: offers its one caller
 *   │               └── acdc_queue_shared:<queue-id>:<n>  gen_listener: the durable shared queue, prefetch 1
 *   └── acdc_directory                     (from the store) queue and agent documents -> the children above
 *
 * A worker's two processes live and die together: a caller is acked only by the fsm, so
 * when either dies the consumer goes and the broker hands the caller to another worker.
 */
import { Supervisor, type ChildSpec, type SupervisorSpec } from '../src/kernel/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import { AGENTS_SUP, QUEUES_SUP, directoryChildSpec, type AgentEntry } from '../apps/acdc/directory.ts';
import type { BusTransport } from '../src/bus/index.ts';
import { agentChildSpec } from '../apps/acdc/agent.ts';
import { noDevice, type AgentDevice } from '../apps/acdc/device.ts';
import { originateDevice, originatorChildSpec } from '../apps/acdc/originator.ts';
import { managerChildSpec } from '../apps/acdc/manager.ts';
import type { AcdcEnv } from '../apps/acdc/send.ts';
import { acdcSettings, type QueueSettings } from '../apps/acdc/settings.ts';
import { workerChildSpecs } from '../apps/acdc/worker.ts';
import { sharedQueueGuard } from '../apps/acdc/shared-queue-guard.ts';
import { FIFE_VERSION } from '../src/version.ts';

export const ACDC_SUP = 'acdc_sup';

export interface AcdcServices {
  bus: BusTransport;
  node: string;
  /** settings.acdc (apps/acdc/settings.ts). */
  settings: unknown;
  /** How each agent is rung (apps/acdc/device.ts); default: originate to its endpoints. */
  device?: (agentId: string) => AgentDevice;
  /**
   * The store: with settings that list no queues and no agents, they come from the account
   * database (apps/acdc/directory.ts), started and stopped as their documents change.
   */
  store?: DocumentStore;
}

const sup = (id: string, flags: SupervisorSpec['flags'], children: SupervisorSpec['children']) =>
  Supervisor.childSpec(id, { flags, children }, { name: id });

export function acdcTree(s: AcdcServices): SupervisorSpec {
  const settings = acdcSettings(s.settings);
  const env: AcdcEnv = {
    bus: s.bus,
    ctx: { appName: 'acdc', appVersion: FIFE_VERSION, node: s.node },
    accountId: settings.accountId,
  };
  const device = (a: AgentEntry) =>
    s.device?.(a.id) ?? (a.endpoints.length > 0 ? originateDevice(a.id, a.endpoints) : noDevice);
  const agentSpec = (a: AgentEntry) =>
    agentChildSpec({
      env,
      agentId: a.id,
      queues: a.queues,
      device: device(a),
      maxMisses: settings.maxMisses,
      missAction: settings.missAction,
    });
  const fromStore = s.store !== undefined && settings.queues.length === 0 && settings.agents.length === 0;
  const directory =
    s.store !== undefined && fromStore
      ? [
          directoryChildSpec({
            store: s.store,
            accountId: settings.accountId,
            queueSpec: (q) => queueSupSpec(env, q),
            agentSpec,
          }),
        ]
      : [];
  return {
    // From the store: a restarted agents or queues supervisor comes back empty, so the
    // directory after it restarts too and starts their children again.
    flags: { strategy: fromStore ? 'rest_for_one' : 'one_for_one', intensity: 5, period: 30 },
    children: [
      originatorChildSpec({ env }),
      sup(AGENTS_SUP, { strategy: 'one_for_one', intensity: 20, period: 30 }, settings.agents.map(agentSpec)),
      sup(
        QUEUES_SUP,
        { strategy: 'one_for_one', intensity: 10, period: 30 },
        settings.queues.map((q) => queueSupSpec(env, q)),
      ),
      ...directory,
    ],
  };
}

/** One queue's supervisor: its manager and its workers. */
export function queueSupSpec(env: AcdcEnv, q: QueueSettings): ChildSpec {
  return sup(`acdc_queue_sup:${q.id}`, { strategy: 'rest_for_one', intensity: 5, period: 30 }, [
    managerChildSpec({ env, queueId: q.id, strategy: q.strategy }),
    Supervisor.childSpec(
      `acdc_workers_sup:${q.id}`,
      sharedQueueGuard(env, q.id, q.maxPriority, {
        flags: { strategy: 'one_for_one', intensity: 10, period: 30 },
        children: Array.from({ length: q.workers }, (_, n) =>
          sup(
            `acdc_worker_sup:${q.id}:${n}`,
            { strategy: 'one_for_all', intensity: 5, period: 30 },
            workerChildSpecs({ env, queueId: q.id, n, timing: q.timing, maxPriority: q.maxPriority }),
          ),
        ),
      }),
      { name: `acdc_workers_sup:${q.id}` },
    ),
  ]);
}
