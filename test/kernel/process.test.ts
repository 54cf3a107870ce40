import { describe, it, expect } from 'vitest';
import { newRuntime } from './helpers.ts';
import { NameTakenError, NoProcError } from '../../src/kernel/runtime.ts';
import { isExitMessage, isDownMessage, type ProcessContext } from '../../src/kernel/process.ts';
import type { Pid } from '../../src/kernel/pid.ts';
import { Kind } from '../../src/kernel/process.ts';

/** A plain process that records what it receives. */
function recorder(
  rt: ReturnType<typeof newRuntime>['rt'],
  opts: { trap?: boolean; name?: string; link?: Pid } = {},
) {
  const got: unknown[] = [];
  let notify: (() => void) | undefined;
  const pid = rt.spawn(
    (env) => {
      if (env.kind === Kind.Info) {
        got.push(env.msg);
        notify?.();
      }
    },
    { trapExit: opts.trap, name: opts.name, link: opts.link },
  );
  const next = (): Promise<unknown> =>
    got.length > 0
      ? Promise.resolve(got.shift())
      : new Promise(
          (res) =>
            (notify = () => {
              notify = undefined;
              res(got.shift());
            }),
        );
  return { pid, got, next, ctx: rt.context(pid) as ProcessContext };
}

describe('processes: pids, send, names', () => {
  it('delivers messages in order to a live process', async () => {
    const { rt } = newRuntime();
    const r = recorder(rt);
    for (let i = 0; i < 5; i++) rt.send(r.pid, i);
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push(await r.next());
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('pids are unique, opaque and print as <node.id>', () => {
    const { rt } = newRuntime();
    const a = recorder(rt).pid;
    const b = recorder(rt).pid;
    expect(a).not.toBe(b);
    expect(a.id).not.toBe(b.id);
    expect(String(a)).toMatch(/^<test@localhost\.\d+>$/);
  });

  it('register / whereis / unregister; a taken name is an error; a dead process frees its name', async () => {
    const { rt } = newRuntime();
    const a = recorder(rt);
    const b = recorder(rt);
    rt.register('svc', a.pid);
    expect(rt.whereis('svc')).toBe(a.pid);
    expect(() => rt.register('svc', b.pid)).toThrow(NameTakenError);
    rt.send('svc', 'hello');
    expect(await a.next()).toBe('hello');
    expect(rt.unregister('svc')).toBe(true);
    expect(rt.whereis('svc')).toBeUndefined();
    rt.register('svc', b.pid);
    const exited = rt.awaitExit(b.pid);
    rt.exit(b.pid, 'kill');
    await exited;
    expect(rt.whereis('svc')).toBeUndefined();
  });

  it('sending to an unregistered name throws NoProcError; sending to a dead pid is silent', async () => {
    const { rt } = newRuntime();
    expect(() => rt.send('nobody', 1)).toThrow(NoProcError);
    const a = recorder(rt);
    rt.exit(a.pid, 'kill');
    await rt.awaitExit(a.pid);
    expect(() => rt.send(a.pid, 1)).not.toThrow();
    expect(rt.isAlive(a.pid)).toBe(false);
  });

  it('spawning with a taken name fails', () => {
    const { rt } = newRuntime();
    recorder(rt, { name: 'x' });
    expect(() => recorder(rt, { name: 'x' })).toThrow(NameTakenError);
  });
});

describe('links and exit signals', () => {
  it('an abnormal exit kills a linked process that does not trap exits, with the same reason', async () => {
    const { rt } = newRuntime();
    const a = recorder(rt);
    const b = recorder(rt, { link: a.pid });
    const bExit = rt.awaitExit(b.pid);
    rt.exit(a.pid, 'crashed');
    expect(await bExit).toBe('crashed');
  });

  it('a normal exit does not propagate to a non-trapping link', async () => {
    const { rt } = newRuntime();
    const a = recorder(rt);
    const b = recorder(rt, { link: a.pid });
    rt.proc(a.pid)!.terminate('normal');
    rt.send(b.pid, 'still here');
    expect(await b.next()).toBe('still here');
    expect(rt.isAlive(b.pid)).toBe(true);
  });

  it('a trapping process receives {EXIT, from, reason} as a message instead of dying, normal included', async () => {
    const { rt } = newRuntime();
    const t = recorder(rt, { trap: true });
    const a = recorder(rt, { link: t.pid });
    const b = recorder(rt, { link: t.pid });
    rt.exit(a.pid, 'crashed');
    await rt.awaitExit(a.pid);
    rt.proc(b.pid)!.terminate('normal');
    const m1 = await t.next();
    const m2 = await t.next();
    expect(isExitMessage(m1) && m1.from === a.pid && m1.reason === 'crashed').toBe(true);
    expect(isExitMessage(m2) && m2.from === b.pid && m2.reason === 'normal').toBe(true);
    expect(rt.isAlive(t.pid)).toBe(true);
  });

  it("'kill' cannot be trapped: the process dies with 'killed' and links see 'killed'", async () => {
    const { rt } = newRuntime();
    const watcher = recorder(rt, { trap: true });
    const t = recorder(rt, { trap: true, link: watcher.pid });
    const exited = rt.awaitExit(t.pid);
    rt.exit(t.pid, 'kill');
    expect(await exited).toBe('killed');
    const m = await watcher.next();
    expect(isExitMessage(m) && m.reason === 'killed').toBe(true);
  });

  it('exit signals reach a non-trapping process while its handler is still awaiting', async () => {
    const { rt } = newRuntime();
    let finished = false;
    const pid = rt.spawn(async () => {
      await new Promise((r) => setTimeout(r, 50));
      finished = true;
    });
    rt.send(pid, 'work');
    await new Promise((r) => setImmediate(r));
    const exited = rt.awaitExit(pid);
    rt.exit(pid, 'stop-now');
    expect(await exited).toBe('stop-now');
    expect(finished).toBe(false);
  });

  it('linking to a dead process sends the linker a noproc exit signal', async () => {
    const { rt } = newRuntime();
    const dead = recorder(rt);
    rt.exit(dead.pid, 'kill');
    await rt.awaitExit(dead.pid);
    const t = recorder(rt, { trap: true });
    t.ctx.link(dead.pid);
    const m = await t.next();
    expect(isExitMessage(m) && m.reason === 'noproc').toBe(true);
  });

  it('unlink stops propagation', async () => {
    const { rt } = newRuntime();
    const a = recorder(rt);
    const b = recorder(rt, { link: a.pid });
    b.ctx.unlink(a.pid);
    rt.exit(a.pid, 'crashed');
    rt.send(b.pid, 'alive');
    expect(await b.next()).toBe('alive');
  });
});

describe('monitors', () => {
  it('a monitor delivers DOWN with the exit reason, once', async () => {
    const { rt } = newRuntime();
    const w = recorder(rt);
    const target = recorder(rt);
    const ref = w.ctx.monitor(target.pid);
    rt.exit(target.pid, 'gone');
    const m = await w.next();
    expect(isDownMessage(m) && m.ref.id === ref.id && m.pid === target.pid && m.reason === 'gone').toBe(true);
    expect(w.got).toEqual([]);
  });

  it('monitoring a dead process or an unknown name gives DOWN noproc at once', async () => {
    const { rt } = newRuntime();
    const w = recorder(rt);
    w.ctx.monitor('nobody');
    const m = await w.next();
    expect(isDownMessage(m) && m.reason === 'noproc').toBe(true);
  });

  it('demonitor: no DOWN arrives', async () => {
    const { rt } = newRuntime();
    const w = recorder(rt);
    const target = recorder(rt);
    const ref = w.ctx.monitor(target.pid);
    w.ctx.demonitor(ref);
    rt.exit(target.pid, 'gone');
    rt.send(w.pid, 'marker');
    expect(await w.next()).toBe('marker');
  });
});

describe('no leaks', () => {
  it('a dead process leaves no link, monitor, name or table entry behind', async () => {
    const { rt } = newRuntime();
    const survivor = recorder(rt, { trap: true });
    const before = rt.processCount;
    const exits: Array<Promise<unknown>> = [];
    for (let i = 0; i < 200; i++) {
      const p = recorder(rt, { link: survivor.pid, name: `n${i}` });
      survivor.ctx.monitor(p.pid);
      p.ctx.monitor(survivor.pid);
      rt.exit(p.pid, i % 2 === 0 ? 'kill' : 'crash');
      exits.push(rt.awaitExit(p.pid));
    }
    await Promise.all(exits);
    expect(rt.processCount).toBe(before);
    expect(rt.info(survivor.pid)).toMatchObject({ links: 0, monitors: 0 });
    expect(rt.registered()).toEqual([]);
  });
});

describe('fault injection', () => {
  it('crash(pid, reason) ends even a trapping process with that reason; links see it', async () => {
    const { rt, lines } = newRuntime();
    const watcher = recorder(rt, { trap: true });
    const t = recorder(rt, { trap: true, link: watcher.pid });
    const exited = rt.awaitExit(t.pid);
    expect(rt.crash(t.pid, 'injected')).toBe(true);
    expect(await exited).toBe('injected');
    const m = await watcher.next();
    expect(isExitMessage(m) && m.reason === 'injected').toBe(true);
    expect(lines.some((l) => l.msg === 'fault injected: process crashed on purpose')).toBe(true);
    expect(rt.crash(t.pid, 'again')).toBe(false);
  });
});
