/**
 * Exit signals as OTP has them: asynchronous, ordered after the messages the same sender
 * sent before, handled even while a process waits (in Fife: while an async handler holds
 * its mailbox), `kill` untrappable. Effects are awaited with `runtime.awaitExit` or by
 * the EXIT / DOWN message, never by timing.
 */
import { describe, it, expect } from 'vitest';
import { newRuntime } from './helpers.ts';
import { Kind, isDownMessage, isExitMessage, type ProcessContext } from '../../src/kernel/process.ts';
import type { Pid } from '../../src/kernel/pid.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';

/** A process that records the Info messages its handler sees. */
function recorder(rt: Runtime, opts: { trap?: boolean; link?: Pid } = {}) {
  const got: unknown[] = [];
  const waiters: Array<() => void> = [];
  const pid = rt.spawn(
    (env) => {
      if (env.kind !== Kind.Info) return;
      got.push(env.msg);
      waiters.splice(0).forEach((w) => w());
    },
    { trapExit: opts.trap, link: opts.link },
  );
  /** Resolves once `n` messages have been handled. */
  const seen = (n: number): Promise<unknown[]> =>
    got.length >= n
      ? Promise.resolve(got.slice(0, n))
      : new Promise<void>((res) => waiters.push(res)).then(() => seen(n));
  return { pid, got, seen };
}

/** A process that runs `script` with its own context when it gets 'go'. */
function actor(rt: Runtime, script: (ctx: ProcessContext) => void, opts: { link?: Pid } = {}): Pid {
  return rt.spawn((env, proc) => void (env.msg === 'go' && script(proc)), opts);
}

/** A process whose handler holds the mailbox until `release` is called. */
function holder(rt: Runtime, opts: { trap?: boolean } = {}) {
  const handled: unknown[] = [];
  let release!: () => void;
  let entered!: () => void;
  let count: (() => void) | undefined;
  const inHandler = new Promise<void>((r) => (entered = r));
  /** Resolves once `n` messages have been handled. */
  const handledCount = (n: number): Promise<void> =>
    handled.length >= n
      ? Promise.resolve()
      : new Promise<void>((r) => (count = r)).then(() => handledCount(n));
  const pid = rt.spawn(
    async (env) => {
      handled.push(env.msg);
      count?.();
      if (env.msg === 'hold') {
        entered();
        await new Promise<void>((r) => (release = r));
      }
    },
    { trapExit: opts.trap },
  );
  return { pid, handled, inHandler, handledCount, release: () => release() };
}

describe('exit/2 is asynchronous (OTP: exit(Pid, Reason) returns at once)', () => {
  it('the caller returns before the target ends; awaitExit gives the reason', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt);
    rt.exit(t.pid, 'boom');
    expect(rt.isAlive(t.pid)).toBe(true);
    expect(await rt.awaitExit(t.pid)).toBe('boom');
    expect(rt.isAlive(t.pid)).toBe(false);
  });

  it("'kill' too: the target is still alive when exit returns, then ends with 'killed'", async () => {
    const { rt } = newRuntime();
    const t = recorder(rt, { trap: true });
    rt.exit(t.pid, 'kill');
    expect(rt.isAlive(t.pid)).toBe(true);
    expect(await rt.awaitExit(t.pid)).toBe('killed');
  });

  it('crash (fault injection) returns true at once and the process ends with the injected reason after', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt, { trap: true });
    expect(rt.crash(t.pid, 'injected')).toBe(true);
    expect(rt.isAlive(t.pid)).toBe(true);
    expect(await rt.awaitExit(t.pid)).toBe('injected');
  });
});

describe('onExit: a hook called as the process ends', () => {
  it('runs synchronously at the exit, with the reason, before a linked trapping process gets its EXIT; false for a dead pid', async () => {
    const { rt } = newRuntime();
    const watcher = recorder(rt, { trap: true });
    const t = recorder(rt, { link: watcher.pid });
    const seen: unknown[] = [];
    expect(rt.onExit(t.pid, (reason) => seen.push([reason, watcher.got.length]))).toBe(true);
    rt.exit(t.pid, 'boom');
    expect(seen).toEqual([]);
    await rt.awaitExit(t.pid);
    expect(seen).toEqual([['boom', 0]]);
    const [exit] = await watcher.seen(1);
    expect(isExitMessage(exit) && exit.reason).toBe('boom');
    expect(rt.onExit(t.pid, () => seen.push('late'))).toBe(false);
    expect(seen).toEqual([['boom', 0]]);
  });
});

describe('signal ordering between a pair of processes', () => {
  it('a trapping process gets {EXIT} after the messages the same sender sent it before', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt, { trap: true });
    const sender = actor(rt, (ctx) => {
      ctx.send(t.pid, 'm1');
      ctx.send(t.pid, 'm2');
      ctx.exit(t.pid, 'bye');
      ctx.send(t.pid, 'm3');
    });
    rt.send(sender, 'go');
    const [m1, m2, exit, m3] = await t.seen(4);
    expect([m1, m2]).toEqual(['m1', 'm2']);
    expect(isExitMessage(exit) && exit.from === sender && exit.reason === 'bye').toBe(true);
    expect(m3).toBe('m3');
    expect(rt.isAlive(t.pid)).toBe(true);
  });

  it('a non-trapping process handles the messages that arrived before the signal, then ends', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt);
    const exited = rt.awaitExit(t.pid);
    const sender = actor(rt, (ctx) => {
      ctx.send(t.pid, 'm1');
      ctx.send(t.pid, 'm2');
      ctx.exit(t.pid, 'bye');
      ctx.send(t.pid, 'after');
    });
    rt.send(sender, 'go');
    expect(await exited).toBe('bye');
    expect(t.got).toEqual(['m1', 'm2']);
  });

  it("exit with 'normal' to a non-trapping process is dropped; what follows is handled", async () => {
    const { rt } = newRuntime();
    const t = recorder(rt);
    rt.exit(t.pid, 'normal');
    rt.send(t.pid, 'still here');
    expect(await t.seen(1)).toEqual(['still here']);
    expect(rt.isAlive(t.pid)).toBe(true);
  });

  it('the exit signal a dying process sends its links comes after the messages it sent them', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt, { trap: true });
    const dying = rt.spawn(
      (env, proc) => {
        proc.send(t.pid, 'last words');
        throw new Error(String(env.msg));
      },
      { link: t.pid },
    );
    rt.send(dying, 'crash');
    const [m, exit] = await t.seen(2);
    expect(m).toBe('last words');
    expect(isExitMessage(exit) && exit.from === dying && (exit.reason as Error).message === 'crash').toBe(
      true,
    );
  });

  it('a linked non-trapping process handles what the dying process sent it, then dies with its reason', async () => {
    const { rt } = newRuntime();
    const b = recorder(rt);
    const exited = rt.awaitExit(b.pid);
    const a = actor(
      rt,
      (ctx) => {
        ctx.send(b.pid, 'before');
        ctx.exit(ctx.self, 'kill');
      },
      { link: b.pid },
    );
    rt.send(a, 'go');
    expect(await exited).toBe('killed');
    expect(b.got).toEqual(['before']);
  });

  it('DOWN comes after the messages the monitored process sent the watcher', async () => {
    const { rt } = newRuntime();
    const w = recorder(rt);
    const target = rt.spawn((env, proc) => {
      proc.send(w.pid, 'first');
      proc.send(w.pid, 'second');
      throw new Error(String(env.msg));
    });
    const ref = (rt.context(w.pid) as ProcessContext).monitor(target);
    rt.send(target, 'die');
    const [a, b, down] = await w.seen(3);
    expect([a, b]).toEqual(['first', 'second']);
    expect(isDownMessage(down) && down.ref.id === ref.id && down.pid === target).toBe(true);
  });
});

describe('signals reach a process whose async handler holds the mailbox (OTP: blocked in receive)', () => {
  it('a non-trapping process is ended at once; messages queued before the signal stay unhandled', async () => {
    const { rt } = newRuntime();
    const h = holder(rt);
    rt.send(h.pid, 'hold');
    await h.inHandler;
    rt.send(h.pid, 'queued');
    rt.exit(h.pid, 'stop-now');
    expect(await rt.awaitExit(h.pid)).toBe('stop-now');
    h.release();
    expect(h.handled).toEqual(['hold']);
  });

  it("'kill' ends a trapping process while its handler holds the mailbox", async () => {
    const { rt } = newRuntime();
    const h = holder(rt, { trap: true });
    rt.send(h.pid, 'hold');
    await h.inHandler;
    rt.exit(h.pid, 'kill');
    expect(await rt.awaitExit(h.pid)).toBe('killed');
  });

  it('a trapping process gets {EXIT} once the handler settles, after the messages queued before it', async () => {
    const { rt } = newRuntime();
    const h = holder(rt, { trap: true });
    rt.send(h.pid, 'hold');
    await h.inHandler;
    rt.send(h.pid, 'queued');
    rt.exit(h.pid, 'bye');
    rt.send(h.pid, 'after');
    h.release();
    await h.handledCount(4);
    expect(h.handled.slice(0, 2)).toEqual(['hold', 'queued']);
    const exit = h.handled[2];
    expect(isExitMessage(exit) && exit.reason === 'bye').toBe(true);
    expect(h.handled[3]).toBe('after');
    expect(rt.isAlive(h.pid)).toBe(true);
  });
});
