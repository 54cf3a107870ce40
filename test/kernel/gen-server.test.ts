import { describe, it, expect, vi, afterEach } from 'vitest';
import { newRuntime, Worker, okPid } from './helpers.ts';
import {
  GenServer,
  ok,
  reply,
  noreply,
  unexpected,
  type GenServerBehaviour,
  type From,
} from '../../src/kernel/gen-server.ts';
import { describeTree, renderTree } from '../../src/kernel/tree.ts';
import { CallError } from '../../src/kernel/runtime.ts';
import { withCallId, type Logger } from '../../src/kernel/log.ts';
import { Exit } from '../../src/kernel/exit-reason.ts';

afterEach(() => void vi.useRealTimers());

describe('gen_server init', () => {
  it('start resolves ok only after init returned, with a live pid', async () => {
    const { rt } = newRuntime();
    let initDone = false;
    const B: GenServerBehaviour<null, void> = {
      name: 'slow_init',
      async init() {
        await new Promise((r) => setTimeout(r, 20));
        initDone = true;
        return ok(null);
      },
    };
    const r = await GenServer.start(rt, B, undefined);
    expect(initDone).toBe(true);
    expect(rt.isAlive(okPid(r))).toBe(true);
  });

  it('an init returning stop fails the start with its reason and the process is gone', async () => {
    const { rt } = newRuntime();
    const before = rt.processCount;
    const r = await GenServer.start(rt, Worker, { id: 'w', initFail: 'no_config' });
    expect(r).toEqual({ type: 'error', reason: 'no_config' });
    expect(rt.processCount).toBe(before);
  });

  it('an init that throws fails the start with the thrown error', async () => {
    const { rt } = newRuntime();
    const B: GenServerBehaviour<null, void> = {
      name: 'thrower',
      init() {
        throw new Error('bad init');
      },
    };
    const r = await GenServer.start(rt, B, undefined);
    expect(r.type).toBe('error');
    expect((r as { reason: Error }).reason.message).toBe('bad init');
  });

  it('a failing init kills a linked starter that does not trap exits (as OTP)', async () => {
    const { rt } = newRuntime();
    const parent = rt.spawn(() => undefined);
    const exited = rt.awaitExit(parent);
    await GenServer.start(rt, Worker, { id: 'w', initFail: 'bad' }, { link: parent });
    expect(await exited).toBe('bad');
  });

  it('init returning ignore gives {type: ignore} and no process', async () => {
    const { rt } = newRuntime();
    const before = rt.processCount;
    expect(await GenServer.start(rt, Worker, { id: 'w', initIgnore: true })).toEqual({ type: 'ignore' });
    expect(rt.processCount).toBe(before);
  });

  it('starting under a taken name gives {already_started: pid}', async () => {
    const { rt } = newRuntime();
    const first = okPid(await GenServer.start(rt, Worker, { id: 'a' }, { name: 'svc' }));
    const r = await GenServer.start(rt, Worker, { id: 'b' }, { name: 'svc' });
    expect(r).toEqual({ type: 'error', reason: { already_started: first } });
  });
});

describe('gen_server call', () => {
  it('call returns the reply; cast is fire and forget; both by pid or name', async () => {
    const { rt } = newRuntime();
    const B: GenServerBehaviour<number, number, 'get', 'inc'> = {
      name: 'counter',
      init: (n) => ok(n),
      handleCall: (_r, _f, s) => reply(s, s),
      handleCast: (_m, s) => noreply(s + 1),
    };
    const pid = okPid(await GenServer.start(rt, B, 10, { name: 'counter' }));
    expect(GenServer.cast(rt, pid, 'inc')).toBe(true);
    GenServer.cast(rt, 'counter', 'inc');
    expect(await GenServer.call(rt, 'counter', 'get')).toBe(12);
    expect(GenServer.cast(rt, 'no_such_server', 'inc')).toBe(false);
  });

  it('a reply can be given later, from elsewhere, with the From', async () => {
    const { rt } = newRuntime();
    const pending: From[] = [];
    const B: GenServerBehaviour<null, void, 'wait' | 'release'> = {
      name: 'deferred',
      init: () => ok(null),
      handleCall(req, from, s) {
        if (req === 'wait') {
          pending.push(from);
          return noreply(s);
        }
        for (const f of pending.splice(0)) setTimeout(() => GenServer.reply(f, 'released'), 5);
        return reply('ok', s);
      },
    };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const waiting = GenServer.call(rt, pid, 'wait');
    expect(await GenServer.call(rt, pid, 'release')).toBe('ok');
    expect(await waiting).toBe('released');
  });

  it('the default call timeout is 5000 ms: the caller gets a timeout error, the server keeps running, a late reply is dropped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { rt } = newRuntime();
    const held: From[] = [];
    const B: GenServerBehaviour<null, void, 'hold' | 'ping'> = {
      name: 'holder',
      init: () => ok(null),
      handleCall(req, from, s) {
        if (req === 'hold') {
          held.push(from);
          return noreply(s);
        }
        return reply('pong', s);
      },
    };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    let outcome: unknown = 'pending';
    const p = GenServer.call(rt, pid, 'hold').then(
      (v) => (outcome = v),
      (e: unknown) => (outcome = e),
    );
    await vi.advanceTimersByTimeAsync(4999);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(outcome).toBeInstanceOf(CallError);
    expect((outcome as CallError).kind).toBe('timeout');
    vi.useRealTimers();
    // A second call now waits on the same server. The late reply to the first must go
    // nowhere: not to this call, not as an error.
    let second: unknown = 'pending';
    const p2 = GenServer.call(rt, pid, 'hold', 'infinity').then(
      (v) => (second = v),
      (e: unknown) => (second = e),
    );
    while (held.length < 2) await new Promise((r) => setImmediate(r));
    expect(() => GenServer.reply(held[0]!, 'too late')).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(second).toBe('pending');
    GenServer.reply(held[1]!, 'on time');
    await p2;
    expect(second).toBe('on time');
    expect(await GenServer.call(rt, pid, 'ping')).toBe('pong');
  });

  it('each call keeps its own deadline: a later call outlives an earlier one answered in time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { rt } = newRuntime();
    const held: From[] = [];
    const B: GenServerBehaviour<null, void, 'hold'> = {
      name: 'holder',
      init: () => ok(null),
      handleCall(_req, from, s) {
        held.push(from);
        return noreply(s);
      },
    };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const first = GenServer.call(rt, pid, 'hold');
    await vi.advanceTimersByTimeAsync(3000);
    let second: unknown = 'pending';
    const p = GenServer.call(rt, pid, 'hold').then(
      (v) => (second = v),
      (e: unknown) => (second = e),
    );
    await vi.advanceTimersByTimeAsync(0);
    GenServer.reply(held[0]!, 'answered');
    expect(await first).toBe('answered');
    await vi.advanceTimersByTimeAsync(4999);
    expect(second).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect((second as CallError).kind).toBe('timeout');
    vi.useRealTimers();
  });

  it('a call to a server that is not running fails at once with noproc', async () => {
    const { rt } = newRuntime();
    const err = await GenServer.call(rt, 'absent', 'ping').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect((err as CallError).kind).toBe('noproc');
  });

  it('if the server dies during the call, the caller fails with the server exit reason, not a timeout', async () => {
    const { rt } = newRuntime();
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w' }));
    const pending = GenServer.call(rt, pid, 'hang', 60_000).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    rt.exit(pid, 'db_down');
    const err = (await pending) as CallError;
    expect(err.kind).toBe('exit');
    expect(err.reason).toBe('db_down');
  });

  it('a callback that throws crashes the server; its caller fails with the error as reason', async () => {
    const { rt } = newRuntime();
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w' }));
    const err = (await GenServer.call(rt, pid, { crash: 'bad_state' }).catch((e: unknown) => e)) as CallError;
    expect(err.kind).toBe('exit');
    expect(err.reason).toBe('bad_state');
    expect(rt.isAlive(pid)).toBe(false);
  });

  it('a call to a server without handleCall fails the caller at once (the server crashes)', async () => {
    const { rt } = newRuntime();
    const B: GenServerBehaviour<null, void, 'x'> = { name: 'no_calls', init: () => ok(null) };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const err = (await GenServer.call(rt, pid, 'x').catch((e: unknown) => e)) as CallError;
    expect(err.kind).toBe('exit');
    expect(err.reason).toMatchObject({ unhandled_call: 'x' });
  });

  it('a bad return value crashes the server with {bad_return_value}', async () => {
    const { rt } = newRuntime();
    const B = {
      name: 'bad',
      init: () => ok(null),
      handleCall: () => ({ oops: true }),
    } as unknown as GenServerBehaviour<null, void, 'x'>;
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const err = (await GenServer.call(rt, pid, 'x').catch((e: unknown) => e)) as CallError;
    expect(err.reason).toEqual({ bad_return_value: { oops: true } });
  });
});

describe('gen_server info, timeout, stop and terminate', () => {
  it('a message without handleInfo is logged at warn with its type (not its content), counted in the tree view; the server lives on', async () => {
    const { rt, lines } = newRuntime();
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w' }));
    rt.send(pid, { type: 'stray', password: 'hunter2', note: 'private content' });
    rt.send(pid, 'tick');
    expect(await GenServer.call(rt, pid, 'ping')).toBe('pong');
    const dropped = lines.filter((l) => l.msg === 'unexpected message dropped' && l.server === 'test_worker');
    expect(dropped.map((l) => [l.level, l.msg_type])).toEqual([
      [40, 'stray'],
      [40, 'tick'],
    ]);
    expect(JSON.stringify(dropped)).not.toMatch(/hunter2|private content/);
    expect(describeTree(rt, pid)?.unexpectedMessages).toBe(2);
    expect(renderTree({ node: rt.node, processes: 1, kernel: describeTree(rt, pid), apps: [] })).toContain(
      'unexpected=2',
    );
  });

  it('handleInfo hands a message back with unexpected(msg, state): the kernel logs and counts it, the new state is kept', async () => {
    const { rt, lines } = newRuntime();
    const B: GenServerBehaviour<number, void, 'get'> = {
      name: 'picky',
      init: () => ok(0),
      handleCall: (_r, _f, n) => reply(n, n),
      handleInfo: (m, n) => (m === 'bump' ? noreply(n + 1) : unexpected(m, n + 10)),
    };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    rt.send(pid, 'bump');
    rt.send(pid, [1, 2]);
    expect(await GenServer.call(rt, pid, 'get')).toBe(11);
    expect(
      lines
        .filter((l) => l.msg === 'unexpected message dropped' && l.server === 'picky')
        .map((l) => l.msg_type),
    ).toEqual(['array']);
    expect(describeTree(rt, pid)?.unexpectedMessages).toBe(1);
  });

  it('unexpected(msg, state) from handleCall is a bad return value (the caller would never get an answer)', async () => {
    const { rt } = newRuntime();
    const B = {
      name: 'bad',
      init: () => ok(null),
      handleCall: (m: unknown, _f: unknown, s: null) => unexpected(m, s),
    } as unknown as GenServerBehaviour<null, void, 'x'>;
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const err = (await GenServer.call(rt, pid, 'x').catch((e: unknown) => e)) as CallError;
    expect(err.reason).toEqual({ bad_return_value: { type: 'unexpected', msg: 'x', state: null } });
  });

  it('a result with {timeout} delivers "timeout" to handleInfo when nothing arrives', async () => {
    const { rt } = newRuntime();
    let got: unknown;
    const done = new Promise<void>((resolve) => {
      const B: GenServerBehaviour<null, void> = {
        name: 'idle',
        init: () => ok(null, { timeout: 10 }),
        handleInfo(m, s) {
          got = m;
          resolve();
          return noreply(s);
        },
      };
      void GenServer.start(rt, B, undefined);
    });
    await done;
    expect(got).toBe('timeout');
  });

  it('stop runs terminate with the reason, then the process exits with it', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w', journal }));
    const exited = rt.awaitExit(pid);
    await GenServer.stop(rt, pid, 'shutdown');
    expect(await exited).toBe('shutdown');
    expect(journal).toEqual(['start:w', 'terminate:w:shutdown']);
  });

  it('a callback returning stop replies (when asked) and runs terminate', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w', journal }));
    expect(await GenServer.call(rt, pid, { stop: 'normal' })).toBe('stopping');
    await rt.awaitExit(pid);
    expect(journal).toContain('terminate:w:normal');
  });

  it('terminate runs when a callback throws, with the thrown reason', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w', journal }));
    const exited = rt.awaitExit(pid);
    GenServer.cast(rt, pid, { crash: 'oops' });
    expect(await exited).toBe('oops');
    expect(journal).toContain('terminate:w:oops');
  });

  it('a trapping server whose parent sends shutdown runs terminate; a non-trapping one is ended without it', async () => {
    const { rt } = newRuntime();
    const parent = rt.spawn(() => undefined, { trapExit: true });
    const journal: string[] = [];
    const trapping = okPid(
      await GenServer.start(rt, Worker, { id: 't', journal, trap: true }, { link: parent }),
    );
    const plain = okPid(await GenServer.start(rt, Worker, { id: 'p', journal }, { link: parent }));
    const e1 = rt.awaitExit(trapping);
    const e2 = rt.awaitExit(plain);
    rt.exit(trapping, 'shutdown', parent);
    rt.exit(plain, 'shutdown', parent);
    expect(await e1).toBe('shutdown');
    expect(await e2).toBe('shutdown');
    expect(journal).toEqual(['start:t', 'start:p', 'terminate:t:shutdown']);
  });

  it('a throw of Exit inside terminate becomes the exit reason', async () => {
    const { rt } = newRuntime();
    const B: GenServerBehaviour<null, void> = {
      name: 'bad_terminate',
      init: () => ok(null),
      terminate() {
        throw new Exit('terminate_failed');
      },
    };
    const pid = okPid(await GenServer.start(rt, B, undefined));
    const exited = rt.awaitExit(pid);
    // as OTP's gen_server:stop, the other reason is raised to the caller
    await expect(GenServer.stop(rt, pid, 'normal')).rejects.toMatchObject({
      kind: 'exit',
      reason: 'terminate_failed',
    });
    expect(await exited).toBe('terminate_failed');
  });
});

describe('logs carry node, process and call-id through async work', () => {
  it('the call-id of the sender reaches the handler, across an await', async () => {
    const { rt, lines } = newRuntime();
    const B: GenServerBehaviour<null, void, never, 'work'> = {
      name: 'logger_srv',
      init: () => ok(null),
      async handleCast(_m, s, ctx) {
        await new Promise((r) => setTimeout(r, 1));
        ctx.log.info('did work');
        return noreply(s);
      },
      handleCall: (_r, _f, s) => reply('ok', s),
    };
    const pid = okPid(await GenServer.start(rt, B, undefined, { name: 'worker_a', app: 'demo' }));
    withCallId('call-123', () => GenServer.cast(rt, pid, 'work'));
    GenServer.cast(rt, pid, 'work');
    await GenServer.call(rt, pid, 'x' as never);
    const work = lines.filter((l) => l.msg === 'did work');
    expect(work).toHaveLength(2);
    expect(work[0]).toMatchObject({
      node: 'test@localhost',
      app: 'demo',
      proc: 'worker_a',
      call_id: 'call-123',
    });
    expect(work[1]!.call_id).toBeUndefined();
  });

  it('a message sent or a timer set after an await carries the call-id to the receiver', async () => {
    const { rt, lines } = newRuntime();
    const Echo: GenServerBehaviour<null, void, never, never> = {
      name: 'echo_srv',
      init: () => ok(null),
      handleInfo(m, s, ctx) {
        ctx.log.info({ m }, 'got');
        return noreply(s);
      },
      handleCall: (_r, _f, s) => reply('ok', s),
    };
    const echo = okPid(await GenServer.start(rt, Echo, undefined, { name: 'echo' }));
    const Sender: GenServerBehaviour<null, void, never, 'go'> = {
      name: 'sender_srv',
      init: () => ok(null),
      async handleCast(_m, s, ctx) {
        await new Promise((r) => setTimeout(r, 1));
        ctx.send(echo, 'sent');
        ctx.sendAfter(1, 'timer');
        return noreply(s);
      },
      handleInfo(m, s, ctx) {
        ctx.send(echo, m);
        return noreply(s);
      },
      handleCall: (_r, _f, s) => reply('ok', s),
    };
    const pid = okPid(await GenServer.start(rt, Sender, undefined, { name: 'sender' }));
    withCallId('call-9', () => GenServer.cast(rt, pid, 'go'));
    await vi.waitFor(() => expect(lines.filter((l) => l.msg === 'got')).toHaveLength(2));
    expect(lines.filter((l) => l.msg === 'got').map((l) => [l.m, l.call_id])).toEqual([
      ['sent', 'call-9'],
      ['timer', 'call-9'],
    ]);
  });

  it("a logger bound to a call-id keeps it while handling another call's message", async () => {
    const { rt, lines } = newRuntime();
    const PerCall: GenServerBehaviour<{ log: Logger }, void, never, 'x'> = {
      name: 'per_call_srv',
      init: (_a, ctx) => ok({ log: ctx.log.child({ call_id: 'mine' }) }),
      async handleCast(_m, s) {
        s.log.info('sync part');
        await new Promise((r) => setTimeout(r, 1));
        s.log.info('async part');
        return noreply(s);
      },
      handleCall: (_r, _f, s) => reply('ok', s),
    };
    const pid = okPid(await GenServer.start(rt, PerCall, undefined, { name: 'per_call' }));
    withCallId('theirs', () => GenServer.cast(rt, pid, 'x'));
    await vi.waitFor(() => expect(lines.filter((l) => l.msg === 'async part')).toHaveLength(1));
    expect(lines.filter((l) => /part$/.test(String(l.msg))).map((l) => l.call_id)).toEqual(['mine', 'mine']);
  });

  it('a crash is logged with the reason, and secrets are redacted', async () => {
    const { rt, lines } = newRuntime();
    const pid = okPid(await GenServer.start(rt, Worker, { id: 'w' }));
    const exited = rt.awaitExit(pid);
    GenServer.cast(rt, pid, { crash: { password: 'hunter2', why: 'x' } });
    await exited;
    const crashLine = lines.find((l) => l.msg === 'process crashed');
    expect(crashLine).toBeDefined();
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });
});
