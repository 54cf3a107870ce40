/**
 * supervisor: starts children from specs, restarts them by strategy, gives up past its
 * restart intensity. A gen_server that traps exits.
 *
 * Contract (OTP's; see child-spec.ts for specs and flags)
 * - start: from a fixed spec (checked whole first: a bad one throws a ChildSpecError,
 *   nothing started) or an init callback (OTP's Module:init/1) run inside the new
 *   supervisor, which returns the spec or `{type:'ignore'}` (the start resolves
 *   `{type:'ignore'}`, the process exits normal); a throw fails the start with the
 *   thrown value, a bad return with `{bad_return: {init: value}}`, bad flags with
 *   `{supervisor_data: msg}`, simple_one_for_one without exactly one spec with
 *   `{bad_start_spec: msg}`, a bad child spec with `{start_spec: msg}`. Children start
 *   one after another in list order; `start` resolves
 *   only after every child is up. If child k fails to start, children 1..k-1 are stopped
 *   in reverse order and the start fails with `{shutdown: {failed_to_start_child: id,
 *   reason}}`. A child start returning ignore keeps its spec with no pid (a temporary
 *   one is dropped).
 * - a child ends: temporary children are never restarted (their spec is forgotten);
 *   transient children are restarted only after a crash; permanent ones always. Each
 *   restart counts toward intensity/period (restart-intensity.ts); past it the
 *   supervisor stops all children in reverse order and exits with `shutdown`, and its
 *   own parent decides what happens next (escalation).
 *   - one_for_one / simple_one_for_one: only that child is restarted.
 *   - one_for_all: the others are stopped (reverse order), then all restarted in order.
 *   - rest_for_one: the children started after it are stopped (reverse order), then it
 *     and they are restarted in order.
 *   Temporary children stopped by a sibling's restart are not restarted.
 *   A restart whose start fails marks the child `restarting` and is retried through the
 *   supervisor's own mailbox (other requests are served in between); every retry counts
 *   toward intensity.
 * - stopping a child: `brutal_kill` kills at once (no terminate); ms: an exit signal
 *   `shutdown`, then a kill if the child has not ended within ms; `infinity`: waits.
 *   A supervisor stops its children in reverse start order, each finished before the
 *   next (simple_one_for_one: all at once).
 * - admin calls: startChild, terminateChild, restartChild, deleteChild, whichChildren,
 *   countChildren, getChildSpec, with OTP's answers (`already_present`,
 *   `{already_started: pid}`, `running`, `restarting`, `not_found`,
 *   `simple_one_for_one`; a failed startChild is `{reason, child}`). Static children
 *   are found by id (a pid is `not_found`). For simple_one_for_one, startChild takes the
 *   extra start arguments; terminateChild and getChildSpec take a child's pid (one
 *   being restarted is found by its old pid; a pid no longer alive counts as found, a
 *   live non-child is `not_found`, an id is `simple_one_for_one` for terminateChild).
 * - whichChildren: OTP's order, newest first (reverse start order; startChild adds at
 *   the front; a restart keeps a child's place); simple_one_for_one children by pid,
 *   those being restarted last. The tree view (describe) keeps start order.
 * - code change (an app upgrade, app-upgrade.ts; OTP's supervisor code_change, which
 *   re-reads the init callback): `codeChange(rt, sup, spec, apply)` resolves the new
 *   spec (an init callback runs in the supervisor), checks it, and answers which children
 *   it keeps (same id: old and new spec, pid; simple_one_for_one: the template and every
 *   live child's pid), which ids it adds and which it drops. With `apply` the kept
 *   children take their new specs and the flags change (running children are left as
 *   they are: restarts from now on use the new specs); adding and dropping children is
 *   the caller's (startChild, terminateChild + deleteChild). A bad spec, or a change to
 *   or from simple_one_for_one, is an error and changes nothing.
 * - autoShutdown: with any_significant the supervisor stops (shutdown) when a
 *   significant child ends without being restarted; with all_significant when the last
 *   significant child has.
 *
 * Differences from OTP: restart windows are counted in ms (restart-intensity.ts). A child
 * whose start function forgot to link is linked by the supervisor after it starts.
 * Reasons are objects where OTP has tuples (see above); a start function returning
 * something that is not a StartResult fails with `{bad_start_result: value}`.
 */
import {
  GenServer,
  ok,
  ignore,
  noreply,
  reply,
  stop,
  unexpected,
  type GenServerBehaviour,
  type StartOptions,
  type StartResult,
} from './gen-server.ts';
import { isExitMessage, type ProcessContext } from './process.ts';
import { RestartLog } from './restart-intensity.ts';
import {
  isNormalExit,
  isShutdown,
  formatReason,
  reasonForLog,
  KILLED,
  type ExitReason,
} from './exit-reason.ts';
import {
  normalizeChildSpec,
  normalizeFlags,
  normalizeSupervisorSpec,
  shouldRestart,
  ChildSpecError,
  type ChildSpec,
  type NormalizedChildSpec,
  type NormalizedFlags,
  type SupervisorSpec,
  type SupervisorInit,
} from './child-spec.ts';
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';

export type ChildStatus = 'running' | 'restarting' | 'undefined';

interface Child {
  spec: NormalizedChildSpec;
  pid: Pid | undefined;
  restarting: boolean;
  restarts: number;
  extra: unknown[];
}

interface State {
  flags: NormalizedFlags;
  /** static children in start order */
  children: Child[];
  /** simple_one_for_one children by pid id */
  dynamic: Map<number, Child>;
  template: NormalizedChildSpec | undefined;
  restarts: RestartLog;
  ctx: ProcessContext;
  app: string | undefined;
}

export interface ChildInfo {
  id: string | undefined;
  pid: Pid | undefined;
  status: ChildStatus;
  type: 'worker' | 'supervisor';
  restarts: number;
}

export interface ChildCounts {
  specs: number;
  active: number;
  supervisors: number;
  workers: number;
}

export type AdminResult = { type: 'ok'; pid?: Pid } | { type: 'error'; reason: ExitReason };

type Request =
  | { op: 'start_child'; arg: ChildSpec | unknown[] }
  | { op: 'terminate_child'; arg: string | Pid }
  | { op: 'restart_child'; id: string }
  | { op: 'delete_child'; id: string }
  | { op: 'which_children' }
  | { op: 'count_children' }
  | { op: 'get_childspec'; id: string | Pid }
  | { op: 'code_change'; spec: SupervisorSpec | SupervisorInit; apply: boolean };

/** What a code change keeps of a supervisor's children (see the contract). */
export interface KeptChild {
  id: string;
  old: NormalizedChildSpec;
  next: NormalizedChildSpec;
  /** The running child (static), or every live child (simple_one_for_one). */
  pids: Pid[];
}

export type CodeChangePlan =
  | {
      type: 'ok';
      strategy: string;
      kept: KeptChild[];
      added: NormalizedChildSpec[];
      removed: string[];
      /** The supervisor's spec before the change (to put it back). */
      before: SupervisorSpec;
    }
  | { type: 'error'; reason: ExitReason };

const isSofo = (s: State): boolean => s.flags.strategy === 'simple_one_for_one';
const statusOf = (c: Child): ChildStatus =>
  c.pid !== undefined ? 'running' : c.restarting ? 'restarting' : 'undefined';

// ---- starting and stopping one child ----------------------------------------------

async function startOne(s: State, c: Child): Promise<StartResult> {
  let r: StartResult;
  try {
    r = await c.spec.start({ runtime: s.ctx.runtime, parent: s.ctx.self, app: s.app }, ...c.extra);
  } catch (err) {
    r = { type: 'error', reason: err };
  }
  if (r?.type === 'ok') {
    c.pid = r.pid;
    c.restarting = false;
    s.ctx.link(r.pid);
    s.ctx.runtime.events.emit('supervisor', {
      kind: 'child_started',
      supervisor: s.ctx.self,
      childId: c.spec.id,
      pid: r.pid,
    });
    return r;
  }
  if (r?.type === 'ignore') return r;
  return { type: 'error', reason: r?.type === 'error' ? r.reason : { bad_start_result: r } };
}

async function stopOne(s: State, c: Child): Promise<void> {
  const pid = c.pid;
  if (pid === undefined) return;
  const rt = s.ctx.runtime;
  s.ctx.unlink(pid);
  const exited = rt.awaitExit(pid);
  const how = c.spec.shutdown;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (how === 'brutal_kill') rt.exit(pid, 'kill', s.ctx.self);
  else {
    rt.exit(pid, 'shutdown', s.ctx.self);
    if (how !== 'infinity') timer = setTimeout(() => rt.exit(pid, 'kill', s.ctx.self), how);
  }
  const reason = await exited;
  if (timer !== undefined) clearTimeout(timer);
  c.pid = undefined;
  const expected =
    reason === 'noproc' ||
    isShutdown(reason) ||
    (reason === KILLED && how === 'brutal_kill') ||
    (c.spec.restart !== 'permanent' && isNormalExit(reason));
  if (!expected) {
    rt.events.emit('supervisor', {
      kind: 'shutdown_error',
      supervisor: s.ctx.self,
      childId: c.spec.id,
      pid,
      reason,
    });
    s.ctx.log.error(
      { child: c.spec.id, reason: reasonForLog(reason) },
      reason === KILLED
        ? 'child did not stop within its shutdown budget: killed'
        : 'child ended with an unexpected reason while being stopped',
    );
  }
}

/** Stops children in reverse order, one after the other. */
async function stopInReverse(s: State, children: Child[]): Promise<void> {
  for (let i = children.length - 1; i >= 0; i--) await stopOne(s, children[i]!);
}

async function stopAll(s: State): Promise<void> {
  if (isSofo(s)) {
    const all = [...s.dynamic.values()];
    s.dynamic.clear();
    await Promise.all(all.map((c) => stopOne(s, c)));
  } else {
    await stopInReverse(s, s.children);
  }
}

// ---- restarts -------------------------------------------------------------------

/** Records one restart; false when the intensity is exceeded. */
function countRestart(s: State): boolean {
  return s.restarts.add(s.ctx.runtime.now());
}

type Next = { type: 'noreply'; state: State } | { type: 'stop'; reason: ExitReason; state: State };

function giveUp(s: State, c: Child | undefined, reason: ExitReason): Next {
  s.ctx.runtime.events.emit('supervisor', {
    kind: 'gave_up',
    supervisor: s.ctx.self,
    childId: c?.spec.id,
    reason,
  });
  s.ctx.log.error(
    { child: c?.spec.id, reason: reasonForLog(reason), intensity: s.flags.intensity, period: s.flags.period },
    'reached max restart intensity: shutting down',
  );
  return stop('shutdown', s);
}

/** Restarts `c` (dead) and whatever its strategy says; false if some start failed. */
async function restart(s: State, c: Child): Promise<boolean> {
  const group = restartGroup(s, c);
  const others = group.filter((g) => g !== c && g.pid !== undefined);
  await stopInReverse(s, others);
  for (const g of group) {
    if (g.spec.restart === 'temporary' && g !== c) removeChild(s, g);
  }
  for (const g of group) {
    if (g.spec.restart === 'temporary' && g !== c) continue;
    const r = await startOne(s, g);
    if (r.type === 'error') {
      g.restarting = true;
      s.ctx.runtime.events.emit('supervisor', {
        kind: 'restart_failed',
        supervisor: s.ctx.self,
        childId: g.spec.id,
        reason: r.reason,
      });
      s.ctx.log.error(
        { child: g.spec.id, reason: reasonForLog(r.reason) },
        'child failed to restart: will retry',
      );
      GenServer.cast(s.ctx.runtime, s.ctx.self, { op: 'try_again_restart', child: g });
      return false;
    }
    g.restarts++;
    if (r.type === 'ignore' && g.spec.restart === 'temporary') removeChild(s, g);
    s.ctx.runtime.events.emit('supervisor', {
      kind: 'child_restarted',
      supervisor: s.ctx.self,
      childId: g.spec.id,
      pid: g.pid,
    });
    s.ctx.log.info({ child: g.spec.id, pid: String(g.pid), restarts: g.restarts }, 'child restarted');
  }
  return true;
}

function restartGroup(s: State, c: Child): Child[] {
  switch (s.flags.strategy) {
    case 'one_for_all':
      return [...s.children];
    case 'rest_for_one':
      return s.children.slice(s.children.indexOf(c));
    default:
      return [c];
  }
}

function removeChild(s: State, c: Child): void {
  if (isSofo(s)) {
    for (const [k, v] of s.dynamic) if (v === c) s.dynamic.delete(k);
  } else {
    const i = s.children.indexOf(c);
    if (i >= 0) s.children.splice(i, 1);
  }
}

function findByPid(s: State, pid: Pid): Child | undefined {
  if (isSofo(s)) {
    const c = s.dynamic.get(pid.id);
    if (c?.pid?.node === pid.node) return c;
    // a child being restarted is keyed by its old pid, negated (see childExited)
    const r = s.dynamic.get(-pid.id);
    return r?.restarting ? r : undefined;
  }
  return s.children.find((c) => c.pid !== undefined && c.pid.id === pid.id);
}

async function childExited(s: State, pid: Pid, reason: ExitReason): Promise<Next> {
  const c = findByPid(s, pid);
  if (c === undefined) return noreply(s);
  if (isSofo(s)) s.dynamic.delete(pid.id);
  c.pid = undefined;
  const normal = isNormalExit(reason);
  s.ctx.runtime.events.emit('supervisor', {
    kind: 'child_terminated',
    supervisor: s.ctx.self,
    childId: c.spec.id,
    pid,
    reason,
  });
  if (!shouldRestart(c.spec.restart, normal)) {
    if (normal) {
      if (s.ctx.log.isLevelEnabled('debug'))
        s.ctx.log.debug({ child: c.spec.id, reason: formatReason(reason) }, 'child ended');
    } else if (s.ctx.log.isLevelEnabled('warn'))
      s.ctx.log.warn(
        { child: c.spec.id, reason: formatReason(reason), restart: c.spec.restart },
        'child terminated: not restarted',
      );
    if (c.spec.restart === 'temporary' && !isSofo(s)) removeChild(s, c);
    return autoShutdown(s, c);
  }
  // The crash report (runtime) carries the stack; this line says what the supervisor decided.
  if (s.ctx.log.isLevelEnabled('warn'))
    s.ctx.log.warn(
      { child: c.spec.id, reason: formatReason(reason), strategy: s.flags.strategy },
      'child terminated: restarting',
    );
  if (!countRestart(s)) return giveUp(s, c, reason);
  if (isSofo(s)) s.dynamic.set(-pid.id, c);
  await restart(s, c);
  if (isSofo(s)) rekeyDynamic(s, c, -pid.id);
  return noreply(s);
}

/** A simple_one_for_one child is keyed by its pid: re-key it after a restart. */
function rekeyDynamic(s: State, c: Child, oldKey: number): void {
  s.dynamic.delete(oldKey);
  if (c.pid !== undefined) s.dynamic.set(c.pid.id, c);
  else if (c.restarting) s.dynamic.set(oldKey, c);
}

function autoShutdown(s: State, c: Child): Next {
  if (!c.spec.significant) return noreply(s);
  if (s.flags.autoShutdown === 'any_significant') return stop('shutdown', s);
  if (s.flags.autoShutdown === 'all_significant') {
    const all = isSofo(s) ? [...s.dynamic.values()] : s.children;
    if (!all.some((x) => x.spec.significant && x.pid !== undefined)) return stop('shutdown', s);
  }
  return noreply(s);
}

// ---- admin calls ----------------------------------------------------------------

async function adminCall(s: State, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'start_child':
      return startChildCall(s, req.arg);
    case 'terminate_child':
      return isSofo(s) ? terminateDynamic(s, req.arg) : terminateStatic(s, req.arg);
    case 'restart_child': {
      if (isSofo(s)) return { type: 'error', reason: 'simple_one_for_one' };
      const c = s.children.find((x) => x.spec.id === req.id);
      if (c === undefined) return { type: 'error', reason: 'not_found' };
      if (c.pid !== undefined) return { type: 'error', reason: 'running' };
      if (c.restarting) return { type: 'error', reason: 'restarting' };
      const r = await startOne(s, c);
      return r.type === 'ok' ? { type: 'ok', pid: r.pid } : r.type === 'ignore' ? { type: 'ok' } : r;
    }
    case 'delete_child': {
      if (isSofo(s)) return { type: 'error', reason: 'simple_one_for_one' };
      const c = s.children.find((x) => x.spec.id === req.id);
      if (c === undefined) return { type: 'error', reason: 'not_found' };
      if (c.pid !== undefined) return { type: 'error', reason: 'running' };
      if (c.restarting) return { type: 'error', reason: 'restarting' };
      removeChild(s, c);
      return { type: 'ok' };
    }
    case 'which_children':
      return whichChildren(s);
    case 'count_children': {
      const all = isSofo(s) ? [...s.dynamic.values()] : s.children;
      const counts: ChildCounts = {
        specs: isSofo(s) ? 1 : all.length,
        active: 0,
        supervisors: 0,
        workers: 0,
      };
      for (const c of all) {
        if (c.pid !== undefined) counts.active++;
        if (c.spec.type === 'supervisor') counts.supervisors++;
        else counts.workers++;
      }
      return counts;
    }
    case 'get_childspec': {
      const c = findSpec(s, req.id);
      return c === undefined ? { type: 'error', reason: 'not_found' } : { type: 'ok', spec: c };
    }
    case 'code_change':
      return codeChange(s, req.spec, req.apply);
  }
}

async function codeChange(
  s: State,
  given: SupervisorSpec | SupervisorInit,
  apply: boolean,
): Promise<CodeChangePlan> {
  let resolved: Resolved;
  try {
    resolved = await resolveSpec(given, s.ctx);
  } catch (err) {
    return { type: 'error', reason: err };
  }
  if (resolved.type === 'ignore')
    return {
      type: 'error',
      reason: { bad_return: { init: 'ignore: a running supervisor cannot become ignore' } },
    };
  if (resolved.type === 'stop') return { type: 'error', reason: resolved.reason };
  const { flags, children } = resolved;
  if ((flags.strategy === 'simple_one_for_one') !== isSofo(s))
    return {
      type: 'error',
      reason: { strategy_change: `${s.flags.strategy} -> ${flags.strategy}: restart the app instead` },
    };
  const before: SupervisorSpec = {
    flags: s.flags,
    children: isSofo(s) ? [s.template!] : s.children.map((c) => c.spec),
  };
  let kept: KeptChild[];
  let added: NormalizedChildSpec[] = [];
  let removed: string[] = [];
  if (isSofo(s)) {
    const pids = [...s.dynamic.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    kept = [{ id: children[0]!.id, old: s.template!, next: children[0]!, pids }];
    if (apply) s.template = children[0];
  } else {
    const byId = new Map(children.map((c) => [c.id, c]));
    const live = s.children.filter((c) => byId.has(c.spec.id));
    kept = live.map((c) => ({
      id: c.spec.id,
      old: c.spec,
      next: byId.get(c.spec.id)!,
      pids: c.pid === undefined ? [] : [c.pid],
    }));
    added = children.filter((n) => !s.children.some((c) => c.spec.id === n.id));
    removed = s.children.filter((c) => !byId.has(c.spec.id)).map((c) => c.spec.id);
    if (apply) for (const c of live) c.spec = byId.get(c.spec.id)!;
  }
  if (apply) {
    if (flags.intensity !== s.flags.intensity || flags.period !== s.flags.period)
      s.restarts = new RestartLog(flags);
    s.flags = flags;
  }
  return { type: 'ok', strategy: flags.strategy, kept, added, removed, before };
}

async function startChildCall(s: State, arg: ChildSpec | unknown[]): Promise<AdminResult> {
  if (isSofo(s)) {
    const c: Child = {
      spec: s.template!,
      pid: undefined,
      restarting: false,
      restarts: 0,
      extra: Array.isArray(arg) ? arg : [arg],
    };
    const r = await startOne(s, c);
    if (r.type === 'ok') s.dynamic.set(r.pid.id, c);
    return r.type === 'ok' ? { type: 'ok', pid: r.pid } : r.type === 'ignore' ? { type: 'ok' } : r;
  }
  let spec: NormalizedChildSpec;
  try {
    spec = normalizeChildSpec(arg as ChildSpec, s.flags);
  } catch (err) {
    return { type: 'error', reason: err };
  }
  const existing = s.children.find((x) => x.spec.id === spec.id);
  if (existing !== undefined)
    return {
      type: 'error',
      reason: existing.pid !== undefined ? { already_started: existing.pid } : 'already_present',
    };
  const c: Child = { spec, pid: undefined, restarting: false, restarts: 0, extra: [] };
  const r = await startOne(s, c);
  // OTP: {error, {Reason, Child}}, except {already_started, Pid} which passes as is
  if (r.type === 'error')
    return isAlreadyStarted(r.reason) ? r : { type: 'error', reason: { reason: r.reason, child: spec } };
  if (r.type === 'ok' || spec.restart !== 'temporary') s.children.push(c);
  return r.type === 'ok' ? { type: 'ok', pid: r.pid } : { type: 'ok' };
}

const isAlreadyStarted = (r: ExitReason): boolean =>
  typeof r === 'object' && r !== null && 'already_started' in r;

/**
 * OTP's find_child: static children by id; simple_one_for_one by the template's id, or
 * by a child's pid (a pid no longer alive counts as found; a live non-child does not).
 */
function findSpec(s: State, idOrPid: string | Pid): NormalizedChildSpec | undefined {
  if (!isSofo(s))
    return typeof idOrPid === 'string' ? s.children.find((x) => x.spec.id === idOrPid)?.spec : undefined;
  if (typeof idOrPid === 'string') return idOrPid === s.template!.id ? s.template : undefined;
  return findByPid(s, idOrPid) !== undefined || !s.ctx.runtime.isAlive(idOrPid) ? s.template : undefined;
}

/** Static children are found by id only (OTP: a pid is not an id, so `not_found`). */
async function terminateStatic(s: State, id: string | Pid): Promise<AdminResult> {
  const c = typeof id === 'string' ? s.children.find((x) => x.spec.id === id) : undefined;
  if (c === undefined) return { type: 'error', reason: 'not_found' };
  await stopOne(s, c);
  c.restarting = false;
  if (c.spec.restart === 'temporary') removeChild(s, c);
  return { type: 'ok' };
}

/**
 * simple_one_for_one (OTP 25): by id is `simple_one_for_one`; a child's pid (running or
 * being restarted) stops it; a pid that is no longer alive counts as found (`ok`); a
 * live pid that is not a child is `not_found`.
 */
async function terminateDynamic(s: State, pid: string | Pid): Promise<AdminResult> {
  if (typeof pid === 'string') return { type: 'error', reason: 'simple_one_for_one' };
  const c = findByPid(s, pid);
  if (c === undefined)
    return s.ctx.runtime.isAlive(pid) ? { type: 'error', reason: 'not_found' } : { type: 'ok' };
  const key = c.pid !== undefined ? c.pid.id : -pid.id;
  await stopOne(s, c);
  c.restarting = false;
  s.dynamic.delete(key);
  return { type: 'ok' };
}

const info = (s: State, c: Child): ChildInfo => ({
  id: isSofo(s) ? undefined : c.spec.id,
  pid: c.pid,
  status: statusOf(c),
  type: c.spec.type,
  restarts: c.restarts,
});

/**
 * OTP's which_children order: static children newest first (reverse start order, so a
 * child added by startChild comes first; a restart keeps a child's place).
 * simple_one_for_one: by pid, oldest first (a restarted child has a new pid and moves
 * to the end), children being restarted last; this is what OTP's pid-keyed map gives
 * for up to 32 children (OTP itself promises no order).
 */
function whichChildren(s: State): ChildInfo[] {
  if (!isSofo(s)) return s.children.map((c) => info(s, c)).reverse();
  const all = [...s.dynamic.values()];
  const key = (c: Child): number => (c.pid !== undefined ? c.pid.id : Number.MAX_SAFE_INTEGER);
  return all.sort((a, b) => key(a) - key(b)).map((c) => info(s, c));
}

/** The tree view's order: start order (oldest first), as `fife tree` prints it. */
function childrenInStartOrder(s: State): ChildInfo[] {
  return isSofo(s) ? whichChildren(s) : s.children.map((c) => info(s, c));
}

// ---- the behaviour --------------------------------------------------------------

interface InitArgs {
  spec: SupervisorSpec | SupervisorInit;
  app?: string;
}

type Resolved =
  | { type: 'spec'; flags: NormalizedFlags; children: NormalizedChildSpec[] }
  | { type: 'ignore' }
  | { type: 'stop'; reason: ExitReason };

/** Runs an init callback (a throw propagates: the start fails with what was thrown). */
async function resolveSpec(spec: SupervisorSpec | SupervisorInit, ctx: ProcessContext): Promise<Resolved> {
  let r: unknown = spec;
  if (typeof spec === 'function') {
    r = await spec(ctx);
    if (typeof r === 'object' && r !== null && (r as { type?: unknown }).type === 'ignore')
      return { type: 'ignore' };
    if (typeof r !== 'object' || r === null || !Array.isArray((r as SupervisorSpec).children)) {
      ctx.log.error(
        { returned: formatReason(r) },
        'supervisor init returned neither {flags, children} nor {type: "ignore"}: start fails',
      );
      return { type: 'stop', reason: { bad_return: { init: r } } };
    }
  }
  // OTP's reasons: bad flags {supervisor_data, _}; simple_one_for_one without exactly one
  // spec {bad_start_spec, _}; a bad child spec {start_spec, _}
  const given = r as SupervisorSpec;
  let stage = 'supervisor_data';
  try {
    const flags = normalizeFlags(given.flags);
    stage =
      flags.strategy === 'simple_one_for_one' && given.children.length !== 1
        ? 'bad_start_spec'
        : 'start_spec';
    return { type: 'spec', ...normalizeSupervisorSpec(given) };
  } catch (err) {
    if (!(err instanceof ChildSpecError)) throw err;
    ctx.log.error({ err: err.message }, 'supervisor init returned a bad spec: start fails');
    return { type: 'stop', reason: { [stage]: err.message } };
  }
}

const behaviour: GenServerBehaviour<State, InitArgs, Request, { op: 'try_again_restart'; child: Child }> = {
  name: 'supervisor',

  async init({ spec: given, app }, ctx) {
    ctx.trapExit(true);
    const spec = await resolveSpec(given, ctx);
    if (spec.type === 'ignore') return ignore();
    if (spec.type === 'stop') return stop(spec.reason);
    const { flags, children } = spec;
    const s: State = {
      flags,
      children: [],
      dynamic: new Map(),
      template: undefined,
      restarts: new RestartLog(flags),
      ctx,
      app,
    };
    if (flags.strategy === 'simple_one_for_one') {
      s.template = children[0];
      return ok(s);
    }
    for (const spec of children) {
      const c: Child = { spec, pid: undefined, restarting: false, restarts: 0, extra: [] };
      const r = await startOne(s, c);
      if (r.type === 'error') {
        await stopInReverse(s, s.children);
        ctx.log.error(
          { child: spec.id, reason: reasonForLog(r.reason) },
          'child failed to start: supervisor start fails',
        );
        return stop({ shutdown: { failed_to_start_child: spec.id, reason: r.reason } });
      }
      if (r.type === 'ok' || spec.restart !== 'temporary') s.children.push(c);
    }
    return ok(s);
  },

  async handleCall(req, _from, s) {
    return reply(await adminCall(s, req), s);
  },

  async handleCast(msg, s) {
    const c = msg.child;
    if (!c.restarting) return noreply(s);
    if (!countRestart(s)) return giveUp(s, c, 'restart failed');
    const oldKey = [...s.dynamic].find(([, v]) => v === c)?.[0];
    await restart(s, c);
    if (isSofo(s) && oldKey !== undefined) rekeyDynamic(s, c, oldKey);
    return noreply(s);
  },

  async handleInfo(msg, s) {
    if (isExitMessage(msg)) return childExited(s, msg.from, msg.reason);
    return unexpected(msg, s);
  },

  async terminate(_reason, s) {
    await stopAll(s);
  },

  describe(s) {
    return {
      strategy: s.flags.strategy,
      intensity: s.flags.intensity,
      period: s.flags.period,
      children: childrenInStartOrder(s),
    };
  },
};

// ---- API ------------------------------------------------------------------------

/**
 * Starts a supervisor from a fixed spec (a bad one throws a ChildSpecError at once,
 * nothing started) or from an init callback run inside the new supervisor (OTP's
 * `Module:init/1`): `ignore` resolves `{type: 'ignore'}`; a throw, a bad return
 * (`{bad_return: {init: value}}`) or a bad spec (`{start_spec: message}`) resolves
 * `{type: 'error', reason}`, and the supervisor exits with that reason.
 */
export function startSupervisor(
  rt: Runtime,
  spec: SupervisorSpec | SupervisorInit,
  opts: StartOptions = {},
): Promise<StartResult> {
  if (typeof spec !== 'function') normalizeSupervisorSpec(spec);
  return GenServer.start(rt, behaviour, { spec, app: opts.app }, opts);
}

/** A child spec that runs a supervisor (type supervisor, shutdown infinity); `spec` may be an init callback. */
export function supervisorChildSpec(
  id: string,
  spec: SupervisorSpec | SupervisorInit,
  opts: Omit<ChildSpec, 'id' | 'start'> & { name?: string } = {},
): ChildSpec {
  const { name, ...rest } = opts;
  return {
    id,
    type: 'supervisor',
    shutdown: 'infinity',
    ...rest,
    supervisor: spec,
    start: (ctx) => startSupervisor(ctx.runtime, spec, { link: ctx.parent, name, app: ctx.app }),
  };
}

const adminCallTo = <T>(rt: Runtime, sup: Pid | string, req: Request): Promise<T> =>
  GenServer.call<T>(rt, sup, req, 'infinity');

export const Supervisor = {
  start: startSupervisor,
  childSpec: supervisorChildSpec,
  startChild: (rt: Runtime, sup: Pid | string, arg: ChildSpec | unknown[]) =>
    adminCallTo<AdminResult>(rt, sup, { op: 'start_child', arg }),
  terminateChild: (rt: Runtime, sup: Pid | string, idOrPid: string | Pid) =>
    adminCallTo<AdminResult>(rt, sup, { op: 'terminate_child', arg: idOrPid }),
  restartChild: (rt: Runtime, sup: Pid | string, id: string) =>
    adminCallTo<AdminResult>(rt, sup, { op: 'restart_child', id }),
  deleteChild: (rt: Runtime, sup: Pid | string, id: string) =>
    adminCallTo<AdminResult>(rt, sup, { op: 'delete_child', id }),
  whichChildren: (rt: Runtime, sup: Pid | string) =>
    adminCallTo<ChildInfo[]>(rt, sup, { op: 'which_children' }),
  countChildren: (rt: Runtime, sup: Pid | string) =>
    adminCallTo<ChildCounts>(rt, sup, { op: 'count_children' }),
  /** See the contract: a code change's plan, applied to the specs when `apply`. */
  codeChange: (rt: Runtime, sup: Pid | string, spec: SupervisorSpec | SupervisorInit, apply: boolean) =>
    adminCallTo<CodeChangePlan>(rt, sup, { op: 'code_change', spec, apply }),
  getChildSpec: (rt: Runtime, sup: Pid | string, id: string | Pid) =>
    adminCallTo<{ type: 'ok'; spec: NormalizedChildSpec } | { type: 'error'; reason: string }>(rt, sup, {
      op: 'get_childspec',
      id,
    }),
};

export { ChildSpecError };
