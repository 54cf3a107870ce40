/**
 * Upgrading a running app (AppsController.upgradeApp), as OTP's release handler does:
 * gen_servers whose new behaviour has codeChange keep their state through it (messages
 * that arrive meanwhile wait in the mailbox), others are restarted by their supervisor
 * with the new child spec; a failing upgrade leaves the old version running.
 */
import { describe, it, expect } from 'vitest';
import { newRuntime, okPid } from './helpers.ts';
import { AppsController, type AppDefinition } from '../../src/kernel/apps-controller.ts';
import { GenServer, ok, reply, noreply, type GenServerBehaviour } from '../../src/kernel/gen-server.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';

interface V1 {
  n: number;
}
interface V2 {
  total: number;
  sinceUpgrade: number;
}

const TallyV1: GenServerBehaviour<V1, void, 'get', 'hit'> = {
  name: 'tally',
  init: () => ok({ n: 0 }),
  handleCall: (_req, _from, s) => reply({ vsn: 1, n: s.n }, s),
  handleCast: (_msg, s) => noreply({ n: s.n + 1 }),
};

const tallyV2 = (
  codeChange: GenServerBehaviour<V2>['codeChange'],
): GenServerBehaviour<V2, void, 'get', 'hit'> => ({
  name: 'tally',
  init: () => ok({ total: 0, sinceUpgrade: 0 }),
  handleCall: (_req, _from, s) => reply({ vsn: 2, total: s.total, sinceUpgrade: s.sinceUpgrade }, s),
  handleCast: (_msg, s) => noreply({ total: s.total + 1, sinceUpgrade: s.sinceUpgrade + 1 }),
  codeChange,
});

const carry: GenServerBehaviour<V2>['codeChange'] = (_old, state) => ({
  total: (state as V1).n,
  sinceUpgrade: 0,
});

const Plain = (vsn: number): GenServerBehaviour<null, void, 'vsn'> => ({
  name: 'plain',
  init: () => ok(null),
  handleCall: (_req, _from, s) => reply(vsn, s),
});
const PlainV1 = Plain(1);
const PlainV2 = Plain(2);

function appDef(
  version: string,
  tally: GenServerBehaviour<any, void, any, any>,
  plain: GenServerBehaviour<null, void, 'vsn'>,
  more: Partial<AppDefinition> = {},
): AppDefinition {
  return {
    name: 'tallies',
    version,
    tree: () => ({
      flags: { strategy: 'one_for_one', intensity: 5, period: 10 },
      children: [
        GenServer.childSpec('tally', tally, undefined, { name: 'tally' }),
        GenServer.childSpec('plain', plain, undefined, { name: 'plain' }),
      ],
    }),
    ...more,
  };
}

async function boot(rt: Runtime, def: AppDefinition) {
  okPid(await AppsController.start(rt, { env: {}, apps: [def] }));
  expect(await AppsController.startApp(rt, def.name)).toEqual({ type: 'ok' });
}

const versionOf = async (rt: Runtime, name: string) =>
  (await AppsController.appsStatus(rt)).find((a) => a.name === name)?.version;

describe('upgrading a running app', () => {
  it('a gen_server with codeChange keeps its state through the change, no message lost; the new code answers after', async () => {
    const { rt } = newRuntime();
    await boot(rt, appDef('1.0.0', TallyV1, PlainV1));
    const pid = rt.whereis('tally')!;
    for (let i = 0; i < 50; i++) GenServer.cast(rt, 'tally', 'hit');

    // codeChange waits on a gate: casts sent meanwhile wait in the mailbox
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let seenOld: unknown;
    let entered!: () => void;
    const inCodeChange = new Promise<void>((r) => (entered = r));
    const v2 = tallyV2(async (oldVsn, state) => {
      seenOld = oldVsn;
      entered();
      await gate;
      return carry(oldVsn, state, undefined, undefined as never) as V2;
    });
    const upgraded = AppsController.upgradeApp(rt, 'tallies', appDef('2.0.0', v2, PlainV1));
    await inCodeChange;
    for (let i = 0; i < 30; i++) GenServer.cast(rt, 'tally', 'hit');
    open();
    const r = await upgraded;
    expect(r).toMatchObject({ type: 'ok', from: '1.0.0', to: '2.0.0', changed: ['tally'] });
    expect(seenOld).toBe('1.0.0');
    expect(rt.whereis('tally')).toEqual(pid); // same process, new code
    expect(await GenServer.call(rt, 'tally', 'get')).toEqual({ vsn: 2, total: 80, sinceUpgrade: 30 });
    expect(await versionOf(rt, 'tallies')).toBe('2.0.0');
  });

  it('a gen_server without codeChange is restarted by its supervisor with the new child spec', async () => {
    const { rt } = newRuntime();
    await boot(rt, appDef('1.0.0', TallyV1, PlainV1));
    const before = rt.whereis('plain')!;
    const tally = rt.whereis('tally')!;
    const r = await AppsController.upgradeApp(rt, 'tallies', appDef('1.1.0', TallyV1, PlainV2));
    expect(r).toMatchObject({ type: 'ok', changed: [], restarted: ['plain'] });
    expect(rt.whereis('plain')).not.toEqual(before);
    expect(await GenServer.call(rt, 'plain', 'vsn')).toBe(2);
    // an unchanged behaviour is left alone
    expect(rt.whereis('tally')).toEqual(tally);
    // the supervisor restarts it with the new spec from now on
    const root = (await AppsController.appsStatus(rt)).find((a) => a.name === 'tallies')!.pid!;
    const upgraded = rt.whereis('plain')!;
    rt.crash(upgraded, 'boom');
    await expect
      .poll(() => rt.whereis('plain') !== undefined && rt.whereis('plain')?.id !== upgraded.id)
      .toBe(true);
    expect(await GenServer.call(rt, 'plain', 'vsn')).toBe(2);
    expect((await Supervisor.whichChildren(rt, root)).map((c) => c.id).sort()).toEqual(['plain', 'tally']);
  });

  it('a codeChange that throws leaves the old version serving with its state, and says why', async () => {
    const { rt, lines } = newRuntime();
    await boot(rt, appDef('1.0.0', TallyV1, PlainV1));
    for (let i = 0; i < 7; i++) GenServer.cast(rt, 'tally', 'hit');
    const plain = rt.whereis('plain')!;
    const bad = tallyV2(() => {
      throw new Error('cannot read a v1 tally');
    });
    const r = await AppsController.upgradeApp(rt, 'tallies', appDef('2.0.0', bad, PlainV2));
    expect(r.type).toBe('error');
    expect(JSON.stringify((r as { reason: unknown }).reason)).toContain('cannot read a v1 tally');
    expect(await GenServer.call(rt, 'tally', 'get')).toEqual({ vsn: 1, n: 7 });
    GenServer.cast(rt, 'tally', 'hit');
    expect(await GenServer.call(rt, 'tally', 'get')).toEqual({ vsn: 1, n: 8 });
    // nothing else was touched either
    expect(rt.whereis('plain')).toEqual(plain);
    expect(await GenServer.call(rt, 'plain', 'vsn')).toBe(1);
    expect(await versionOf(rt, 'tallies')).toBe('1.0.0');
    expect(lines.find((l) => l.msg === 'app upgrade failed: the old version runs on')).toMatchObject({
      app: 'tallies',
    });
  });

  it('when one process of several fails its codeChange, none of them changes', async () => {
    const { rt } = newRuntime();
    const def = (
      vsn: string,
      a: GenServerBehaviour<any, void, any, any>,
      b: GenServerBehaviour<any, void, any, any>,
    ) => ({
      name: 'pair',
      version: vsn,
      tree: () => ({
        children: [
          GenServer.childSpec('a', a, undefined, { name: 'pair_a' }),
          GenServer.childSpec('b', b, undefined, { name: 'pair_b' }),
        ],
      }),
    });
    await boot(rt, def('1', TallyV1, { ...TallyV1 }));
    GenServer.cast(rt, 'pair_a', 'hit');
    const r = await AppsController.upgradeApp(
      rt,
      'pair',
      def(
        '2',
        tallyV2(carry),
        tallyV2(() => {
          throw new Error('b refuses');
        }),
      ),
    );
    expect(r.type).toBe('error');
    expect(await GenServer.call(rt, 'pair_a', 'get')).toEqual({ vsn: 1, n: 1 });
    expect(await GenServer.call(rt, 'pair_b', 'get')).toEqual({ vsn: 1, n: 0 });
  });

  it('a process that cannot be suspended in time refuses the upgrade; once free it runs on, not suspended', async () => {
    const { rt } = newRuntime();
    let release!: () => void;
    const busy = new Promise<void>((r) => (release = r));
    const Busy: GenServerBehaviour<V1, void, 'get' | 'block', 'hit'> = {
      ...TallyV1,
      handleCall: async (req, _from, s) => {
        if (req === 'block') await busy;
        return reply({ vsn: 1, n: s.n }, s);
      },
    } as GenServerBehaviour<V1, void, 'get' | 'block', 'hit'>;
    await boot(rt, appDef('1.0.0', Busy, PlainV1));
    const blocked = GenServer.call(rt, 'tally', 'block', 'infinity');
    const r = await AppsController.upgradeApp(rt, 'tallies', appDef('2.0.0', tallyV2(carry), PlainV1));
    expect(r.type).toBe('error');
    expect(JSON.stringify((r as { reason: unknown }).reason)).toMatch(
      /suspend_failed.*did not suspend within/,
    );
    release();
    await blocked;
    GenServer.cast(rt, 'tally', 'hit');
    expect(await GenServer.call(rt, 'tally', 'get')).toEqual({ vsn: 1, n: 1 });
  });

  it('a new tree that is not valid is refused before anything changes', async () => {
    const { rt } = newRuntime();
    await boot(rt, appDef('1.0.0', TallyV1, PlainV1));
    const pids = [rt.whereis('tally'), rt.whereis('plain')];
    const dup: AppDefinition = {
      name: 'tallies',
      version: '2.0.0',
      tree: () => ({
        children: [
          GenServer.childSpec('tally', tallyV2(carry), undefined),
          GenServer.childSpec('tally', PlainV2, undefined),
        ],
      }),
    };
    const r = await AppsController.upgradeApp(rt, 'tallies', dup);
    expect(r.type).toBe('error');
    expect(JSON.stringify((r as { reason: unknown }).reason)).toMatch(/tally/);
    const throwing: AppDefinition = {
      name: 'tallies',
      version: '2.0.0',
      tree: () => {
        throw new Error('no settings for tallies');
      },
    };
    const r2 = await AppsController.upgradeApp(rt, 'tallies', throwing);
    expect(JSON.stringify((r2 as { reason: unknown }).reason)).toContain('no settings for tallies');
    expect([rt.whereis('tally'), rt.whereis('plain')]).toEqual(pids);
    expect(await GenServer.call(rt, 'tally', 'get')).toEqual({ vsn: 1, n: 0 });
    expect(await versionOf(rt, 'tallies')).toBe('1.0.0');
  });

  it('an upgrade under another name, or of an unknown app, is refused', async () => {
    const { rt } = newRuntime();
    await boot(rt, appDef('1.0.0', TallyV1, PlainV1));
    expect(await AppsController.upgradeApp(rt, 'nope', appDef('2', TallyV1, PlainV1))).toMatchObject({
      type: 'error',
    });
    expect(
      await AppsController.upgradeApp(rt, 'tallies', { ...appDef('2', TallyV1, PlainV1), name: 'other' }),
    ).toMatchObject({ type: 'error' });
  });

  it('children added to the new tree are started, removed ones stopped; nested supervisors are walked', async () => {
    const { rt } = newRuntime();
    const nested = (
      vsn: string,
      tally: GenServerBehaviour<any, void, any, any>,
      extra: boolean,
    ): AppDefinition => ({
      name: 'nest',
      version: vsn,
      tree: () => ({
        children: [
          Supervisor.childSpec('inner', {
            children: [
              GenServer.childSpec('tally', tally, undefined, { name: 'nest_tally' }),
              ...(extra ? [GenServer.childSpec('extra', PlainV2, undefined, { name: 'nest_extra' })] : []),
            ],
          }),
          ...(extra ? [] : [GenServer.childSpec('old', PlainV1, undefined, { name: 'nest_old' })]),
        ],
      }),
    });
    await boot(rt, nested('1', TallyV1, false));
    GenServer.cast(rt, 'nest_tally', 'hit');
    const r = await AppsController.upgradeApp(rt, 'nest', nested('2', tallyV2(carry), true));
    expect(r).toMatchObject({
      type: 'ok',
      changed: ['inner/tally'],
      added: ['inner/extra'],
      removed: ['old'],
    });
    expect(await GenServer.call(rt, 'nest_tally', 'get')).toEqual({ vsn: 2, total: 1, sinceUpgrade: 0 });
    expect(await GenServer.call(rt, 'nest_extra', 'vsn')).toBe(2);
    expect(rt.whereis('nest_old')).toBeUndefined();
  });
});
