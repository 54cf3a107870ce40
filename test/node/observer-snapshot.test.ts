/**
 * What bounds an observer update: a supervisor with more children than the cap sends the
 * oldest and says how many it left out; kernel events past the batch cap are counted, not
 * sent; the last crashes are kept apart (normal exits are not crashes); a listener's rate
 * is its received messages per second between two samples.
 */
import { describe, expect, it } from 'vitest';
import { EventLog, RateMeter, trimTree } from '../../src/node/observer/snapshot.ts';
import type { NodeTree, TreeNode } from '../../src/kernel/index.ts';
import { Pid } from '../../src/kernel/pid.ts';

const worker = (i: number): TreeNode => ({
  id: `w${i}`,
  pid: `<n.${i}>`,
  type: 'worker',
  status: 'running',
  restarts: 0,
});

describe('observer updates stay bounded', () => {
  it('a supervisor with 250 children sends 100 and says 150 were left out', () => {
    const sup: TreeNode = {
      id: 'calls_sup',
      type: 'supervisor',
      status: 'running',
      restarts: 0,
      children: Array.from({ length: 250 }, (_, i) => worker(i)),
    };
    const t: NodeTree = { node: 'n', processes: 251, kernel: sup, apps: [] };
    const trimmed = trimTree(t, 100).kernel as TreeNode & { omitted?: number };
    expect(trimmed.children).toHaveLength(100);
    expect(trimmed.children![0]!.id).toBe('w0');
    expect(trimmed.omitted).toBe(150);
    expect(sup.children).toHaveLength(250);
  });

  it('events past the cap are counted as dropped; the last crashes are kept, normal exits are not crashes', () => {
    const log = new EventLog(10, 3);
    for (let i = 0; i < 25; i++)
      log.exit({ pid: new Pid(i, 'n'), name: `p${i}`, reason: i % 2 === 0 ? 'killed' : 'normal' });
    const first = log.take();
    expect(first.events).toHaveLength(10);
    expect(first.dropped).toBe(15);
    expect(first.crashes.map((c) => c.name)).toEqual(['p20', 'p22', 'p24']);
    expect(first.crashes[0]).toMatchObject({ kind: 'exit', reason: 'killed' });
    const second = log.take();
    expect(second).toMatchObject({ events: [], dropped: 0 });
    expect(second.crashes).toHaveLength(3);
  });

  it("a listener's rate is the messages it received per second since the last sample", () => {
    const meter = new RateMeter();
    const tree = (received: number): NodeTree => ({
      node: 'n',
      processes: 1,
      kernel: { ...worker(1), counters: { received } },
      apps: [],
    });
    expect(meter.sample(tree(100), 1_000)).toEqual({ '<n.1>': 0 });
    expect(meter.sample(tree(150), 3_000)).toEqual({ '<n.1>': 25 });
  });
});
