/**
 * Table benchmark. Prints, medians of 5 alternating rounds:
 * - a read of another process's protected table (`lookup`) vs asking the owner with a
 *   GenServer.call for the same value (what a table saves: the mailbox round trip)
 * - the owner's `insert` of a small plain object (frozen on insert) vs a plain Map.set
 */
import {
  Runtime,
  GenServer,
  Table,
  ok,
  reply,
  type GenServerBehaviour,
  type Pid,
} from '../../src/kernel/index.ts';
import { createRootLogger } from '../../src/kernel/log.ts';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const KEYS = 10_000;

interface S {
  table: Table<string, { contact: string }>;
}
const Owner: GenServerBehaviour<S, void, string> = {
  name: 'owner',
  init(_a, ctx) {
    const table = Table.create<string, { contact: string }>(ctx, { name: 'bench' });
    for (let i = 0; i < KEYS; i++) table.insert(`u${i}`, { contact: `sip:u${i}@10.0.0.1` });
    return ok({ table });
  },
  handleCall: (key, _f, s) => reply(s.table.lookup(key), s),
};

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  const rt = new Runtime({ logger: createRootLogger({ node: 'bench@localhost', level: 'silent' }) });
  const owner = (await GenServer.start(rt, Owner, undefined)) as { pid: Pid };
  const reader = rt.context(rt.spawn(() => undefined))!;
  const t = Table.open<string, { contact: string }>(reader, 'bench');
  const lookups: number[] = [];
  const calls: number[] = [];
  for (let round = 0; round < 5; round++) {
    const N = 1_000_000;
    let t0 = performance.now();
    let hits = 0;
    for (let i = 0; i < N; i++) if (t.lookup(`u${i % KEYS}`) !== undefined) hits++;
    lookups.push((N / (performance.now() - t0)) * 1000);
    if (hits !== N) throw new Error('lookup missed');
    const C = 50_000;
    t0 = performance.now();
    for (let i = 0; i < C; i++) await GenServer.call(rt, owner.pid, `u${i % KEYS}`);
    calls.push((C / (performance.now() - t0)) * 1000);
  }
  console.log(
    `read: table lookup ${fmt(median(lookups))}/s, call to the owner ${fmt(median(calls))}/s (${(median(lookups) / median(calls)).toFixed(0)}x)`,
  );

  const writer = Table.create<string, { contact: string }>(rt.context(rt.spawn(() => undefined))!);
  const map = new Map<string, { contact: string }>();
  const inserts: number[] = [];
  const sets: number[] = [];
  for (let round = 0; round < 5; round++) {
    const N = 500_000;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) writer.insert(`u${i % KEYS}`, { contact: 'sip:x@10.0.0.1' });
    inserts.push((N / (performance.now() - t0)) * 1000);
    t0 = performance.now();
    for (let i = 0; i < N; i++) map.set(`u${i % KEYS}`, { contact: 'sip:x@10.0.0.1' });
    sets.push((N / (performance.now() - t0)) * 1000);
  }
  console.log(
    `write: owner insert ${fmt(median(inserts))}/s, Map.set ${fmt(median(sets))}/s (${(median(sets) / median(inserts)).toFixed(1)}x the cost)`,
  );
  await rt.shutdown();
}

void main();
