/**
 * The fault buttons the observer page shows, as data: the page draws one button per
 * entry on every process of the node it is served by, and on a click sends `method` to
 * `path` on the same admin endpoint (with the token), with `body` where each string
 * `{pid}` / `{name}` is replaced by the process's pid / registered name. A fault kind of
 * the admin API is one more entry here; the page needs no change.
 *
 * A kind that can also be sent to another node's process through the bus has `remote`:
 * the page sends it for the processes of other nodes (`POST /observer/fault {node, kind,
 * pid}`: the serving node's observer passes it as `nodes_observe_fault` to that node's
 * observer, which applies it with `applyFault`).
 *
 * An entry with `scope: 'node'` is drawn once per node card (the serving node's only)
 * rather than on each process: the node-wide faults of `POST /chaos`.
 *
 * - `kill`: `POST /kill {pid}`: the process crashes with reason `killed` and its
 *   supervisor applies its strategy.
 * - `crash`: `POST /chaos {kind: crash, pid, reason: observer_crash}`.
 * - node-wide (`POST /chaos`): sever-bus 2 s, store-down 2 s, drop-event-socket,
 *   delay-bus 200 ms for 5 s, drop-bus 10% for 5 s.
 */
import type { Logger, Runtime } from '../../kernel/index.ts';

export interface FaultButton {
  kind: string;
  label: string;
  /** Shown as the button's tooltip. */
  title: string;
  method: 'POST';
  path: string;
  /** Strings may hold `{pid}`, `{name}`, `{node}`; other values are sent as they are. */
  body: Record<string, string | number>;
  /** `node`: one button per node card, not per process. */
  scope?: 'node';
  /** Ask before sending (the kernel root: the node halts). */
  confirm?: string;
  /** The same fault for another node's process, through the bus. */
  remote?: { method: 'POST'; path: string; body: Record<string, string> };
}

export const FAULTS: readonly FaultButton[] = [
  {
    kind: 'kill',
    label: 'kill',
    title: 'crash this process with reason killed (POST /kill)',
    method: 'POST',
    path: '/kill',
    body: { pid: '{pid}' },
    remote: {
      method: 'POST',
      path: '/observer/fault',
      body: { node: '{node}', kind: 'kill', pid: '{pid}' },
    },
  },
  {
    kind: 'crash',
    label: 'crash',
    title: 'crash this process with reason observer_crash (POST /chaos)',
    method: 'POST',
    path: '/chaos',
    body: { kind: 'crash', pid: '{pid}', reason: 'observer_crash' },
  },
  ...(
    [
      ['sever-bus', 'sever bus 2 s', 'cut the bus connection; no reconnect for 2 s', { ms: 2000 }],
      ['store-down', 'store down 2 s', 'every store request fails for 2 s', { ms: 2000 }],
      ['drop-event-socket', 'drop event socket', "drop ecallmgr's event socket(s); they reconnect", {}],
      ['delay-bus', 'delay bus 5 s', 'hold deliveries 200 ms for 5 s', { delay_ms: 200, ms: 5000 }],
      ['drop-bus', 'drop 10% 5 s', 'lose 10% of deliveries for 5 s', { drop: 0.1, ms: 5000 }],
    ] as const
  ).map(([kind, label, title, params]): FaultButton => ({
    kind,
    label,
    title: `${title} (POST /chaos)`,
    method: 'POST',
    path: '/chaos',
    body: { kind, ...params },
    scope: 'node',
  })),
];

/** Fault kinds another node can send (the catalogue's nodes_observe_fault Fault values). */
export const REMOTE_FAULTS: readonly string[] = ['kill'];

/** Applies a fault a peer sent; false (and a warn line) when the process is not here. */
export function applyFault(
  rt: Runtime,
  f: { kind: string; pid: string; reason?: string; from?: string },
  log: Logger,
): boolean {
  const target = rt.processes().find((p) => String(p) === f.pid);
  if (target === undefined || !REMOTE_FAULTS.includes(f.kind)) {
    log.warn({ fault: f.kind, pid: f.pid, peer: f.from }, 'observer fault not applied: no such process here');
    return false;
  }
  const reason = f.reason ?? 'killed';
  log.warn({ fault: f.kind, pid: f.pid, reason, peer: f.from }, 'fault injected from an observer page');
  rt.crash(target, reason);
  return true;
}
