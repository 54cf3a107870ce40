/**
 * The live view of a node's trees: every supervisor and child with pid, status and
 * restart count, read from the processes themselves (no messages: it is exact at the
 * moment it is taken, even while a supervisor is busy restarting).
 *
 * - `describeTree(rt, root)`: one subtree, from a supervisor's pid or name. Children
 *   are listed in start order (oldest first), unlike `Supervisor.whichChildren`, which
 *   follows OTP (newest first).
 * - Every live process shows `unexpectedMessages` (messages it did not expect, see
 *   gen-server.ts) and the `counters` its behaviour exposes (a gen_listener: responder
 *   failures as `handlerErrors`).
 * - `describeNode(rt, {root, controller})`: the kernel tree plus each app's tree, as the
 *   admin endpoint serves it and `fife tree` prints it (`renderTree`).
 */
import type { Runtime } from './runtime.ts';
import type { Pid } from './pid.ts';
import type { ChildInfo } from './supervisor.ts';
import type { AppStatus } from './apps-controller.ts';
import { procStats } from './proc-stats.ts';

export interface TreeNode {
  id?: string;
  pid?: string;
  name?: string;
  behaviour?: string;
  type: 'worker' | 'supervisor';
  status: string;
  restarts: number;
  strategy?: string;
  /** Messages the process did not expect (logged at warn and dropped). */
  unexpectedMessages?: number;
  /** Counters its behaviour exposes, e.g. a gen_listener's `handlerErrors`. */
  counters?: Record<string, number>;
  children?: TreeNode[];
}

export interface AppTree {
  name: string;
  version?: string;
  state: string;
  restarts: number;
  lastFailure?: string;
  tree?: TreeNode;
}

export interface NodeTree {
  node: string;
  processes: number;
  kernel?: TreeNode;
  apps: AppTree[];
}

interface SupDescription {
  strategy: string;
  children: ChildInfo[];
}

export function describeTree(
  rt: Runtime,
  root: Pid | string,
  info: Partial<TreeNode> = {},
): TreeNode | undefined {
  const p = rt.resolve(root);
  if (p === undefined) return undefined;
  const meta = p.meta;
  const node: TreeNode = {
    type: 'worker',
    status: 'running',
    restarts: 0,
    ...info,
    pid: String(p.self),
    name: p.name,
    behaviour: meta?.behaviour,
  };
  const stats = procStats(p);
  node.unexpectedMessages = stats?.unexpected ?? 0;
  if (stats?.counters !== undefined) node.counters = stats.counters();
  if (meta?.behaviour !== 'supervisor' || meta.describe === undefined) return node;
  const d = meta.describe() as SupDescription;
  node.type = 'supervisor';
  node.strategy = d.strategy;
  node.children = d.children.map((c) => {
    const base: TreeNode = { id: c.id, type: c.type, status: c.status, restarts: c.restarts };
    if (c.pid === undefined) return base;
    return describeTree(rt, c.pid, base) ?? base;
  });
  return node;
}

export function describeNode(rt: Runtime, roots: { root?: string; controller?: string } = {}): NodeTree {
  const kernel =
    roots.root === undefined
      ? undefined
      : describeTree(rt, roots.root, { id: roots.root, type: 'supervisor' });
  const ctl = rt.resolve(roots.controller ?? 'apps_controller');
  const apps = ((ctl?.meta?.describe?.() as { apps?: AppStatus[] } | undefined)?.apps ?? []).map(
    (a): AppTree => ({
      name: a.name,
      version: a.version,
      state: a.state,
      restarts: a.restarts,
      lastFailure: a.lastFailure,
      tree:
        a.pid === undefined
          ? undefined
          : describeTree(rt, a.pid, { id: `${a.name}_sup`, type: 'supervisor' }),
    }),
  );
  return { node: rt.node, processes: rt.processCount, kernel, apps };
}

function renderNode(n: TreeNode, indent: string, out: string[]): void {
  const label = n.id ?? n.name ?? n.behaviour ?? '?';
  const parts = [
    `${indent}${label}`,
    n.pid ?? '-',
    n.type === 'supervisor' ? `supervisor(${n.strategy ?? '?'})` : (n.behaviour ?? 'worker'),
    n.status,
    `restarts=${n.restarts}`,
  ];
  if (n.name !== undefined && n.name !== label) parts.push(`name=${n.name}`);
  if (n.unexpectedMessages) parts.push(`unexpected=${n.unexpectedMessages}`);
  for (const [k, v] of Object.entries(n.counters ?? {})) parts.push(`${k}=${v}`);
  out.push(parts.join('  '));
  for (const c of n.children ?? []) renderNode(c, `${indent}  `, out);
}

/** Plain-text rendering for terminals. */
export function renderTree(t: NodeTree): string {
  const out: string[] = [`node ${t.node}  processes=${t.processes}`];
  if (t.kernel !== undefined) renderNode(t.kernel, '  ', out);
  for (const a of t.apps) {
    out.push(
      `app ${a.name}${a.version ? `@${a.version}` : ''}  ${a.state}  restarts=${a.restarts}${a.lastFailure ? `  last_failure=${a.lastFailure}` : ''}`,
    );
    if (a.tree !== undefined) renderNode(a.tree, '  ', out);
  }
  return out.join('\n');
}
