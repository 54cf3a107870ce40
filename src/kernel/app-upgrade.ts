/**
 * Moves a running app tree to a new version of its code, as OTP's release handler does
 * with an appup (suspend, code_change, resume; supervisors given their new child specs).
 * The apps controller runs it (`AppsController.upgradeApp`); the node loads the new
 * module (src/node/app-loader.ts).
 *
 * Contract: `upgradeTree({rt, log, app, root, tree, fromVsn, toVsn, extra})`
 * 1. Plan, changing nothing: the new root spec (`tree()`, checked whole), then every
 *    supervisor of the running tree, top down, is asked what the new spec keeps, adds
 *    and drops (Supervisor.codeChange without apply; a nested supervisor's own spec or
 *    init callback comes from its new child spec). A throwing `tree()`, a bad spec or a
 *    strategy change refuses the upgrade here.
 *    For each kept worker, by the behaviour its old and new child specs name:
 *    - the same behaviour object: left alone (code the upgrade does not touch);
 *    - a new behaviour with `codeChange`: changed in place (step 4), the process and its
 *      mailbox kept (for simple_one_for_one, every live child);
 *    - otherwise: restarted by its supervisor with the new spec (step 3); a
 *      simple_one_for_one child (a call, a session) runs its old code until it ends and
 *      its supervisor starts new ones from the new template.
 * 2. Workers changed in place: all suspended (their mailboxes hold what arrives), each
 *    new behaviour's codeChange run on its state; only when every one succeeded are they
 *    committed (behaviour and state swapped), then all resumed. A suspension that times
 *    out or a codeChange that throws resumes every one of them on its old code and state,
 *    and the upgrade stops there: nothing was changed.
 * 3. Every supervisor takes its new specs (restarts use them from now on).
 * 4. Workers to restart: terminateChild then restartChild, their slot open for a hand-over
 *    meanwhile (restart-handover.ts: a gen_listener hands its queue and consumer to its
 *    successor, so no message is lost); added children: startChild.
 *    A failure here puts the old specs back, restarts again on its old spec what had been
 *    restarted and stops what had been added; the processes changed in step 2 cannot go
 *    back (that would need a downgrade codeChange) and stay on the new code: the error
 *    lists them (`changed_in_place_stay_new`).
 * 5. Dropped children: terminateChild then deleteChild (a failure is logged).
 * A refusal is `{type:'error', reason}` saying which step and child failed, and why.
 *
 * Limits (OTP has them too): a process busy in a call to another process being
 * suspended waits for that call's timeout and fails the suspension (the upgrade is then
 * refused, nothing changed). Only gen_servers (and what is built on them: gen_listener,
 * supervisors) can be changed in place.
 */
import { GenServer, type GenServerBehaviour, type Suspended } from './gen-server.ts';
import { Supervisor, type CodeChangePlan } from './supervisor.ts';
import { normalizeSupervisorSpec, type SupervisorInit, type SupervisorSpec } from './child-spec.ts';
import { formatReason, reasonForLog, type ExitReason } from './exit-reason.ts';
import { Handover } from './restart-handover.ts';
import type { Logger } from './log.ts';
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';

export interface UpgradeReport {
  type: 'ok';
  app: string;
  from: string | undefined;
  to: string | undefined;
  /** Workers moved to the new code in place, their state through codeChange (by child id path). */
  changed: string[];
  /** Workers restarted by their supervisor with the new child spec. */
  restarted: string[];
  added: string[];
  removed: string[];
}

export type UpgradeResult = UpgradeReport | { type: 'error'; reason: ExitReason };

export interface UpgradeRequest {
  rt: Runtime;
  log: Logger;
  app: string;
  /** The app's root supervisor. */
  root: Pid;
  /** Builds the new root spec (the new AppDefinition's tree with the node's services). */
  tree: () => SupervisorSpec;
  fromVsn: string | undefined;
  toVsn: string | undefined;
  extra?: unknown;
  /** How long a process may take to get to its suspension (default 5000 ms, as OTP's sys). */
  suspendTimeoutMs?: number;
}

type OkPlan = Extract<CodeChangePlan, { type: 'ok' }>;

interface SupStep {
  sup: Pid;
  label: string;
  spec: SupervisorSpec | SupervisorInit;
  plan: OkPlan;
}

interface Plan {
  sups: SupStep[];
  inPlace: Array<{ pid: Pid; label: string; next: GenServerBehaviour<any, any, any, any> }>;
  restarts: Array<{ sup: Pid; id: string; label: string }>;
  added: Array<{ sup: Pid; step: SupStep; label: string; id: string }>;
  removed: Array<{ sup: Pid; id: string; label: string }>;
}

/** A refusal with the reason the result carries. */
class Refused extends Error {
  constructor(readonly reason: ExitReason) {
    super(formatReason(reason));
  }
}

const join = (path: string, id: string): string => (path === '' ? id : `${path}/${id}`);
const message = (err: unknown): string => (err instanceof Error ? err.message : formatReason(err));

async function planTree(rt: Runtime, root: Pid, spec: SupervisorSpec): Promise<Plan> {
  const plan: Plan = { sups: [], inPlace: [], restarts: [], added: [], removed: [] };
  const walk = async (sup: Pid, given: SupervisorSpec | SupervisorInit, path: string): Promise<void> => {
    const r = await Supervisor.codeChange(rt, sup, given, false);
    if (r.type === 'error') throw new Refused({ bad_tree: path === '' ? 'root' : path, reason: r.reason });
    const step: SupStep = { sup, label: path, spec: given, plan: r };
    plan.sups.push(step);
    const sofo = r.strategy === 'simple_one_for_one';
    for (const id of r.removed) plan.removed.push({ sup, id, label: join(path, id) });
    for (const a of r.added) plan.added.push({ sup, step, id: a.id, label: join(path, a.id) });
    for (const k of r.kept) {
      const label = join(path, k.id);
      if (k.next.type === 'supervisor') {
        if (sofo) continue;
        if (k.next.supervisor !== undefined && k.old.supervisor !== undefined) {
          if (k.pids[0] !== undefined) await walk(k.pids[0], k.next.supervisor, label);
        } else if (k.pids[0] !== undefined) plan.restarts.push({ sup, id: k.id, label });
        continue;
      }
      if (k.next.behaviour !== undefined && k.next.behaviour === k.old.behaviour) continue;
      if (k.next.behaviour?.codeChange !== undefined && k.old.behaviour !== undefined) {
        for (const pid of k.pids) plan.inPlace.push({ pid, label, next: k.next.behaviour });
        continue;
      }
      if (!sofo && k.pids[0] !== undefined) plan.restarts.push({ sup, id: k.id, label });
    }
  };
  await walk(root, spec, '');
  return plan;
}

/** Suspends every in-place worker, runs codeChange on each, commits all or none. */
async function changeInPlace(req: UpgradeRequest, plan: Plan): Promise<void> {
  const { rt } = req;
  const timeout = req.suspendTimeoutMs ?? 5000;
  const tries = await Promise.allSettled(plan.inPlace.map((x) => GenServer.suspend(rt, x.pid, timeout)));
  const held = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
  try {
    tries.forEach((t, i) => {
      // (all suspended, or none is changed: held[i] is then inPlace[i]'s)
      if (t.status === 'rejected')
        throw new Refused({ suspend_failed: plan.inPlace[i]!.label, reason: message(t.reason) });
    });
    for (let i = 0; i < plan.inPlace.length; i++) {
      const x = plan.inPlace[i]!;
      try {
        await (held[i] as Suspended).prepare(x.next, req.fromVsn, req.extra);
      } catch (err) {
        throw new Refused({ code_change_failed: x.label, reason: message(err) });
      }
    }
    for (let i = 0; i < held.length; i++) {
      try {
        await held[i]!.commit();
      } catch (err) {
        // Already on the new code: its supervisor restarts it (with the new spec).
        req.log.error(
          { app: req.app, child: plan.inPlace[i]!.label, err: reasonForLog(err) },
          'codeChanged failed after the swap: the process is restarted',
        );
        rt.crash(held[i]!.pid, err);
      }
    }
  } finally {
    for (const h of held) h.resume();
  }
}

/** Puts the old specs back and restarts on them what the upgrade had restarted or added. */
async function revert(
  req: UpgradeRequest,
  applied: SupStep[],
  restarted: Plan['restarts'],
  added: Plan['added'],
): Promise<void> {
  const { rt, log } = req;
  const step = async (what: string, run: () => Promise<unknown>): Promise<void> => {
    try {
      const r = (await run()) as { type?: string; reason?: unknown } | undefined;
      if (r?.type === 'error')
        log.error({ app: req.app, what, reason: reasonForLog(r.reason) }, 'upgrade: undo step failed');
    } catch (err) {
      log.error({ app: req.app, what, err: reasonForLog(err) }, 'upgrade: undo step failed');
    }
  };
  for (const a of added) {
    await step(`stop added ${a.label}`, () => Supervisor.terminateChild(rt, a.sup, a.id));
    await step(`delete added ${a.label}`, () => Supervisor.deleteChild(rt, a.sup, a.id));
  }
  for (const s of applied)
    await step(`old specs of ${s.label || 'root'}`, () =>
      Supervisor.codeChange(rt, s.sup, s.plan.before, true),
    );
  for (const r of restarted) {
    Handover.open(rt, r.sup, r.id);
    await step(`stop ${r.label}`, () => Supervisor.terminateChild(rt, r.sup, r.id));
    await step(`restart ${r.label} on its old spec`, () => Supervisor.restartChild(rt, r.sup, r.id));
    await Handover.close(rt, r.sup, r.id, log);
  }
}

export async function upgradeTree(req: UpgradeRequest): Promise<UpgradeResult> {
  const { rt, log, app } = req;
  let plan: Plan;
  try {
    let spec: SupervisorSpec;
    try {
      spec = req.tree();
      normalizeSupervisorSpec(spec);
    } catch (err) {
      throw new Refused({ bad_tree: 'root', reason: message(err) });
    }
    plan = await planTree(rt, req.root, spec);
  } catch (err) {
    return { type: 'error', reason: err instanceof Refused ? err.reason : message(err) };
  }
  try {
    await changeInPlace(req, plan);
  } catch (err) {
    return { type: 'error', reason: err instanceof Refused ? err.reason : message(err) };
  }
  const applied: SupStep[] = [];
  const restarted: Plan['restarts'] = [];
  const added: Plan['added'] = [];
  // Slots whose restarted worker may hand its successor what it owns (restart-handover.ts).
  const handingOver: Plan['restarts'] = [];
  try {
    for (const s of plan.sups) {
      const r = await Supervisor.codeChange(rt, s.sup, s.spec, true);
      if (r.type === 'error') throw new Refused({ bad_tree: s.label || 'root', reason: r.reason });
      applied.push(s);
    }
    for (const r of plan.restarts) {
      Handover.open(rt, r.sup, r.id);
      handingOver.push(r);
      await Supervisor.terminateChild(rt, r.sup, r.id);
      restarted.push(r);
      const started = await Supervisor.restartChild(rt, r.sup, r.id);
      if (started.type === 'error') throw new Refused({ restart_failed: r.label, reason: started.reason });
      await Handover.close(rt, r.sup, r.id, log);
    }
    for (const a of plan.added) {
      const spec = a.step.plan.added.find((x) => x.id === a.id)!;
      const started = await Supervisor.startChild(rt, a.sup, spec);
      if (started.type === 'error') throw new Refused({ start_failed: a.label, reason: started.reason });
      added.push(a);
    }
  } catch (err) {
    await revert(req, applied, restarted, added);
    for (const r of handingOver) await Handover.close(rt, r.sup, r.id, log);
    const reason = err instanceof Refused ? err.reason : message(err);
    const kept = [...new Set(plan.inPlace.map((x) => x.label))];
    return {
      type: 'error',
      reason: kept.length === 0 ? reason : { ...(reason as object), changed_in_place_stay_new: kept },
    };
  }
  for (const r of plan.removed) {
    const stopped = await Supervisor.terminateChild(rt, r.sup, r.id);
    const deleted = stopped.type === 'ok' ? await Supervisor.deleteChild(rt, r.sup, r.id) : stopped;
    if (deleted.type === 'error')
      log.error(
        { app, child: r.label, reason: reasonForLog(deleted.reason) },
        'upgrade: a dropped child could not be removed',
      );
  }
  return {
    type: 'ok',
    app,
    from: req.fromVsn,
    to: req.toVsn,
    changed: [...new Set(plan.inPlace.map((x) => x.label))],
    restarted: plan.restarts.map((r) => r.label),
    added: plan.added.map((a) => a.label),
    removed: plan.removed.map((r) => r.label),
  };
}
