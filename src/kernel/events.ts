/**
 * Kernel events: every lifecycle fact of a runtime is published here, once, with fixed
 * fields. Logs, metrics, the tree view and tests all read this stream (tests wait on
 * events, never on sleeps).
 *
 * - `spawn` / `exit`: a process began / ended (with its reason).
 * - `supervisor`: a supervision decision: `child_started`, `child_terminated` (a child
 *   exited on its own, with the reason), `child_restarted`, `restart_failed`,
 *   `shutdown_error`, `gave_up` (intensity reached: the supervisor stops).
 * - `app`: the apps controller started, stopped, restarted or gave up an app.
 * - `fault`: a fault was injected on purpose (src/node/chaos.ts: `fife chaos`, `POST
 *   /chaos`, a chaos schedule), or a timed one ended (`phase: 'ended'`: the bus may
 *   reconnect, the store answers again, the bus delivers normally again).
 * - `cluster`: the node's cluster view (src/node/nodes.ts) saw another node join
 *   (`node_joined`, its first heartbeat) or leave (`node_expired`, silent past 1.25
 *   heartbeats), once each; `node` names it. Apps act on it (ecallmgr routes again the
 *   calls a gone node controlled).
 *
 * The same events leave the node as plain JSON (`plainEvent`: the admin endpoint's
 * `GET /events` stream, read by the observer page). One object per event, `type` first,
 * pids as strings (`<node.N>`), exit reasons as text (formatReason), nothing else:
 *
 *   {type:'spawn', pid, name?}
 *   {type:'exit', pid, name?, reason}
 *   {type:'supervisor', kind, supervisor, supervisorName?, childId?, pid?, reason?}
 *   {type:'app', kind, app, reason?, cause?}
 *   {type:'fault', kind, phase, target?, params, seed?, step?, error?}
 *   {type:'cluster', kind, node}
 * Every one also has `at` (ms since the epoch, when it was turned into JSON).
 */
import { EventEmitter } from 'node:events';
import type { Pid } from './pid.ts';
import { formatReason, type ExitReason } from './exit-reason.ts';

export interface SpawnEvent {
  pid: Pid;
  name?: string;
}
export interface ExitEvent {
  pid: Pid;
  name?: string;
  reason: ExitReason;
}
export type SupervisorEventKind =
  'child_started' | 'child_terminated' | 'child_restarted' | 'restart_failed' | 'shutdown_error' | 'gave_up';
export interface SupervisorEvent {
  kind: SupervisorEventKind;
  supervisor: Pid;
  supervisorName?: string;
  childId?: string;
  pid?: Pid;
  reason?: ExitReason;
}
export type AppEventKind =
  | 'started'
  | 'stopped'
  | 'crashed'
  | 'restarted'
  | 'gave_up'
  | 'start_failed'
  | 'upgraded'
  | 'upgrade_failed'
  | 'halts_node';
export interface AppEvent {
  kind: AppEventKind;
  app: string;
  /** `crashed`, `restarted`: why the app's tree ended. */
  reason?: ExitReason;
  /** `crashed`: the reason the app's supervisors gave up with, when the tree ended `shutdown`. */
  cause?: ExitReason;
  /** `gave_up`, `halts_node`: the app's application type (permanent, transient, temporary). */
  type?: 'permanent' | 'transient' | 'temporary';
}

/**
 * A fault injected on purpose. `kind` names it (`kill`, `crash`, `sever-bus`,
 * `store-down`, `drop-event-socket`, `delay-bus`, `drop-bus`); `target` is what it hit
 * (a process as `name <pid>` or a pid, a switch, `bus`, `store`); `params` holds what
 * it was given (reason, ms, share...). A schedule's injections carry its `seed` and
 * `step` (0-based). A timed fault publishes `phase: 'ended'` when it is over. An
 * injection that could not be made (no process to pick, no switch) has `error` and
 * `phase: 'failed'`.
 */
export interface FaultEvent {
  kind: string;
  phase: 'injected' | 'ended' | 'failed';
  target?: string;
  params: Record<string, unknown>;
  seed?: number;
  step?: number;
  error?: string;
}

/** Another node joined or left this node's cluster view (src/node/nodes.ts). */
export interface ClusterEvent {
  kind: 'node_joined' | 'node_expired';
  node: string;
}

export interface KernelEventMap {
  spawn: [SpawnEvent];
  exit: [ExitEvent];
  supervisor: [SupervisorEvent];
  app: [AppEvent];
  fault: [FaultEvent];
  cluster: [ClusterEvent];
}

export type KernelEventType = keyof KernelEventMap;
export const KERNEL_EVENT_TYPES: readonly KernelEventType[] = [
  'spawn',
  'exit',
  'supervisor',
  'app',
  'fault',
  'cluster',
];

/** An event as plain JSON (the shape the header lists): pids as strings, reasons as text. */
export function plainEvent<K extends KernelEventType>(
  type: K,
  e: KernelEventMap[K][0],
  at = Date.now(),
): Record<string, unknown> {
  const out: Record<string, unknown> = { type };
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    if (k === 'reason' || k === 'cause') out[k] = formatReason(v);
    else if (k === 'pid' || k === 'supervisor') out[k] = String(v);
    else out[k] = v;
  }
  out.at = at;
  return out;
}

export class KernelEvents extends EventEmitter<KernelEventMap> {
  constructor() {
    super();
    this.setMaxListeners(0);
  }

  /** Resolves with the first event of `type` that satisfies `match` (tests, tools). */
  waitFor<K extends keyof KernelEventMap>(
    type: K,
    match: (...e: KernelEventMap[K]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<KernelEventMap[K][0]> {
    return new Promise((resolve, reject) => {
      const onEvent = (...e: KernelEventMap[K]): void => {
        if (!match(...e)) return;
        clearTimeout(timer);
        this.off(type, onEvent as never);
        resolve(e[0]);
      };
      const timer = setTimeout(() => {
        this.off(type, onEvent as never);
        reject(new Error(`no '${String(type)}' event matched within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on(type, onEvent as never);
    });
  }
}
