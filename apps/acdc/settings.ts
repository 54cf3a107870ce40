/**
 * The acdc app's settings (`settings.acdc` in the node config), checked at start.
 *
 * Contract
 * - `acdcSettings(raw)` returns the settings or throws an Error naming the bad field.
 *   Shape (times in seconds, as Kazoo's queue document; fractions allowed):
 *   `{account_id, max_connect_failures = 3, miss_action = 'pause' | 'logout',
 *     queues: [{id, strategy = 'round_robin' | 'most_idle', agent_ring_timeout = 15,
 *               agent_wrapup_time = 0, connection_timeout = 3600, workers = 1,
 *               collect_timeout = 2, retry_interval = 5, max_priority = 10}],
 *     agents: [{id, queues: [queue ids], endpoints: [originate_req endpoints]}]}`.
 * - Until the queue and user documents are read from the store (next step), the queues
 *   and agents come from here.
 */
import { STRATEGIES, type Strategy } from './strategy.ts';
import type { QueueTiming } from './worker.ts';

export interface QueueSettings {
  readonly id: string;
  readonly strategy: Strategy;
  readonly workers: number;
  /** x-max-priority of the shared queue (0: none); fixed once the queue exists. */
  readonly maxPriority: number;
  readonly timing: QueueTiming;
}

export interface AcdcSettings {
  readonly accountId: string;
  readonly maxMisses: number;
  readonly missAction: 'pause' | 'logout';
  readonly queues: readonly QueueSettings[];
  readonly agents: readonly {
    readonly id: string;
    readonly queues: readonly string[];
    readonly endpoints: readonly Record<string, unknown>[];
  }[];
}

type Raw = Record<string, unknown>;

/** Callers' Member-Priority levels the shared queue orders by (Kazoo's queue `max_priority`). */
export const DEFAULT_MAX_PRIORITY = 10;

function text(o: Raw, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new Error(`${where}.${k} must be a non-empty string`);
  return v;
}

function seconds(o: Raw, k: string, dflt: number, where: string): number {
  const v = o[k] ?? dflt;
  if (typeof v !== 'number' || !(v >= 0)) throw new Error(`${where}.${k} must be a number >= 0 (seconds)`);
  return v * 1000;
}

/**
 * One queue from its settings entry or its Kazoo queue document (`id` or `_id`); `where`
 * names it in the error.
 */
export function queueSettings(q: Raw, where: string): QueueSettings {
  const strategy = q.strategy ?? 'round_robin';
  if (!STRATEGIES.includes(strategy as Strategy))
    throw new Error(`${where}.strategy must be one of ${STRATEGIES.join(', ')}`);
  const workers = q.workers ?? 1;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1)
    throw new Error(`${where}.workers must be an integer >= 1`);
  const maxPriority = q.max_priority ?? DEFAULT_MAX_PRIORITY;
  if (
    typeof maxPriority !== 'number' ||
    !Number.isInteger(maxPriority) ||
    maxPriority < 0 ||
    maxPriority > 255
  )
    throw new Error(`${where}.max_priority must be an integer 0..255`);
  return {
    id: text(typeof q.id === 'string' ? q : { id: q._id }, 'id', where),
    strategy: strategy as Strategy,
    workers,
    maxPriority,
    timing: {
      ringTimeoutMs: seconds(q, 'agent_ring_timeout', 15, where),
      wrapupMs: seconds(q, 'agent_wrapup_time', 0, where),
      connectionTimeoutMs: seconds(q, 'connection_timeout', 3600, where),
      collectMs: seconds(q, 'collect_timeout', 2, where),
      retryMs: seconds(q, 'retry_interval', 5, where),
    },
  };
}

export function acdcSettings(raw: unknown): AcdcSettings {
  const o = (raw ?? {}) as Raw;
  const queues = Array.isArray(o.queues) ? (o.queues as Raw[]) : [];
  const agents = Array.isArray(o.agents) ? (o.agents as Raw[]) : [];
  const maxMisses = o.max_connect_failures ?? 3;
  if (typeof maxMisses !== 'number' || !Number.isInteger(maxMisses) || maxMisses < 1)
    throw new Error('settings.acdc.max_connect_failures must be an integer >= 1');
  const missAction = o.miss_action ?? 'pause';
  if (missAction !== 'pause' && missAction !== 'logout')
    throw new Error("settings.acdc.miss_action must be 'pause' or 'logout'");
  return {
    accountId: text(o, 'account_id', 'settings.acdc'),
    maxMisses,
    missAction,
    queues: queues.map((q, i) => queueSettings(q, `settings.acdc.queues[${i}]`)),
    agents: agents.map((a, i) => {
      const qs = a.queues;
      if (!Array.isArray(qs) || !qs.every((q) => typeof q === 'string'))
        throw new Error(`settings.acdc.agents[${i}].queues must be a list of queue ids`);
      const eps = a.endpoints ?? [];
      if (!Array.isArray(eps) || !eps.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e)))
        throw new Error(
          `settings.acdc.agents[${i}].endpoints must be a list of originate endpoints (objects)`,
        );
      return {
        id: text(a, 'id', `settings.acdc.agents[${i}]`),
        queues: qs as string[],
        endpoints: eps as Record<string, unknown>[],
      };
    }),
  };
}
