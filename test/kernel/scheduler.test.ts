/**
 * The scheduler (scheduler.ts): processes take turns, and messaging never keeps the event
 * loop from timers and I/O.
 */
import { describe, it, expect } from 'vitest';
import { newRuntime } from './helpers.ts';
import type { Pid } from '../../src/kernel/pid.ts';

describe('scheduler', () => {
  it('two processes messaging each other without pause do not starve timers', async () => {
    const { rt } = newRuntime();
    let rounds = 0;
    // eslint-disable-next-line prefer-const -- read by the first process, assigned once the second exists
    let peer: Pid | undefined;
    let stop = false;
    const a = rt.spawn((env, proc) => {
      rounds++;
      if (!stop) proc.send(peer!, env.msg);
    });
    peer = rt.spawn((env, proc) => {
      if (!stop) proc.send(a, env.msg);
    });
    rt.send(a, 'ball');
    await new Promise((r) => setTimeout(r, 5));
    stop = true;
    expect(rounds).toBeGreaterThan(0);
  });

  it('a flooded process does not hold up another: processes take turns', async () => {
    const { rt } = newRuntime();
    const N = 100_000;
    let floodedSeen = 0;
    let seenWhenOtherRan = -1;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const flooded = rt.spawn(() => {
      if (++floodedSeen === N) done();
    });
    const other = rt.spawn(() => void (seenWhenOtherRan = floodedSeen));
    for (let i = 0; i < N; i++) rt.send(flooded, i);
    rt.send(other, 'hello');
    await finished;
    expect(seenWhenOtherRan).toBeGreaterThanOrEqual(0);
    expect(seenWhenOtherRan).toBeLessThan(N);
  });

  it('a throw from kernel code while a process runs (an exit listener) is logged; other processes go on', async () => {
    const { rt, lines } = newRuntime();
    let thrown = false;
    rt.events.on('exit', () => {
      if (thrown) return;
      thrown = true;
      throw new Error('listener bug');
    });
    const doomed = rt.spawn(() => {
      throw new Error('handler crash');
    });
    rt.send(doomed, 'go');
    let answered!: (v: unknown) => void;
    const got = new Promise((r) => (answered = r));
    const other = rt.spawn((env) => answered(env.msg));
    rt.send(other, 'still running');
    expect(await got).toBe('still running');
    expect(rt.isAlive(doomed)).toBe(false);
    expect(
      lines.some(
        (l) =>
          l.msg === 'error in the kernel while running this process: ending it' &&
          JSON.stringify(l.err).includes('listener bug'),
      ),
    ).toBe(true);
  });

  it('a long queue is handled whole and in order', async () => {
    const { rt } = newRuntime();
    const N = 300_000;
    let next = 0;
    let outOfOrder = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const p = rt.spawn((env) => {
      if (env.msg !== next) outOfOrder++;
      if (++next === N) done();
    });
    for (let i = 0; i < N; i++) rt.send(p, i);
    await finished;
    expect(outOfOrder).toBe(0);
  });
});
