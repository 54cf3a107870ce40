/**
 * Child specs and supervisor flags: what a supervisor starts, and how it restarts.
 *
 * A child spec is data: `id` (unique in its supervisor), `start` (a function that
 * starts the child *linked to* `ctx.parent` and resolves to a StartResult: `{type:'ok',
 * pid}`, `{type:'ignore'}` or `{type:'error', reason}`), `restart` (permanent: always
 * restarted; transient: restarted only after a crash, not after normal / shutdown /
 * {shutdown: _}; temporary: never restarted, and forgotten once it ends), `shutdown`
 * ('brutal_kill', ms, or 'infinity'; default 5000 for workers and 'infinity' for
 * supervisors), `type` ('worker' | 'supervisor'), `significant` (see auto_shutdown).
 * Two optional fields say what the child runs, for upgrades (app-upgrade.ts; OTP's
 * `modules`): `behaviour` (the gen_server behaviour; GenServer.childSpec and
 * GenListener.childSpec set it) and `supervisor` (the spec or init callback of a child
 * supervisor; Supervisor.childSpec sets it).
 *
 * Flags: `strategy` (one_for_one | one_for_all | rest_for_one | simple_one_for_one;
 * default one_for_one), `intensity` (default 1), `period` in seconds (default 5),
 * `autoShutdown` (never | any_significant | all_significant; default never).
 *
 * A supervisor takes a fixed spec `{flags, children}` or an init callback (SupervisorInit,
 * OTP's `Module:init/1`) that returns one, or `{type: 'ignore'}`, when the supervisor
 * starts.
 *
 * `normalizeSupervisorSpec` checks a whole spec before anything starts and throws a
 * ChildSpecError saying what is wrong and how to fix it.
 */
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';
import type { StartResult, GenServerBehaviour } from './gen-server.ts';
import type { ProcessContext } from './process.ts';

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type Shutdown = 'brutal_kill' | 'infinity' | number;
export type ChildType = 'worker' | 'supervisor';
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

export interface StartContext {
  runtime: Runtime;
  /** The supervisor: link the new child to it. */
  parent: Pid;
  app?: string;
}

export interface ChildSpec {
  id: string;
  start: (ctx: StartContext, ...extra: any[]) => Promise<StartResult>;
  restart?: RestartType;
  shutdown?: Shutdown;
  type?: ChildType;
  significant?: boolean;
  /** The behaviour the child runs (set by GenServer.childSpec / GenListener.childSpec): an upgrade compares it. */
  behaviour?: GenServerBehaviour<any, any, any, any>;
  /** A child supervisor's spec or init callback (set by Supervisor.childSpec): an upgrade walks into it. */
  supervisor?: SupervisorSpec | SupervisorInit;
}

export type NormalizedChildSpec = Required<Omit<ChildSpec, 'behaviour' | 'supervisor'>> &
  Pick<ChildSpec, 'behaviour' | 'supervisor'>;

export interface SupervisorFlags {
  strategy?: Strategy;
  intensity?: number;
  period?: number;
  autoShutdown?: AutoShutdown;
}

export interface SupervisorSpec {
  flags?: SupervisorFlags;
  children: ChildSpec[];
}

export type NormalizedFlags = Required<SupervisorFlags>;

/** What a supervisor's init callback returns (OTP's `{ok, {Flags, Specs}}` or `ignore`). */
export type SupervisorInitResult = SupervisorSpec | { type: 'ignore' };
/**
 * OTP's `Module:init/1`: runs inside the new supervisor process (it traps exits already)
 * and decides its flags and children at start, e.g. from configuration, or `ignore`.
 */
export type SupervisorInit = (ctx: ProcessContext) => SupervisorInitResult | Promise<SupervisorInitResult>;

export class ChildSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChildSpecError';
  }
}

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const RESTARTS: readonly RestartType[] = ['permanent', 'transient', 'temporary'];
const AUTO: readonly AutoShutdown[] = ['never', 'any_significant', 'all_significant'];

export function normalizeFlags(f: SupervisorFlags = {}): NormalizedFlags {
  const flags: NormalizedFlags = {
    strategy: f.strategy ?? 'one_for_one',
    intensity: f.intensity ?? 1,
    period: f.period ?? 5,
    autoShutdown: f.autoShutdown ?? 'never',
  };
  if (!STRATEGIES.includes(flags.strategy))
    throw new ChildSpecError(`unknown strategy '${flags.strategy}': use one of ${STRATEGIES.join(', ')}`);
  if (!Number.isInteger(flags.intensity) || flags.intensity < 0)
    throw new ChildSpecError(`intensity must be an integer >= 0, got ${flags.intensity}`);
  if (!(flags.period > 0)) throw new ChildSpecError(`period must be > 0 seconds, got ${flags.period}`);
  if (!AUTO.includes(flags.autoShutdown))
    throw new ChildSpecError(`unknown autoShutdown '${flags.autoShutdown}': use one of ${AUTO.join(', ')}`);
  return flags;
}

export function normalizeChildSpec(c: ChildSpec, flags: NormalizedFlags): NormalizedChildSpec {
  const where = `child spec '${String(c?.id)}'`;
  if (typeof c !== 'object' || c === null)
    throw new ChildSpecError(`a child spec must be an object with id and start, got ${String(c)}`);
  if (typeof c.id !== 'string' || c.id === '')
    throw new ChildSpecError(`a child spec needs a non-empty string id (got ${String(c.id)})`);
  if (typeof c.start !== 'function')
    throw new ChildSpecError(
      `${where}: start must be a function (ctx) => Promise<StartResult>; use GenServer.childSpec or Supervisor.childSpec to build one`,
    );
  const type = c.type ?? 'worker';
  if (type !== 'worker' && type !== 'supervisor')
    throw new ChildSpecError(`${where}: type must be 'worker' or 'supervisor', got '${String(type)}'`);
  const restart = c.restart ?? 'permanent';
  if (!RESTARTS.includes(restart))
    throw new ChildSpecError(
      `${where}: restart must be one of ${RESTARTS.join(', ')}, got '${String(restart)}'`,
    );
  const shutdown = c.shutdown ?? (type === 'worker' ? 5000 : 'infinity');
  if (
    shutdown !== 'brutal_kill' &&
    shutdown !== 'infinity' &&
    !(Number.isInteger(shutdown) && shutdown >= 0)
  ) {
    throw new ChildSpecError(
      `${where}: shutdown must be 'brutal_kill', 'infinity' or a whole number of ms >= 0, got '${String(shutdown)}'`,
    );
  }
  const significant = c.significant ?? false;
  if (significant && restart === 'permanent')
    throw new ChildSpecError(
      `${where}: a significant child cannot be permanent; make it transient or temporary`,
    );
  if (significant && flags.autoShutdown === 'never')
    throw new ChildSpecError(
      `${where}: significant children need autoShutdown 'any_significant' or 'all_significant' in the supervisor flags`,
    );
  return {
    id: c.id,
    start: c.start,
    restart,
    shutdown,
    type,
    significant,
    behaviour: c.behaviour,
    supervisor: c.supervisor,
  };
}

export function normalizeSupervisorSpec(spec: SupervisorSpec): {
  flags: NormalizedFlags;
  children: NormalizedChildSpec[];
} {
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.children))
    throw new ChildSpecError('a supervisor spec is {flags?, children: ChildSpec[]}');
  const flags = normalizeFlags(spec.flags);
  const children = spec.children.map((c) => normalizeChildSpec(c, flags));
  const seen = new Set<string>();
  for (const c of children) {
    if (seen.has(c.id))
      throw new ChildSpecError(`duplicate child id '${c.id}': ids must be unique within a supervisor`);
    seen.add(c.id);
  }
  if (flags.strategy === 'simple_one_for_one' && children.length !== 1) {
    throw new ChildSpecError(
      `simple_one_for_one needs exactly one child spec (the template), got ${children.length}`,
    );
  }
  return { flags, children };
}

/** May a child that ended with `reason` be restarted, by its restart type? */
export function shouldRestart(restart: RestartType, normalExit: boolean): boolean {
  return restart === 'permanent' || (restart === 'transient' && !normalExit);
}
