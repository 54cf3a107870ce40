/**
 * A callflow tree and its check (Kazoo's callflow document `flow`, read by cf_exe).
 *
 * Contract
 * - A node is `{module, data, children}`: `module` a name in the module table
 *   (modules/index.ts), `data` an object (default `{}`), `children` an object mapping a
 *   branch key (`_` the default, a digit string, a hangup cause, a SIP code, `timeout`,
 *   `max_retries`, ...) to a node (default `{}`).
 * - `checkFlow(flow)` answers the node, or a problem naming the path of the first bad
 *   node (`flow.children._.module: unknown module 'foo'`). Each module checks its own
 *   data (its `check`); the whole tree is checked before a call runs it, so bad data is
 *   found at routing, not halfway through a call. Trees deeper than MAX_DEPTH are refused.
 * - Pure; never throws.
 */
import { MODULES } from './modules/index.ts';

export interface FlowNode {
  readonly module: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly children: Readonly<Record<string, FlowNode>>;
}

export const MAX_DEPTH = 64;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkFlow(flow: unknown, path = 'flow', depth = 0): FlowNode | { problem: string } {
  if (depth > MAX_DEPTH) return { problem: `${path}: the tree is deeper than ${MAX_DEPTH}` };
  if (!isObject(flow)) return { problem: `${path}: a node must be an object` };
  const name = flow.module;
  if (typeof name !== 'string' || name === '') return { problem: `${path}.module: missing` };
  const mod = MODULES.get(name);
  if (mod === undefined) return { problem: `${path}.module: unknown module '${name}'` };
  const data = flow.data ?? {};
  if (!isObject(data)) return { problem: `${path}.data: must be an object` };
  const bad = mod.check(data);
  if (bad !== undefined) return { problem: `${path}.data: ${bad}` };
  const rawChildren = flow.children ?? {};
  if (!isObject(rawChildren)) return { problem: `${path}.children: must be an object` };
  const children: Record<string, FlowNode> = {};
  for (const [key, child] of Object.entries(rawChildren)) {
    if (isObject(child) && Object.keys(child).length === 0) continue; // Kazoo's "no child"
    const c = checkFlow(child, `${path}.children.${key}`, depth + 1);
    if ('problem' in c) return c;
    children[key] = c;
  }
  return { module: name, data, children };
}
