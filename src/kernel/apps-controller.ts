/**
 * Apps controller (whapps_controller): starts and stops WhApps at runtime.
 *
 * An app is an AppDefinition: a name, the apps it needs running first (`deps`), a restart
 * type and its root tree (a SupervisorSpec built from the node's services, declared in
 * supervisors/NAME.sup.ts). The controller is a gen_server registered as
 * `apps_controller`, trapping exits, linked to each app's root supervisor.
 *
 * Contract
 * - `startApp(name)`: starts the app's deps first (those not yet running), then its root
 *   supervisor; resolves `{type:'ok'}` once the whole tree is up, or `{type:'error',
 *   reason}` (unknown app, dependency cycle, a dep or the tree failing to start). Starting
 *   a running app is `{type:'error', reason:'already_started'}`. An app whose tree fails to
 *   start is left `failed` with that reason as its last failure (`startApp` may try again).
 * - `stopApp(name)`: stops the app's root supervisor with `shutdown` (its children stop in
 *   reverse order within their shutdown budgets) and resolves when the tree is gone. Other
 *   apps are untouched, including apps that depend on it (as OTP). `restartApp` is stop
 *   then start.
 * - `runningApps()`: names of running apps in start order; `appsStatus()`: every known app
 *   with state (running | stopped | failed), pid, restarts and last failure.
 * - Last failure is the real cause: a root supervisor that reaches its restart intensity
 *   exits `shutdown`, so the controller keeps, per app, the reason its supervisors last
 *   gave up with (the kernel's `supervisor` `gave_up` events; a `shutdown` escalated
 *   from a nested supervisor keeps the deeper reason). A tree that ends with `shutdown`
 *   is reported with that cause (`lastFailure`, the `crashed` event's and the log line's
 *   `cause`).
 * - `upgradeApp(name, def)`: moves the running app to a new definition of itself (a new
 *   version of a plugin), as OTP's release handler does: see app-upgrade.ts. On success
 *   the new definition replaces the old one (its version shows in `appsStatus`, later
 *   restarts use its tree); on failure the old version runs on and the result says why.
 *   A stopped app just takes the new definition. Logged and published (`app` events
 *   `upgraded` / `upgrade_failed`).
 * - `operation(name, op)`: an operator operation the app declares, bound to the node's
 *   services, if the app runs (`unknown_app`, `unknown_operation`, `not_started` else).
 * - An app tree that ends by itself (its root supervisor gave up) is logged at error level
 *   and published (`app` event `crashed`). It ended abnormally unless its reason is
 *   `normal`, or `shutdown` with no supervisor having given up (an auto_shutdown). Then,
 *   by the definition's restart policy (`restart`): `permanent` (the default): restarted;
 *   `transient`: restarted after an abnormal end; `temporary`: not restarted. Restarts
 *   are limited per app (default 3 within 60 s); past the limit, or when a restart fails,
 *   the app is left `failed` and published (`gave_up`). A restart waits until every
 *   process of the old tree is gone (a root killed outright leaves children that trap
 *   exits still terminating, their names still registered), at most LEFTOVER_MS; those
 *   still alive then are killed.
 * - Application types (OTP's application:start/2 types), per app from the node config
 *   (`types`, default `temporary`), decide what an app that ended for good (past its
 *   limit, a failed restart, or not restarted by its policy) does to the node:
 *   `permanent`: the node stops; `transient`: the node stops if the app ended abnormally;
 *   `temporary`: the app is left stopped or failed and reported, the node goes on. A
 *   node-stopping end is logged at fatal level (app, type, reason) and published as the
 *   `app` event `halts_node` {app, type, reason}: the node's owner stops the node
 *   (node.ts, daemon.ts). An operator's stop never does.
 *
 * Differences from OTP: OTP does not restart applications; Fife's controller restarts an
 * app within its limit before its type applies, whatever the type.
 */
import {
  GenServer,
  ok,
  reply,
  noreply,
  unexpected,
  type GenServerBehaviour,
  type StartResult,
} from './gen-server.ts';
import { startSupervisor } from './supervisor.ts';
import { upgradeTree, type UpgradeResult } from './app-upgrade.ts';
import { RestartLog, type IntensityLimit } from './restart-intensity.ts';
import { isExitMessage, type ProcessContext } from './process.ts';
import { formatReason, reasonForLog, isShutdown, NORMAL, type ExitReason } from './exit-reason.ts';
import type { SupervisorEvent } from './events.ts';
import type { SupervisorSpec } from './child-spec.ts';
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';
import { DEFAULT_APP_TYPE, type AppType } from './app-types.ts';
export { APP_TYPES, DEFAULT_APP_TYPE, type AppType } from './app-types.ts';

export type AppRestart = 'permanent' | 'transient' | 'temporary';

export interface AppDefinition<Env = unknown> {
  name: string;
  version?: string;
  description?: string;
  deps?: string[];
  restart?: AppRestart;
  /** The app's root supervisor spec; receives the node's services. */
  tree: (env: Env) => SupervisorSpec;
  /** Passed as `extra` to every codeChange when a running app is upgraded to this definition. */
  codeChangeExtra?: unknown;
  /** Restart limit of the app as a whole (default 3 in 60 s). */
  maxRestarts?: IntensityLimit;
  /**
   * Operator operations the app offers (e.g. the registrar's add_account): run with the
   * node's services on a node where the app runs (admin endpoint), and by the CLI against
   * the configured store when no node runs. A thrown error with a `code` (invalid,
   * not_found, conflict) is the operator's mistake; anything else a failure.
   */
  operations?: Record<string, AppOperation<Env>>;
}

export type AppOperation<Env = unknown> = (input: Record<string, unknown>, env: Env) => Promise<unknown>;

export type AppState = 'running' | 'stopped' | 'failed';

export interface AppStatus {
  name: string;
  version?: string;
  state: AppState;
  type: AppType;
  pid?: Pid;
  restarts: number;
  lastFailure?: string;
  /** Unix ms of the app's last start, while it runs. */
  startedAt?: number;
}

interface Entry {
  def: AppDefinition<any>;
  type: AppType;
  pid: Pid | undefined;
  state: AppState;
  restarts: number;
  history: RestartLog;
  lastFailure?: string;
  startedSeq: number;
  startedAt?: number;
}

interface State {
  apps: Map<string, Entry>;
  /** Per app, the reason one of its supervisors last gave up with (see the contract). */
  causes: Map<string, ExitReason>;
  env: unknown;
  ctx: ProcessContext;
  seq: number;
  types: Readonly<Record<string, AppType>>;
}

type Request =
  | { op: 'start'; name: string }
  | { op: 'stop'; name: string }
  | { op: 'restart'; name: string }
  | { op: 'register'; def: AppDefinition<any> }
  | { op: 'upgrade'; name: string; def: AppDefinition<any> }
  | { op: 'running' }
  | { op: 'status' }
  | { op: 'operation'; name: string; operation: string };

export type AppResult = { type: 'ok' } | { type: 'error'; reason: ExitReason };

export const APPS_CONTROLLER = 'apps_controller';
const DEFAULT_LIMIT: IntensityLimit = { intensity: 3, period: 60 };
const LEFTOVER_MS = 10_000;

/** Resolves once no process of `app` is alive; past LEFTOVER_MS the rest are killed. */
async function oldTreeGone(s: State, app: string): Promise<void> {
  const rt = s.ctx.runtime;
  const left = rt.processes().filter((p) => rt.info(p)?.app === app);
  if (left.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), LEFTOVER_MS)));
  const gone = await Promise.race([Promise.all(left.map((p) => rt.awaitExit(p))), late]);
  clearTimeout(timer);
  if (gone !== 'late') return;
  const alive = left.filter((p) => rt.isAlive(p));
  s.ctx.log.error(
    { app, pids: alive.map(String) },
    'processes of the old tree still alive after 10 s: killed before the restart',
  );
  await Promise.all(
    alive.map((p) => {
      const exited = rt.awaitExit(p);
      rt.exit(p, 'kill');
      return exited;
    }),
  );
}

async function startTree(s: State, e: Entry): Promise<StartResult> {
  let spec: SupervisorSpec;
  try {
    spec = e.def.tree(s.env);
    return await startSupervisor(s.ctx.runtime, spec, { link: s.ctx.self, app: e.def.name });
  } catch (err) {
    return { type: 'error', reason: err };
  }
}

async function startApp(s: State, name: string, path: string[] = []): Promise<AppResult> {
  const e = s.apps.get(name);
  if (e === undefined) return { type: 'error', reason: { unknown_app: name, known: [...s.apps.keys()] } };
  if (path.includes(name)) return { type: 'error', reason: { dependency_cycle: [...path, name] } };
  if (e.state === 'running') return { type: 'error', reason: 'already_started' };
  for (const dep of e.def.deps ?? []) {
    if (s.apps.get(dep)?.state === 'running') continue;
    const r = await startApp(s, dep, [...path, name]);
    if (r.type === 'error')
      return { type: 'error', reason: { dependency_failed: dep, app: name, reason: r.reason } };
  }
  const r = await startTree(s, e);
  if (r.type !== 'ok') {
    const reason = r.type === 'error' ? r.reason : 'ignore';
    e.state = 'failed';
    e.lastFailure = formatReason(reason);
    s.ctx.runtime.events.emit('app', { kind: 'start_failed', app: name, reason });
    s.ctx.log.error({ app: name, reason: reasonForLog(reason) }, 'app failed to start');
    return { type: 'error', reason };
  }
  e.pid = r.pid;
  e.state = 'running';
  s.causes.delete(name);
  e.startedSeq = ++s.seq;
  e.startedAt = Date.now();
  s.ctx.runtime.events.emit('app', { kind: 'started', app: name });
  s.ctx.log.info({ app: name, version: e.def.version }, 'app started');
  return { type: 'ok' };
}

async function stopApp(s: State, name: string): Promise<AppResult> {
  const e = s.apps.get(name);
  if (e === undefined) return { type: 'error', reason: { unknown_app: name } };
  if (e.state !== 'running' || e.pid === undefined) return { type: 'error', reason: 'not_started' };
  const pid = e.pid;
  e.pid = undefined;
  e.state = 'stopped';
  s.ctx.unlink(pid);
  const exited = s.ctx.runtime.awaitExit(pid);
  s.ctx.exit(pid, 'shutdown');
  await exited;
  s.ctx.runtime.events.emit('app', { kind: 'stopped', app: name });
  s.ctx.log.info({ app: name }, 'app stopped');
  return { type: 'ok' };
}

async function treeEnded(s: State, pid: Pid, reason: ExitReason): Promise<void> {
  const e = [...s.apps.values()].find((x) => x.pid?.id === pid.id);
  if (e === undefined) return;
  const name = e.def.name;
  e.pid = undefined;
  e.state = 'stopped';
  const cause = isShutdown(reason) ? s.causes.get(name) : undefined;
  s.causes.delete(name);
  const abnormal = !(reason === NORMAL || (isShutdown(reason) && cause === undefined));
  e.lastFailure = formatReason(cause ?? reason);
  s.ctx.runtime.events.emit('app', {
    kind: 'crashed',
    app: name,
    reason,
    ...(cause === undefined ? {} : { cause }),
  });
  s.ctx.log.error(
    {
      app: name,
      reason: reasonForLog(reason),
      ...(cause === undefined ? {} : { cause: reasonForLog(cause) }),
    },
    'app tree gave up',
  );
  const restart = e.def.restart ?? 'permanent';
  if (restart === 'temporary' || (restart === 'transient' && !abnormal)) {
    s.ctx.log.warn({ app: name, restart }, 'app left stopped (restart policy)');
    return endedForGood(s, e, cause ?? reason, abnormal);
  }
  if (!e.history.add(s.ctx.runtime.now())) return giveUp(s, e, cause ?? reason);
  e.restarts++;
  await oldTreeGone(s, name);
  const r = await startApp(s, name);
  if (r.type === 'ok')
    s.ctx.runtime.events.emit('app', { kind: 'restarted', app: name, reason: cause ?? reason });
  else giveUp(s, e, r.reason);
}

async function upgradeApp(s: State, name: string, def: AppDefinition<any>): Promise<UpgradeResult> {
  const e = s.apps.get(name);
  const { runtime, log } = s.ctx;
  let r: UpgradeResult;
  if (e === undefined) r = { type: 'error', reason: { unknown_app: name, known: [...s.apps.keys()] } };
  else if (def?.name !== name || typeof def.tree !== 'function')
    r = {
      type: 'error',
      reason: { not_this_app: `the new definition is named '${String(def?.name)}', not '${name}'` },
    };
  else if (e.state !== 'running' || e.pid === undefined)
    r = {
      type: 'ok',
      app: name,
      from: e.def.version,
      to: def.version,
      changed: [],
      restarted: [],
      added: [],
      removed: [],
    };
  else
    r = await upgradeTree({
      rt: runtime,
      log,
      app: name,
      root: e.pid,
      tree: () => def.tree(s.env),
      fromVsn: e.def.version,
      toVsn: def.version,
      extra: def.codeChangeExtra,
    });
  if (r.type === 'error') {
    runtime.events.emit('app', { kind: 'upgrade_failed', app: name, reason: r.reason });
    log.error(
      { app: name, from: e?.def.version, to: def?.version, reason: reasonForLog(r.reason) },
      'app upgrade failed: the old version runs on',
    );
    return r;
  }
  e!.def = def;
  runtime.events.emit('app', { kind: 'upgraded', app: name });
  const { changed, restarted, added, removed } = r;
  log.info({ app: name, from: r.from, to: r.to, changed, restarted, added, removed }, 'app upgraded');
  return r;
}

function giveUp(s: State, e: Entry, reason: ExitReason): void {
  e.state = 'failed';
  s.ctx.runtime.events.emit('app', { kind: 'gave_up', app: e.def.name, reason, type: e.type });
  endedForGood(s, e, reason, true);
}

/** The app will not run again by itself: its type decides whether the node stops. */
function endedForGood(s: State, e: Entry, reason: ExitReason, abnormal: boolean): void {
  const app = e.def.name;
  const fields = { app, type: e.type, reason: reasonForLog(reason), restarts: e.restarts };
  if (e.type === 'permanent' || (e.type === 'transient' && abnormal)) {
    s.ctx.log.fatal(fields, `app failed for good: the node stops (${e.type} app)`);
    s.ctx.runtime.events.emit('app', { kind: 'halts_node', app, reason, type: e.type });
  } else if (abnormal) {
    s.ctx.log.fatal(fields, 'app failed for good: left stopped; the node goes on without it');
  } else s.ctx.log.warn(fields, 'app ended: left stopped; the node goes on without it');
}

function status(s: State): AppStatus[] {
  return [...s.apps.values()].map((e) => ({
    name: e.def.name,
    version: e.def.version,
    state: e.state,
    type: e.type,
    pid: e.pid,
    restarts: e.restarts,
    lastFailure: e.lastFailure,
    startedAt: e.state === 'running' ? e.startedAt : undefined,
  }));
}

interface InitArgs {
  env: unknown;
  apps: AppDefinition<any>[];
  /** Application type per app name (the node config's `appTypes`); DEFAULT_APP_TYPE else. */
  types?: Readonly<Record<string, AppType>>;
}

const newEntry = (def: AppDefinition<any>, types: Readonly<Record<string, AppType>>): Entry => ({
  def,
  type: types[def.name] ?? DEFAULT_APP_TYPE,
  pid: undefined,
  state: 'stopped',
  restarts: 0,
  history: new RestartLog(def.maxRestarts ?? DEFAULT_LIMIT),
  startedSeq: 0,
});

const behaviour: GenServerBehaviour<State, InitArgs, Request> = {
  name: 'apps_controller',
  init({ env, apps, types = {} }, ctx) {
    ctx.trapExit(true);
    const s: State = { apps: new Map(), causes: new Map(), env, ctx, seq: 0, types };
    const onSupervisor = (ev: SupervisorEvent): void => {
      if (ev.kind !== 'gave_up') return;
      // Runs as the supervisor gives up, before its exit reaches the controller.
      const app = ctx.runtime.info(ev.supervisor)?.app;
      if (app === undefined || !s.apps.has(app) || (isShutdown(ev.reason) && s.causes.has(app))) return;
      s.causes.set(app, ev.reason);
    };
    ctx.runtime.events.on('supervisor', onSupervisor);
    ctx.signal.addEventListener('abort', () => ctx.runtime.events.off('supervisor', onSupervisor), {
      once: true,
    });
    for (const def of apps) s.apps.set(def.name, newEntry(def, types));
    for (const name of Object.keys(types))
      if (!s.apps.has(name)) ctx.log.warn({ app: name }, 'an application type names an unknown app');
    return ok(s);
  },
  async handleCall(req, _from, s) {
    switch (req.op) {
      case 'start':
        return reply(await startApp(s, req.name), s);
      case 'stop':
        return reply(await stopApp(s, req.name), s);
      case 'restart': {
        const stopped = await stopApp(s, req.name);
        return reply(
          stopped.type === 'ok' || stopped.reason === 'not_started' ? await startApp(s, req.name) : stopped,
          s,
        );
      }
      case 'upgrade':
        return reply(await upgradeApp(s, req.name, req.def), s);
      case 'register':
        if (s.apps.has(req.def.name)) return reply({ type: 'error', reason: 'already_registered' }, s);
        s.apps.set(req.def.name, newEntry(req.def, s.types));
        return reply({ type: 'ok' }, s);
      case 'running':
        return reply(
          [...s.apps.values()]
            .filter((e) => e.state === 'running')
            .sort((a, b) => a.startedSeq - b.startedSeq)
            .map((e) => e.def.name),
          s,
        );
      case 'status':
        return reply(status(s), s);
      case 'operation': {
        const e = s.apps.get(req.name);
        if (e === undefined) return reply({ type: 'error', reason: 'unknown_app' }, s);
        const fn = e.def.operations?.[req.operation];
        if (fn === undefined)
          return reply(
            { type: 'error', reason: 'unknown_operation', known: Object.keys(e.def.operations ?? {}) },
            s,
          );
        if (e.state !== 'running') return reply({ type: 'error', reason: 'not_started' }, s);
        const env = s.env;
        return reply({ type: 'ok', run: (input: Record<string, unknown>) => fn(input, env) }, s);
      }
    }
  },
  async handleInfo(msg, s) {
    if (!isExitMessage(msg)) return unexpected(msg, s);
    await treeEnded(s, msg.from, msg.reason);
    return noreply(s);
  },
  async terminate(_reason, s) {
    const running = [...s.apps.values()]
      .filter((e) => e.state === 'running')
      .sort((a, b) => b.startedSeq - a.startedSeq);
    for (const e of running) await stopApp(s, e.def.name);
  },
  describe(s) {
    return { apps: status(s) };
  },
};

const callController = <T>(
  rt: Runtime,
  req: Request,
  timeout: number | 'infinity' = 'infinity',
): Promise<T> => GenServer.call<T>(rt, APPS_CONTROLLER, req, timeout);

export const AppsController = {
  /** Starts the controller (registered as apps_controller) knowing `apps`. */
  start: (rt: Runtime, args: InitArgs, opts: { link?: Pid } = {}) =>
    GenServer.start(rt, behaviour, args, { ...opts, name: APPS_CONTROLLER }),
  childSpec: (args: InitArgs) => ({
    id: APPS_CONTROLLER,
    shutdown: 'infinity' as const,
    start: (ctx: { runtime: Runtime; parent: Pid }) =>
      GenServer.start(ctx.runtime, behaviour, args, { link: ctx.parent, name: APPS_CONTROLLER }),
  }),
  startApp: (rt: Runtime, name: string) => callController<AppResult>(rt, { op: 'start', name }),
  stopApp: (rt: Runtime, name: string) => callController<AppResult>(rt, { op: 'stop', name }),
  restartApp: (rt: Runtime, name: string) => callController<AppResult>(rt, { op: 'restart', name }),
  registerApp: (rt: Runtime, def: AppDefinition<any>) =>
    callController<AppResult>(rt, { op: 'register', def }),
  /** Moves a running app to a new definition of itself (see the contract and app-upgrade.ts). */
  upgradeApp: (rt: Runtime, name: string, def: AppDefinition<any>) =>
    callController<UpgradeResult>(rt, { op: 'upgrade', name, def }),
  runningApps: (rt: Runtime) => callController<string[]>(rt, { op: 'running' }),
  /** The controller answers between its operations: an app start in progress (which may
   *  take seconds) delays the answer, hence the optional timeout (a CallError past it). */
  appsStatus: (rt: Runtime, timeout: number | 'infinity' = 'infinity') =>
    callController<AppStatus[]>(rt, { op: 'status' }, timeout),
  /** An operation of a running app, bound to the node's services (run it outside the controller). */
  operation: (rt: Runtime, name: string, operation: string) =>
    callController<
      | { type: 'ok'; run: (input: Record<string, unknown>) => Promise<unknown> }
      | { type: 'error'; reason: string; known?: string[] }
    >(rt, { op: 'operation', name, operation }),
};
