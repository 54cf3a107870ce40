/**
 * What one node tells observers about itself, taken from live state (no messages).
 *
 * Contract
 * - `trimTree(tree, maxChildren)`: the node's tree (tree.ts's describeNode) with at most
 *   `maxChildren` children per supervisor (the oldest kept); a cut list says how many it
 *   left out in `omitted`, so a node with thousands of per-call processes still sends a
 *   bounded message.
 * - `mailboxes(rt, top)`: pid -> queued messages for the `top` longest non-empty mailboxes.
 * - `RateMeter.sample(tree)`: messages per second received by each listener (a process
 *   whose counters have `received`), by pid, since the previous sample; a listener first
 *   seen counts from 0 at its first sample. Pids gone are forgotten.
 * - `EventLog`: kernel events turned into small JSON records (`{at, kind, pid, name,
 *   reason, ...}`; reasons as text), at most `max` held between two `take()`s (the rest
 *   counted as dropped), and the last `crashes` crashes (exits that are not normal or
 *   shutdown) kept apart for observers that join late. `spawn` events are not recorded:
 *   the tree shows what lives.
 */
import {
  formatReason,
  isNormalExit,
  type AppEvent,
  type FaultEvent,
  type ExitEvent,
  type NodeTree,
  type Runtime,
  type SupervisorEvent,
  type TreeNode,
} from '../../kernel/index.ts';

export interface TrimmedNode extends TreeNode {
  omitted?: number;
  children?: TrimmedNode[];
}

function trimNode(n: TreeNode, max: number): TrimmedNode {
  if (n.children === undefined) return n;
  const kept = n.children.slice(0, max).map((c) => trimNode(c, max));
  const out: TrimmedNode = { ...n, children: kept };
  if (n.children.length > max) out.omitted = n.children.length - max;
  return out;
}

export function trimTree(t: NodeTree, maxChildren: number): NodeTree {
  return {
    ...t,
    kernel: t.kernel === undefined ? undefined : trimNode(t.kernel, maxChildren),
    apps: t.apps.map((a) => (a.tree === undefined ? a : { ...a, tree: trimNode(a.tree, maxChildren) })),
  };
}

interface MailboxView {
  self: { toString(): string };
  mailboxLength: number;
}

export function mailboxes(rt: Runtime, top: number): Record<string, number> {
  const lengths: Array<[string, number]> = [];
  for (const pid of rt.processes()) {
    const p = rt.resolve(pid) as unknown as MailboxView | undefined;
    if (p !== undefined && p.mailboxLength > 0) lengths.push([String(p.self), p.mailboxLength]);
  }
  return Object.fromEntries(lengths.sort((x, y) => y[1] - x[1]).slice(0, top));
}

function* processesOf(t: NodeTree): Generator<TreeNode> {
  const stack: TreeNode[] = [];
  if (t.kernel !== undefined) stack.push(t.kernel);
  for (const a of t.apps) if (a.tree !== undefined) stack.push(a.tree);
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    yield n;
    stack.push(...(n.children ?? []));
  }
}

export class RateMeter {
  private last = new Map<string, { received: number; at: number }>();

  sample(t: NodeTree, now = Date.now()): Record<string, number> {
    const rates: Record<string, number> = {};
    const next = new Map<string, { received: number; at: number }>();
    for (const n of processesOf(t)) {
      const received = n.counters?.received;
      if (n.pid === undefined || received === undefined) continue;
      const prev = this.last.get(n.pid) ?? { received: 0, at: now };
      const secs = (now - prev.at) / 1000;
      rates[n.pid] = secs > 0 ? Math.round(((received - prev.received) / secs) * 10) / 10 : 0;
      next.set(n.pid, { received, at: now });
    }
    this.last = next;
    return rates;
  }
}

export interface EventRecord {
  at: number;
  kind: string;
  pid?: string;
  name?: string;
  supervisor?: string;
  child?: string;
  app?: string;
  reason?: string;
}

export class EventLog {
  private held: EventRecord[] = [];
  private dropped = 0;
  private readonly lastCrashes: EventRecord[] = [];

  constructor(
    private readonly max: number,
    private readonly crashes: number,
  ) {}

  private push(r: EventRecord): void {
    if (this.held.length < this.max) this.held.push(r);
    else this.dropped++;
  }

  exit(e: ExitEvent): void {
    const r: EventRecord = {
      at: Date.now(),
      kind: 'exit',
      pid: String(e.pid),
      reason: formatReason(e.reason),
    };
    if (e.name !== undefined) r.name = e.name;
    this.push(r);
    if (isNormalExit(e.reason)) return;
    this.lastCrashes.push(r);
    if (this.lastCrashes.length > this.crashes) this.lastCrashes.shift();
  }

  supervisor(e: SupervisorEvent): void {
    const r: EventRecord = {
      at: Date.now(),
      kind: e.kind,
      supervisor: e.supervisorName ?? String(e.supervisor),
    };
    if (e.childId !== undefined) r.child = e.childId;
    if (e.pid !== undefined) r.pid = String(e.pid);
    if (e.reason !== undefined) r.reason = formatReason(e.reason);
    this.push(r);
  }

  /** A `fife chaos` injection (or its end): `fault_<kind>_<phase>`, the target as name. */
  fault(e: FaultEvent): void {
    const r: EventRecord = { at: Date.now(), kind: `fault_${e.kind}_${e.phase}` };
    if (e.target !== undefined) r.name = e.target;
    if (e.error !== undefined) r.reason = e.error;
    this.push(r);
  }

  app(e: AppEvent): void {
    const r: EventRecord = { at: Date.now(), kind: `app_${e.kind}`, app: e.app };
    if (e.reason !== undefined) r.reason = formatReason(e.reason);
    this.push(r);
  }

  get pending(): number {
    return this.held.length + this.dropped;
  }

  /** The events since the last take, how many were dropped past the cap, the last crashes. */
  take(): { events: EventRecord[]; dropped: number; crashes: EventRecord[] } {
    const out = { events: this.held, dropped: this.dropped, crashes: [...this.lastCrashes] };
    this.held = [];
    this.dropped = 0;
    return out;
  }

  /** Forget what is held (nobody is watching), keeping the last crashes. */
  clear(): void {
    this.held = [];
    this.dropped = 0;
  }
}
