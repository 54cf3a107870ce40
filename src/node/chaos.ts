/**
 * Fault injection as a feature: the faults `fife chaos` and the admin endpoint's
 * `POST /chaos` inject into a running node, one at a time or on a seeded schedule.
 *
 * Kinds (FaultRequest fields in brackets):
 *   kill               crash a process with reason `killed` [name | pid | randomIn]
 *   crash              the same with a given reason [name | pid | randomIn, reason]
 *   sever-bus          cut the bus connection; no reconnect before ms [ms] (embedded or
 *                      RabbitMQ: the recovering transport reconnects afterwards)
 *   store-down         every store request fails with StoreError 'unavailable' for ms [ms]
 *   drop-event-socket  ecallmgr's event socket to a switch is dropped; it reconnects
 *                      [switch: one switch, default every connected one]
 *   delay-bus          deliveries to this node's consumers held delayMs for ms [delayMs, ms]
 *   drop-bus           a share of those deliveries lost for ms [drop (0..1), ms]
 *
 * Contract
 * - `injectFault(deps, req, ctx)` does one injection and answers what it hit; it throws
 *   ChaosError (`invalid`: a request that cannot be made; `not_found`: no such process,
 *   no process to pick, no event socket) before injecting anything.
 * - Every injection is a kernel `fault` event (events.ts) and one pino line (warn
 *   `fault injected`); a timed fault publishes `phase: 'ended'` (and an info line) when it
 *   is over. The node's metrics count them (fife_faults_injected_total{kind}).
 * - `randomIn` picks a process among the live descendants of the supervisor registered
 *   under that name (or of a running app's root supervisor, named as `fife tree` shows it:
 *   `<app>_sup`), in tree order (start order), with `ctx.random`; the kernel root,
 *   the admin endpoint and the chaos scheduler are never picked. A picked process's
 *   `target` is its registered name, else its path of child ids from the supervisor
 *   (`sup/worker`): the same tree gives the same targets whatever the pids.
 * - `drop-event-socket` sends `{type:'drop_event_socket'}` to the process registered as
 *   `ecallmgr_node:<switch>` (ecallmgr's node connection, which owns the socket).
 * - `planSchedule` / the `chaos` process (chaos-scheduler.ts): a schedule's step i draws
 *   its kind, then (kill, crash) its target, from one PRNG seeded with the seed
 *   (mulberry32); a drop-bus step's losses come from a PRNG of (seed, step). The same seed
 *   and the same tree give the same injections on the same targets.
 */
import {
  describeNode,
  describeTree,
  type ExitReason,
  type FaultEvent,
  type Logger,
  type Pid,
  type Runtime,
  type TreeNode,
} from '../kernel/index.ts';
import { seededRandom } from '../kernel/seeded-random.ts';
import type { BusTransport } from '../bus/index.ts';
import type { StoreFaults } from '../store/index.ts';

export const FAULT_KINDS = [
  'kill',
  'crash',
  'sever-bus',
  'store-down',
  'drop-event-socket',
  'delay-bus',
  'drop-bus',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRequest {
  kind: FaultKind;
  name?: string;
  pid?: string;
  randomIn?: string;
  reason?: ExitReason;
  ms?: number;
  delayMs?: number;
  drop?: number;
  switch?: string;
}

export interface ChaosDeps {
  runtime: Runtime;
  /** Without it (an admin endpoint tested alone) the bus kinds answer 'invalid'. */
  bus?: BusTransport;
  /** Without it store-down answers 'invalid'. */
  storeFaults?: StoreFaults;
  log: Logger;
  /** Never picked at random (with the admin endpoint and the scheduler). */
  kernelRoot: string;
  /** How a process is crashed (the admin endpoint answers first when it or the root is hit). */
  crash?: (pid: Pid, reason: ExitReason) => void;
}

export interface InjectContext {
  /** 0 <= x < 1 (random picks). Default Math.random. */
  random?: () => number;
  seed?: number;
  step?: number;
}

export interface FaultResult {
  kind: FaultKind;
  target: string;
  pid?: string;
  params: Record<string, unknown>;
}

export class ChaosError extends Error {
  override readonly name = 'ChaosError';
  constructor(
    readonly code: 'invalid' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

/** Registered names of processes never picked at random. */
export const CHAOS_PROCESS = 'chaos';
const NEVER_PICKED = ['admin', CHAOS_PROCESS];
export const DEFAULT_FAULT_MS = 500;
export const eventSocketOwner = (sw: string): string => `ecallmgr_node:${sw}`;

export { seededRandom };

/** The PRNG of step `step`'s own draws (drop-bus losses), independent of the schedule's. */
export const stepRandom = (seed: number, step: number): (() => number) =>
  seededRandom((seed ^ Math.imul(step + 1, 0x9e3779b9)) >>> 0);

export interface Candidate {
  /** Registered name, else the path of child ids under the supervisor. */
  target: string;
  pid: string;
}

/** The live descendants of `supervisor`, in tree order, that may be picked. */
export function candidatesIn(rt: Runtime, supervisor: string, kernelRoot: string): Candidate[] {
  // A supervisor registered under that name, else an app's root by the name the tree
  // shows it (`<app>_sup`: the apps controller starts app roots unnamed).
  const root =
    describeTree(rt, supervisor) ??
    describeNode(rt).apps.find((a) => a.tree?.id === supervisor && a.state === 'running')?.tree;
  if (root === undefined) throw new ChaosError('not_found', `no supervisor registered as '${supervisor}'`);
  if (root.type !== 'supervisor')
    throw new ChaosError('invalid', `'${supervisor}' is not a supervisor (random_in needs one)`);
  const never = new Set([kernelRoot, ...NEVER_PICKED]);
  const out: Candidate[] = [];
  const walk = (n: TreeNode, path: string): void => {
    for (const c of n.children ?? []) {
      const p = `${path}/${c.id ?? '?'}`;
      if (c.pid !== undefined && !(c.name !== undefined && never.has(c.name)))
        out.push({ target: c.name ?? p.slice(1), pid: c.pid });
      walk(c, p);
    }
  };
  walk(root, '');
  return out;
}

const pick = <T>(items: readonly T[], random: () => number): T =>
  items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;

export interface PlannedStep {
  step: number;
  kind: FaultKind;
  target?: string;
}

/**
 * The schedule a seed gives over a fixed list of candidates (`fife chaos --plan` and the
 * tests): the same draws, in the same order, as the running schedule makes.
 */
export function planSchedule(
  seed: number,
  steps: number,
  kinds: readonly FaultKind[],
  candidates: readonly string[],
): PlannedStep[] {
  const random = seededRandom(seed);
  const out: PlannedStep[] = [];
  for (let step = 0; step < steps; step++) {
    const kind = pick(kinds, random);
    if (kind === 'kill' || kind === 'crash') {
      const target = candidates.length === 0 ? undefined : pick(candidates, random);
      out.push({ step, kind, target });
    } else out.push({ step, kind });
  }
  return out;
}

/** The kind of a schedule's step: the first draw of the step. */
export const drawKind = (kinds: readonly FaultKind[], random: () => number): FaultKind => pick(kinds, random);

function positive(v: unknown, field: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new ChaosError('invalid', `${field} must be a number of milliseconds > 0`);
  return v;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new ChaosError('invalid', `this node has no ${what} to inject faults into`);
  return v;
}

function resolveProcess(
  deps: ChaosDeps,
  req: FaultRequest,
  random: () => number,
): { pid: Pid; target: string } {
  const rt = deps.runtime;
  const given = [req.name, req.pid, req.randomIn].filter((x) => x !== undefined).length;
  if (given !== 1) throw new ChaosError('invalid', `${req.kind} needs exactly one of name, pid or random_in`);
  if (req.randomIn !== undefined) {
    const all = candidatesIn(rt, req.randomIn, deps.kernelRoot);
    if (all.length === 0)
      throw new ChaosError('not_found', `no live process under '${req.randomIn}' to pick`);
    const c = pick(all, random);
    const pid = rt.processes().find((p) => String(p) === c.pid);
    if (pid === undefined) throw new ChaosError('not_found', `${c.target} (${c.pid}) ended meanwhile`);
    return { pid, target: c.target };
  }
  if (req.name !== undefined) {
    const pid = rt.whereis(req.name);
    if (pid === undefined) throw new ChaosError('not_found', `no such process: ${req.name}`);
    return { pid, target: req.name };
  }
  const pid = rt.processes().find((p) => String(p) === req.pid);
  if (pid === undefined) throw new ChaosError('not_found', `no such process: ${req.pid}`);
  return { pid, target: req.pid! };
}

/** Publishes a fault event and its log line. */
function announce(deps: ChaosDeps, e: FaultEvent): void {
  const line = {
    fault: e.kind,
    phase: e.phase,
    target: e.target,
    params: e.params,
    seed: e.seed,
    step: e.step,
  };
  if (e.phase === 'injected') deps.log.warn(line, 'fault injected');
  else if (e.phase === 'ended') deps.log.info(line, 'fault ended');
  else deps.log.warn({ ...line, err: e.error }, 'fault not injected');
  deps.runtime.events.emit('fault', e);
}

/** Reports an injection that could not be made (a schedule's step): event and log line. */
export function announceFailed(deps: ChaosDeps, req: FaultRequest, err: Error, ctx: InjectContext): void {
  announce(deps, {
    kind: req.kind,
    phase: 'failed',
    params: {},
    seed: ctx.seed,
    step: ctx.step,
    error: err.message,
  });
}

export function injectFault(deps: ChaosDeps, req: FaultRequest, ctx: InjectContext = {}): FaultResult {
  const random = ctx.random ?? Math.random;
  const rt = deps.runtime;
  const stamp = { seed: ctx.seed, step: ctx.step };
  const ended = (r: FaultResult) => () =>
    announce(deps, { kind: r.kind, phase: 'ended', target: r.target, params: r.params, ...stamp });
  let r: FaultResult;
  let after: ((done: () => void) => void) | undefined;
  switch (req.kind) {
    case 'kill':
    case 'crash': {
      const { pid, target } = resolveProcess(deps, req, random);
      const reason = req.kind === 'kill' ? 'killed' : (req.reason ?? 'crashed');
      r = { kind: req.kind, target, pid: String(pid), params: { reason, pid: String(pid) } };
      announce(deps, { kind: r.kind, phase: 'injected', target, params: r.params, ...stamp });
      (deps.crash ?? ((p, why) => rt.crash(p, why)))(pid, reason);
      return r;
    }
    case 'sever-bus': {
      const ms = positive(req.ms, 'ms', DEFAULT_FAULT_MS);
      const bus = need(deps.bus, 'bus');
      if (bus.state !== 'connected')
        throw new ChaosError('not_found', `the bus is ${bus.state}: no connection to sever`);
      r = { kind: req.kind, target: 'bus', params: { ms, broker: bus.broker } };
      after = (done) => {
        bus.sever('fault injection (chaos)', { reconnectAfterMs: ms });
        setTimeout(done, ms).unref?.();
      };
      break;
    }
    case 'store-down': {
      const ms = positive(req.ms, 'ms', DEFAULT_FAULT_MS);
      const store = need(deps.storeFaults, 'store');
      r = { kind: req.kind, target: 'store', params: { ms } };
      after = (done) => store.unreachableFor(ms, done);
      break;
    }
    case 'delay-bus':
    case 'drop-bus': {
      const ms = positive(req.ms, 'ms', DEFAULT_FAULT_MS);
      const bus = need(deps.bus, 'bus');
      const delayMs = req.kind === 'delay-bus' ? positive(req.delayMs, 'delay_ms') : 0;
      const drop = req.kind === 'drop-bus' ? (req.drop ?? 0) : 0;
      if (req.kind === 'drop-bus' && !(typeof drop === 'number' && drop > 0 && drop <= 1))
        throw new ChaosError('invalid', 'drop must be a share of messages within (0, 1]');
      r = {
        kind: req.kind,
        target: 'bus',
        params: req.kind === 'delay-bus' ? { ms, delay_ms: delayMs } : { ms, drop },
      };
      const draws =
        ctx.seed !== undefined && ctx.step !== undefined ? stepRandom(ctx.seed, ctx.step) : undefined;
      after = (done) =>
        bus.degradeDeliveries({ dropShare: drop, delayMs, forMs: ms, random: draws, onEnd: done });
      break;
    }
    case 'drop-event-socket': {
      const names =
        req.switch !== undefined
          ? [eventSocketOwner(req.switch)].filter((n) => rt.whereis(n) !== undefined)
          : rt
              .registered()
              .filter((n) => n.startsWith(eventSocketOwner('')))
              .sort();
      if (names.length === 0)
        throw new ChaosError(
          'not_found',
          req.switch !== undefined
            ? `no event socket to switch '${req.switch}' (is ecallmgr running with it?)`
            : 'no event socket on this node (ecallmgr connects none)',
        );
      const switches = names.map((n) => n.slice(eventSocketOwner('').length));
      r = { kind: req.kind, target: switches.join(','), params: { switches } };
      announce(deps, { kind: r.kind, phase: 'injected', target: r.target, params: r.params, ...stamp });
      for (const n of names) rt.send(n, { type: 'drop_event_socket', reason: 'fault injection (chaos)' });
      return r;
    }
    default:
      throw new ChaosError('invalid', `unknown fault kind '${String((req as { kind: unknown }).kind)}'`);
  }
  announce(deps, { kind: r.kind, phase: 'injected', target: r.target, params: r.params, ...stamp });
  after(ended(r));
  return r;
}
