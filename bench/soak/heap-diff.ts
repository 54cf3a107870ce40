/**
 * Diffs two V8 heap snapshots (.heapsnapshot, e.g. a soak node's at the end of the warm-up
 * and at the end of the load: FIFE_SOAK_HEAPSNAP_DIR) by constructor: for each
 * `type:name` (object nodes by constructor name, closures by function name, strings,
 * arrays...) the count and self size in each, sorted by count growth. For the TOP that
 * grew most it lists their retainers in the second snapshot (`ParentName.edge`, counted),
 * which names the map, array or closure holding them.
 *
 * Run: `node --import tsx bench/soak/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top N]
 * [--retainers name1,name2]` (names as printed, e.g. `object:Timeout`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Heap {
  /** `type:name` of each node */
  keys: string[];
  /** V8's node ids: the same object keeps its id from one snapshot of a process to the next */
  ids: number[];
  selfSize: number[];
  /** index of each node's first edge (in edge records) */
  firstEdge: number[];
  edgeTo: number[];
  edgeName: string[];
}

export function loadHeap(file: string): Heap {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const nTypes = s.snapshot.meta.node_types[0];
  const eTypes = s.snapshot.meta.edge_types[0];
  const NW = nf.length;
  const EW = ef.length;
  const [iType, iName, iId, iSize, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) =>
    nf.indexOf(f),
  );
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  const count = s.nodes.length / NW;
  const keys: string[] = new Array(count);
  const selfSize: number[] = new Array(count);
  const ids: number[] = new Array(count);
  const firstEdge: number[] = new Array(count + 1);
  let e = 0;
  for (let i = 0; i < count; i++) {
    const o = i * NW;
    const type = nTypes[s.nodes[o + iType!]!]!;
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? 'string'
        : s.strings[s.nodes[o + iName!]!]!;
    keys[i] = `${type}:${name.length > 60 ? name.slice(0, 60) : name}`;
    selfSize[i] = s.nodes[o + iSize!]!;
    ids[i] = s.nodes[o + iId!]!;
    firstEdge[i] = e;
    e += s.nodes[o + iEdges!]!;
  }
  firstEdge[count] = e;
  const edgeTo: number[] = new Array(e);
  const edgeName: string[] = new Array(e);
  for (let k = 0; k < e; k++) {
    const o = k * EW;
    const t = eTypes[s.edges[o + eType!]!]!;
    const n = s.edges[o + eName!]!;
    edgeTo[k] = s.edges[o + eTo!]! / NW;
    edgeName[k] = t === 'element' || t === 'hidden' ? `[${t}]` : String(s.strings[n] ?? n);
  }
  return { keys, ids, selfSize, firstEdge, edgeTo, edgeName };
}

export function countByKey(h: Heap): Map<string, { count: number; size: number }> {
  const m = new Map<string, { count: number; size: number }>();
  h.keys.forEach((k, i) => {
    const c = m.get(k) ?? { count: 0, size: 0 };
    c.count++;
    c.size += h.selfSize[i]!;
    m.set(k, c);
  });
  return m;
}

const NOT_HOLDING = new Set(['[weak]', '__proto__', 'map', 'prototype', 'constructor', 'back_pointer']);

/**
 * Who holds the nodes of `key` that `only` accepts (by index): `Grandparent.edge >
 * Parent.edge` -> count (weak, prototype and hidden-class edges left out).
 */
export function retainers(
  h: Heap,
  key: string,
  only: (i: number) => boolean = () => true,
): Map<string, number> {
  const want = new Set<number>();
  h.keys.forEach((k, i) => k === key && only(i) && want.add(i));
  const parentOf = new Map<number, [number, string]>();
  for (let p = 0; p < h.keys.length; p++)
    for (let k = h.firstEdge[p]!; k < h.firstEdge[p + 1]!; k++)
      if (want.has(h.edgeTo[k]!) && !NOT_HOLDING.has(h.edgeName[k]!) && !parentOf.has(h.edgeTo[k]!))
        parentOf.set(h.edgeTo[k]!, [p, h.edgeName[k]!]);
  const grand = new Map<number, [number, string]>();
  const ps = new Set([...parentOf.values()].map(([p]) => p));
  for (let g = 0; g < h.keys.length; g++)
    for (let k = h.firstEdge[g]!; k < h.firstEdge[g + 1]!; k++)
      if (ps.has(h.edgeTo[k]!) && !NOT_HOLDING.has(h.edgeName[k]!) && !grand.has(h.edgeTo[k]!))
        grand.set(h.edgeTo[k]!, [g, h.edgeName[k]!]);
  const out = new Map<string, number>();
  for (const [, [p, e]] of parentOf) {
    const g = grand.get(p);
    const edge = (x: string) => (/^\d+$/.test(x) ? '[n]' : x);
    const r = `${g ? `${h.keys[g[0]]}.${edge(g[1])} > ` : ''}${h.keys[p]}.${edge(e)}`;
    out.set(r, (out.get(r) ?? 0) + 1);
  }
  return out;
}

/**
 * A retaining path of node `i` from the GC roots, as DevTools shows it: each step's parent
 * is one nearer the roots (breadth-first distance over holding edges).
 */
export function retainingPath(h: Heap, i: number, depth = 12): string {
  const n = h.keys.length;
  const dist = new Int32Array(n).fill(-1);
  const parent = new Int32Array(n).fill(-1);
  const via: string[] = [];
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  dist[0] = 0;
  queue[tail++] = 0;
  while (head < tail) {
    const p = queue[head++]!;
    for (let k = h.firstEdge[p]!; k < h.firstEdge[p + 1]!; k++) {
      const t = h.edgeTo[k]!;
      if (dist[t] === -1 && !NOT_HOLDING.has(h.edgeName[k]!)) {
        dist[t] = dist[p]! + 1;
        parent[t] = p;
        via[t] = h.edgeName[k]!;
        queue[tail++] = t;
      }
    }
  }
  const steps: string[] = [h.keys[i]!];
  for (let x = i, d = 0; parent[x]! > 0 && d < depth; x = parent[x]!, d++)
    steps.push(`${h.keys[parent[x]!]}.${via[x]}`);
  return steps.join(' < ');
}

/**
 * The size of every Map and Set held under a property name: `Holder.prop` -> the summed
 * edge count of their backing tables (about 2 per Map entry, 1 per Set entry), to see
 * which named collection grows between two snapshots.
 */
export function collections(h: Heap): Map<string, number> {
  const out = new Map<string, number>();
  for (let p = 0; p < h.keys.length; p++)
    for (let k = h.firstEdge[p]!; k < h.firstEdge[p + 1]!; k++) {
      const c = h.edgeTo[k]!;
      const ck = h.keys[c]!;
      if (
        (ck !== 'object:Map' && ck !== 'object:Set') ||
        NOT_HOLDING.has(h.edgeName[k]!) ||
        /^\d+$/.test(h.edgeName[k]!)
      )
        continue;
      for (let j = h.firstEdge[c]!; j < h.firstEdge[c + 1]!; j++)
        if (h.edgeName[j] === 'table') {
          const t = h.edgeTo[j]!;
          const name = `${h.keys[p]}.${h.edgeName[k]} (${ck.slice(7)})`;
          out.set(name, (out.get(name) ?? 0) + h.firstEdge[t + 1]! - h.firstEdge[t]!);
        }
    }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [a, b] = process.argv.slice(2);
  if (a === undefined || b === undefined) {
    console.error('usage: heap-diff.ts A.heapsnapshot B.heapsnapshot [--top N] [--retainers k1,k2]');
    process.exit(2);
  }
  const t = process.argv.indexOf('--top');
  const top = t >= 0 ? Number(process.argv[t + 1]) : 40;
  const r = process.argv.indexOf('--retainers');
  const ha = loadHeap(a);
  const hb = loadHeap(b);
  const ca = countByKey(ha);
  const cb = countByKey(hb);
  const rows = [...cb].map(([k, v]) => {
    const was = ca.get(k) ?? { count: 0, size: 0 };
    return { k, a: was.count, b: v.count, d: v.count - was.count, ds: v.size - was.size };
  });
  rows.sort((x, y) => y.d - x.d);
  const total = (h: Heap) => h.selfSize.reduce((s, x) => s + x, 0) / 1024 / 1024;
  console.log(
    `nodes ${ha.keys.length} -> ${hb.keys.length}; self size ${total(ha).toFixed(1)} -> ${total(hb).toFixed(1)} MB`,
  );
  console.log('count A -> count B (+delta, +self bytes)  type:name');
  for (const x of rows.slice(0, top)) console.log(`${x.a} -> ${x.b} (+${x.d}, +${x.ds})  ${x.k}`);
  console.log('by self size growth:');
  for (const x of [...rows].sort((p, q) => q.ds - p.ds).slice(0, 15))
    console.log(`${x.a} -> ${x.b} (+${x.d}, +${x.ds})  ${x.k}`);
  const keys = r >= 0 ? process.argv[r + 1]!.split(',') : rows.slice(0, 8).map((x) => x.k);
  if (process.argv.includes('--collections')) {
    const [colA, colB] = [collections(ha), collections(hb)];
    const grown = [...colB]
      .map(([k, v]) => ({ k, a: colA.get(k) ?? 0, b: v }))
      .sort((x, y) => y.b - y.a - (x.b - x.a));
    console.log('collections (table edges A -> B):');
    for (const x of grown.slice(0, top)) console.log(`${x.a} -> ${x.b}  ${x.k}`);
  }
  const pth = process.argv.indexOf('--path');
  if (pth >= 0) {
    const old = new Set(ha.ids);
    const key = process.argv[pth + 1]!;
    const fresh = hb.keys.flatMap((k, i) => (k === key && !old.has(hb.ids[i]!) ? [i] : []));
    for (const i of fresh.filter((_, n) => n % Math.max(1, Math.floor(fresh.length / 3)) === 0).slice(0, 3))
      console.log(`path of a new ${key}: ${retainingPath(hb, i, 60)}`);
  }
  for (const k of keys) {
    const old = new Set(ha.ids);
    const rs = [...retainers(hb, k, (i) => !old.has(hb.ids[i]!))].sort((x, y) => y[1] - x[1]).slice(0, 8);
    console.log(`retainers of the new ${k}: ${rs.map(([n, c]) => `${c} ${n}`).join('; ')}`);
  }
}
