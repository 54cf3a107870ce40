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
 */
import { EventEmitter } from 'node:events';
import type { Pid } from './pid.ts';
import type { ExitReason } from './exit-reason.ts';

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
  'started' | 'stopped' | 'crashed' | 'restarted' | 'gave_up' | 'start_failed' | 'halts_node';
export interface AppEvent {
  kind: AppEventKind;
  app: string;
  reason?: ExitReason;
  /** `crashed`: the reason the app's supervisors gave up with, when the tree ended `shutdown`. */
  cause?: ExitReason;
  /** `gave_up`, `halts_node`: the app's application type (permanent, transient, temporary). */
  type?: 'permanent' | 'transient' | 'temporary';
}

export interface KernelEventMap {
  spawn: [SpawnEvent];
  exit: [ExitEvent];
  supervisor: [SupervisorEvent];
  app: [AppEvent];
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
