import { describe, it, expect } from 'vitest';
import { newRuntime, workerSpec, okPid, crash, manualClock, Worker } from './helpers.ts';
import { AppsController, type AppDefinition } from '../../src/kernel/apps-controller.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import { GenServer } from '../../src/kernel/gen-server.ts';
import { describeNode, renderTree } from '../../src/kernel/tree.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';

const app = (name: string, journal: string[], extra: Partial<AppDefinition> = {}): AppDefinition => ({
  name,
  version: '1.0.0',
  tree: () => ({
    flags: { strategy: 'one_for_one' },
    children: [
      workerSpec({ id: `${name}_a`, journal, trap: true }),
      workerSpec({ id: `${name}_b`, journal, trap: true }),
    ],
  }),
  ...extra,
});

async function boot(rt: Runtime, apps: AppDefinition[]) {
  return okPid(await AppsController.start(rt, { env: {}, apps }));
}

const appRoot = async (rt: Runtime, name: string) =>
  (await AppsController.appsStatus(rt)).find((a) => a.name === name)!.pid!;

describe('apps controller', () => {
  it('starts an app with its deps first and lists running apps in start order', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    await boot(rt, [app('callflow', journal, { deps: ['registrar'] }), app('registrar', journal)]);
    expect(await AppsController.startApp(rt, 'callflow')).toEqual({ type: 'ok' });
    expect(await AppsController.runningApps(rt)).toEqual(['registrar', 'callflow']);
    expect(journal).toEqual([
      'start:registrar_a',
      'start:registrar_b',
      'start:callflow_a',
      'start:callflow_b',
    ]);
    expect(await AppsController.startApp(rt, 'callflow')).toEqual({
      type: 'error',
      reason: 'already_started',
    });
  });

  it('stopping one app takes its whole tree down in reverse order and touches nothing else', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    await boot(rt, [app('one', journal), app('two', journal)]);
    await AppsController.startApp(rt, 'one');
    await AppsController.startApp(rt, 'two');
    const twoRoot = await appRoot(rt, 'two');
    const twoKids = await Supervisor.whichChildren(rt, twoRoot);
    const oneRoot = await appRoot(rt, 'one');
    const procsBefore = rt.processCount;
    journal.length = 0;
    expect(await AppsController.stopApp(rt, 'one')).toEqual({ type: 'ok' });
    expect(journal).toEqual(['terminate:one_b:shutdown', 'terminate:one_a:shutdown']);
    expect(rt.isAlive(oneRoot)).toBe(false);
    expect(rt.processCount).toBe(procsBefore - 3);
    expect(await Supervisor.whichChildren(rt, twoRoot)).toEqual(twoKids);
    expect(await AppsController.runningApps(rt)).toEqual(['two']);
  });

  it('restartApp rebuilds the tree from its spec', async () => {
    const { rt } = newRuntime();
    await boot(rt, [app('one', [])]);
    await AppsController.startApp(rt, 'one');
    const before = await appRoot(rt, 'one');
    expect(await AppsController.restartApp(rt, 'one')).toEqual({ type: 'ok' });
    const after = await appRoot(rt, 'one');
    expect(after).not.toBe(before);
    expect((await Supervisor.whichChildren(rt, after)).map((c) => c.status)).toEqual(['running', 'running']);
  });

  it('unknown apps, dependency cycles and failing trees are clear errors', async () => {
    const { rt, lines } = newRuntime();
    const failing: AppDefinition = {
      name: 'bad',
      tree: () => ({ children: [workerSpec({ id: 'x', initFail: 'no_db' })] }),
    };
    await boot(rt, [app('a', [], { deps: ['b'] }), app('b', [], { deps: ['a'] }), failing]);
    expect(await AppsController.startApp(rt, 'nope')).toMatchObject({
      type: 'error',
      reason: { unknown_app: 'nope' },
    });
    expect(JSON.stringify(await AppsController.startApp(rt, 'a'))).toContain('dependency_cycle');
    expect(await AppsController.startApp(rt, 'bad')).toMatchObject({
      type: 'error',
      reason: { shutdown: { failed_to_start_child: 'x', reason: 'no_db' } },
    });
    expect(lines.some((l) => l.msg === 'app failed to start' && l.app === 'bad')).toBe(true);
    expect(await AppsController.runningApps(rt)).toEqual([]);
  });

  it('a permanent app whose tree gives up is logged and restarted', async () => {
    const { rt, lines } = newRuntime();
    await boot(rt, [
      { name: 'fragile', tree: () => ({ flags: { intensity: 0 }, children: [workerSpec({ id: 'w' })] }) },
    ]);
    await AppsController.startApp(rt, 'fragile');
    const root = await appRoot(rt, 'fragile');
    const restarted = rt.events.waitFor('app', (e) => e.kind === 'restarted' && e.app === 'fragile');
    crash(rt, (await Supervisor.whichChildren(rt, root))[0]!.pid!);
    await restarted;
    const st = (await AppsController.appsStatus(rt))[0]!;
    expect(st).toMatchObject({ state: 'running', restarts: 1 });
    expect(st.pid).not.toBe(root);
    expect(lines.some((l) => l.msg === 'app tree gave up' && l.app === 'fragile')).toBe(true);
  });

  it('a temporary app whose tree gives up is left stopped; the node goes on', async () => {
    const { rt } = newRuntime();
    await boot(rt, [
      {
        name: 'tmp',
        restart: 'temporary',
        tree: () => ({ flags: { intensity: 0 }, children: [workerSpec({ id: 'w' })] }),
      },
      app('other', []),
    ]);
    await AppsController.startApp(rt, 'tmp');
    await AppsController.startApp(rt, 'other');
    const crashed = rt.events.waitFor('app', (e) => e.kind === 'crashed' && e.app === 'tmp');
    crash(rt, (await Supervisor.whichChildren(rt, await appRoot(rt, 'tmp')))[0]!.pid!);
    // The root supervisor exits `shutdown`; the app's failure is the crash that made it give up.
    expect(await crashed).toMatchObject({ reason: 'shutdown', cause: 'boom' });
    expect(await AppsController.runningApps(rt)).toEqual(['other']);
    expect((await AppsController.appsStatus(rt)).find((a) => a.name === 'tmp')).toMatchObject({
      state: 'stopped',
      lastFailure: 'boom',
    });
  });

  it('an app that keeps failing is given up (failed), logged at fatal, and other apps keep running', async () => {
    const clock = manualClock();
    const { rt, lines } = newRuntime({ clock: clock.now });
    await boot(rt, [
      {
        name: 'doomed',
        maxRestarts: { intensity: 2, period: 60 },
        tree: () => ({ flags: { intensity: 0 }, children: [workerSpec({ id: 'w' })] }),
      },
      app('other', []),
    ]);
    await AppsController.startApp(rt, 'doomed');
    await AppsController.startApp(rt, 'other');
    const gaveUp = rt.events.waitFor('app', (e) => e.kind === 'gave_up' && e.app === 'doomed');
    for (let i = 0; i < 3; i++) {
      const st = (await AppsController.appsStatus(rt)).find((a) => a.name === 'doomed')!;
      if (st.state !== 'running') break;
      const ended = rt.awaitExit(st.pid!);
      crash(rt, (await Supervisor.whichChildren(rt, st.pid!))[0]!.pid!);
      await ended;
    }
    await gaveUp;
    expect((await AppsController.appsStatus(rt)).find((a) => a.name === 'doomed')!.state).toBe('failed');
    expect(await AppsController.runningApps(rt)).toEqual(['other']);
    expect(lines.some((l) => l.level === 60 && l.app === 'doomed')).toBe(true);
  });

  it('a root killed while its children still stop (they trap exits) is restarted once they are gone, not beside them', async () => {
    const { rt } = newRuntime();
    const journal: string[] = [];
    const slow: AppDefinition = {
      name: 'slow',
      tree: () => ({
        children: [
          {
            id: 'named',
            start: (ctx) =>
              GenServer.start(
                ctx.runtime,
                Worker,
                { id: 'named', journal, trap: true, slowTerminate: 100 },
                { link: ctx.parent, name: 'slow_named' },
              ),
          },
        ],
      }),
    };
    await boot(rt, [slow]);
    await AppsController.startApp(rt, 'slow');
    const restarted = rt.events.waitFor(
      'app',
      (e) => e.app === 'slow' && ['restarted', 'gave_up', 'start_failed'].includes(e.kind),
    );
    rt.crash(await appRoot(rt, 'slow'), 'injected');
    expect(await restarted).toMatchObject({ kind: 'restarted', reason: 'injected' });
    expect((await AppsController.appsStatus(rt))[0]).toMatchObject({ state: 'running', restarts: 1 });
    expect(journal).toEqual(['start:named', 'terminate:named:injected', 'start:named']);
  });

  describe('application types (OTP): what an app that ends for good does to its node', () => {
    const fragile = (name: string, extra: Partial<AppDefinition> = {}): AppDefinition => ({
      name,
      maxRestarts: { intensity: 1, period: 60 },
      tree: () => ({ flags: { intensity: 0 }, children: [workerSpec({ id: `${name}_w` })] }),
      ...extra,
    });
    /** Crashes the app's only worker until the controller stops restarting it. */
    async function wearOut(rt: Runtime, name: string): Promise<void> {
      for (let i = 0; i < 5; i++) {
        const st = (await AppsController.appsStatus(rt)).find((a) => a.name === name)!;
        if (st.state !== 'running') return;
        const ended = rt.awaitExit(st.pid!);
        crash(rt, (await Supervisor.whichChildren(rt, st.pid!))[0]!.pid!);
        await ended;
        await AppsController.appsStatus(rt); // the controller has handled the exit
      }
    }
    const haltEvents = (rt: Runtime) => {
      const seen: unknown[] = [];
      rt.events.on('app', (e) => {
        if (e.kind === 'halts_node') seen.push(e);
      });
      return seen;
    };

    it('a permanent app past its restart limit takes the node down: fatal log naming the app and reason, halts_node event', async () => {
      const { rt, lines } = newRuntime();
      await AppsController.start(rt, {
        env: {},
        apps: [fragile('core'), app('other', [])],
        types: { core: 'permanent' },
      });
      await AppsController.startApp(rt, 'core');
      await AppsController.startApp(rt, 'other');
      const halts = rt.events.waitFor('app', (e) => e.kind === 'halts_node');
      await wearOut(rt, 'core');
      expect(await halts).toMatchObject({
        kind: 'halts_node',
        app: 'core',
        type: 'permanent',
        reason: 'boom',
      });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 60,
          app: 'core',
          type: 'permanent',
          reason: 'boom',
          msg: 'app failed for good: the node stops (permanent app)',
        }),
      );
      expect((await AppsController.appsStatus(rt)).find((a) => a.name === 'core')).toMatchObject({
        state: 'failed',
        type: 'permanent',
      });
    });

    it('a temporary app (the default) past its limit is left failed and reported; the node goes on', async () => {
      const { rt, lines } = newRuntime();
      await AppsController.start(rt, { env: {}, apps: [fragile('extra'), app('other', [])] });
      const halts = haltEvents(rt);
      await AppsController.startApp(rt, 'extra');
      await AppsController.startApp(rt, 'other');
      const gaveUp = rt.events.waitFor('app', (e) => e.kind === 'gave_up' && e.app === 'extra');
      await wearOut(rt, 'extra');
      await gaveUp;
      expect(halts).toEqual([]);
      expect((await AppsController.appsStatus(rt)).find((a) => a.name === 'extra')).toMatchObject({
        state: 'failed',
        type: 'temporary',
        lastFailure: 'boom',
      });
      expect(await AppsController.runningApps(rt)).toEqual(['other']);
      expect(lines).toContainEqual(expect.objectContaining({ level: 60, app: 'extra', type: 'temporary' }));
    });

    it('a transient app takes the node down only when it ended abnormally', async () => {
      const { rt } = newRuntime();
      // `quits` ends normally: its one significant child stops with `normal` and the
      // root supervisor shuts itself down (auto_shutdown).
      const quits: AppDefinition = {
        name: 'quits',
        restart: 'transient',
        tree: () => ({
          flags: { autoShutdown: 'any_significant' },
          children: [workerSpec({ id: 'q' }, { restart: 'transient', significant: true })],
        }),
      };
      await AppsController.start(rt, {
        env: {},
        apps: [quits, fragile('breaks')],
        types: { quits: 'transient', breaks: 'transient' },
      });
      const halts = haltEvents(rt);
      await AppsController.startApp(rt, 'quits');
      const root = await appRoot(rt, 'quits');
      const ended = rt.awaitExit(root);
      await GenServer.call(rt, (await Supervisor.whichChildren(rt, root))[0]!.pid!, { stop: 'normal' });
      await ended;
      await AppsController.appsStatus(rt);
      expect(halts).toEqual([]);
      expect((await AppsController.appsStatus(rt)).find((a) => a.name === 'quits')).toMatchObject({
        state: 'stopped',
        type: 'transient',
      });

      await AppsController.startApp(rt, 'breaks');
      const halted = rt.events.waitFor('app', (e) => e.kind === 'halts_node');
      await wearOut(rt, 'breaks');
      expect(await halted).toMatchObject({ app: 'breaks', type: 'transient', reason: 'boom' });
    });

    it('an operator stop of a permanent app does not take the node down', async () => {
      const { rt } = newRuntime();
      await AppsController.start(rt, { env: {}, apps: [app('core', [])], types: { core: 'permanent' } });
      const halts = haltEvents(rt);
      await AppsController.startApp(rt, 'core');
      expect(await AppsController.stopApp(rt, 'core')).toEqual({ type: 'ok' });
      expect(halts).toEqual([]);
    });
  });

  it('operations an app declares run with the node services while it runs; clear errors otherwise', async () => {
    const { rt } = newRuntime();
    const env = { greeting: 'hi' };
    const withOps: AppDefinition<typeof env> = {
      name: 'ops',
      tree: () => ({ children: [] }),
      operations: { greet: async (input, e) => `${e.greeting} ${String(input.who)}` },
    };
    await AppsController.start(rt, { env, apps: [withOps] });
    expect(await AppsController.operation(rt, 'nope', 'greet')).toMatchObject({
      type: 'error',
      reason: 'unknown_app',
    });
    expect(await AppsController.operation(rt, 'ops', 'wave')).toMatchObject({
      type: 'error',
      reason: 'unknown_operation',
      known: ['greet'],
    });
    expect(await AppsController.operation(rt, 'ops', 'greet')).toMatchObject({
      type: 'error',
      reason: 'not_started',
    });
    await AppsController.startApp(rt, 'ops');
    const op = await AppsController.operation(rt, 'ops', 'greet');
    expect(op.type === 'ok' && (await op.run({ who: 'bob' }))).toBe('hi bob');
  });

  it('the live tree shows every supervisor and child with pid, status and restarts', async () => {
    const { rt } = newRuntime();
    const root = okPid(
      await Supervisor.start(
        rt,
        {
          flags: { intensity: 5 },
          children: [AppsController.childSpec({ env: {}, apps: [app('one', [])] })],
        },
        { name: 'kernel_sup' },
      ),
    );
    await AppsController.startApp(rt, 'one');
    const kids = await Supervisor.whichChildren(rt, await appRoot(rt, 'one'));
    const r = rt.events.waitFor('supervisor', (e) => e.kind === 'child_restarted' && e.childId === 'one_a');
    crash(rt, kids.find((k) => k.id === 'one_a')!.pid!);
    await r;
    const t = describeNode(rt, { root: 'kernel_sup' });
    expect(t.kernel).toMatchObject({
      name: 'kernel_sup',
      type: 'supervisor',
      strategy: 'one_for_one',
      children: [{ id: 'apps_controller', status: 'running', behaviour: 'apps_controller' }],
    });
    expect(t.apps[0]).toMatchObject({
      name: 'one',
      state: 'running',
      tree: {
        type: 'supervisor',
        children: [
          { id: 'one_a', restarts: 1, status: 'running' },
          { id: 'one_b', restarts: 0 },
        ],
      },
    });
    expect(t.apps[0]!.tree!.children![0]!.pid).toMatch(/^<test@localhost\.\d+>$/);
    const text = renderTree(t);
    expect(text).toContain('one_a');
    expect(text).toMatch(/one_a\s+<test@localhost\.\d+>\s+test_worker\s+running\s+restarts=1/);
    expect(root).toBeDefined();
  });
});
