/**
 * The acdc_member callflow module end to end: the callflow harness (switch simulator,
 * ecallmgr, registrar, callflow) plus the acdc tree, agent a's endpoint the phone agent-a
 * (answers at once). A call to 6000, whose callflow is acdc_member on queue `support`
 * (a queue document in the account), waits in the queue and is bridged to a's leg; a
 * caller who hangs up while waiting is cancelled, so a is never rung for them; a full queue
 * and a wait that times out take the `_` child (a hangup with USER_BUSY).
 * Run on the embedded bus (member.test.ts) and RabbitMQ (member.rabbitmq.test.ts).
 */
import { afterEach, expect, it } from 'vitest';
import { acdcSharedQueue } from '../../../src/api/index.ts';
import { acdcTree } from '../../../supervisors/acdc.sup.ts';
import { acdcSend, type AcdcEnv } from '../../../apps/acdc/send.ts';
import { managerName } from '../../../apps/acdc/manager.ts';
import { GenServer, Supervisor } from '../../../src/kernel/index.ts';
import { REALM, waitLine, type CfHarness } from '../callflow/harness.ts';
import { addDevice } from '../../../apps/registrar/provisioning.ts';
import { agentName, type AgentView } from '../../../apps/acdc/agent.ts';
import { ORIGINATE_REQ_KEY } from '../../../src/api/originate.ts';
import type { PhoneScript } from '../../../src/switch/endpoints.ts';
import { CallHandle } from '../../../apps/callflow/call.ts';
import { acdcMember } from '../../../apps/callflow/modules/acdc_member.ts';

const QUEUE = 'support';

export function memberSuite(start: () => Promise<CfHarness>): void {
  let h: CfHarness | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    await h?.close();
    h = undefined;
    cleanup = undefined;
  });

  /**
   * The harness with the queue document, the 6000 callflow and the acdc tree (a logged out).
   * `fromStore`: agent a is user `a` (queues: [support]) owning a device agent-a, and acdc
   * reads queues and agents from the account database instead of its settings.
   */
  async function setup(
    fromStore = false,
    queueDoc: Record<string, unknown> = {},
    agentPhone: PhoneScript = { mode: 'auto' },
  ): Promise<{ hh: CfHarness; login: (wait?: boolean) => Promise<void>; env: AcdcEnv }> {
    h = await start();
    const hh = h;
    await hh.phone('agent-a', agentPhone);
    await hh.store.save(hh.accountDb, {
      _id: QUEUE,
      pvt_type: 'queue',
      name: 'Support',
      connection_timeout: 60,
      moh: 'silence_stream://60000',
      ...queueDoc,
    });
    await hh.putCallflow('cf-queue', ['6000'], {
      module: 'acdc_member',
      data: { id: QUEUE },
      children: { _: { module: 'hangup', data: { hangup_cause: 'USER_BUSY' }, children: {} } },
    });
    const env: AcdcEnv = {
      bus: hh.bus,
      ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: hh.rt.node },
      accountId: hh.accountId,
    };
    if (fromStore) {
      await hh.store.save(hh.accountDb, { _id: 'a', pvt_type: 'user', first_name: 'A', queues: [QUEUE] });
      await addDevice(hh.store, { realm: REALM, username: 'agent-a', password: 'pw-agent-a', ownerId: 'a' });
    }
    const inSettings = {
      queues: [
        {
          id: QUEUE,
          agent_ring_timeout: Number(queueDoc.agent_ring_timeout ?? 5),
          collect_timeout: 0.3,
          retry_interval: 0.3,
        },
      ],
      agents: [
        {
          id: 'a',
          queues: [QUEUE],
          endpoints: [{ 'Invite-Format': 'username', 'To-Username': 'agent-a', 'To-Realm': REALM }],
        },
      ],
    };
    const r = await Supervisor.start(
      hh.rt,
      acdcTree({
        bus: hh.bus,
        node: hh.rt.node,
        store: hh.store,
        settings: { account_id: hh.accountId, ...(fromStore ? {} : inSettings) },
      }),
      { name: 'acdc_sup' },
    );
    if (r.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(r)}`);
    cleanup = async () => {
      const exited = hh.rt.awaitExit(r.pid);
      hh.rt.exit(r.pid, 'shutdown');
      await exited;
      await hh.bus.deleteQueue(acdcSharedQueue(hh.accountId, QUEUE)).catch(() => undefined);
    };
    const login = async (wait = true) => {
      await acdcSend(env, 'agent_login', { 'Account-ID': hh.accountId, 'Agent-ID': 'a' });
      if (!wait) return;
      for (let i = 0; ; i++) {
        const v = (await GenServer.call(hh.rt, managerName(QUEUE), { op: 'view' })) as {
          agents: Record<string, string>;
        };
        if (v.agents.a === 'available') return;
        if (i > 500) throw new Error('a never available');
        await new Promise((res) => setTimeout(res, 10));
      }
    };
    return { hh, login, env };
  }

  const agentLegs = (hh: CfHarness): Set<string> =>
    new Set(hh.app.seen.map((m) => String(m['Call-ID'])).filter((id) => id.startsWith('acdc-a-')));

  it.each([
    ['settings', false],
    ['the account database', true],
  ])(
    'queue and agent from %s: a call to an acdc_member callflow waits in the queue, then is bridged to the agent who logs in',
    async (_from, fromStore) => {
      const { hh, login } = await setup(fromStore);
      const caller = hh.call('6000');
      await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === caller);
      await login(false); // a is offered the waiting caller at once
      const bridge = await hh.app.waitFor(
        (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
        'the caller bridged to the agent leg',
      );
      expect(String(bridge['Call-ID'])).toMatch(/^acdc-a-/);
      await waitLine(hh, 0, (l) => l.msg === 'acdc_member: an agent took the call' && l.call_id === caller);
      hh.sw.hangup(caller);
      await hh.app.waitEvent(String(bridge['Call-ID']), 'CHANNEL_DESTROY');
    },
  );

  it('a caller who hangs up while waiting is cancelled: the agent is rung only for the next caller', async () => {
    const { hh, login } = await setup();
    const first = hh.call('6000');
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === first);
    hh.sw.hangup(first);
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc queue: caller done' && l.call_id === first && l.outcome === 'cancelled',
    );
    await login();
    const second = hh.call('6000');
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === second,
      'the second caller bridged to the agent leg',
    );
    expect(String(bridge['Call-ID'])).toMatch(/^acdc-a-/);
    // FIFO: had the first caller stayed, a would have been rung for them first.
    expect([...agentLegs(hh)]).toEqual([String(bridge['Call-ID'])]);
    hh.sw.hangup(second);
    await hh.app.waitEvent(String(bridge['Call-ID']), 'CHANNEL_DESTROY');
  });

  it('queues start and stop as their documents are created and deleted', async () => {
    const { hh } = await setup(true);
    const running = (id: string) => hh.rt.whereis(managerName(id)) !== undefined;
    expect(running(QUEUE)).toBe(true);
    await hh.store.save(hh.accountDb, { _id: 'billing', pvt_type: 'queue', name: 'Billing' });
    await waitLine(hh, 0, (l) => l.msg === 'acdc directory: queue started' && l.queue_id === 'billing');
    expect(running('billing')).toBe(true);
    const doc = await hh.store.get(hh.accountDb, QUEUE);
    await hh.store.remove(hh.accountDb, QUEUE, doc._rev);
    await waitLine(hh, 0, (l) => l.msg === 'acdc directory: queue stopped' && l.queue_id === QUEUE);
    expect(running(QUEUE)).toBe(false);
    expect(running('billing')).toBe(true);
  });

  it('a full queue (max_queue_size) and a failed wait (connection_timeout) take the child', async () => {
    const { hh } = await setup(true, { max_queue_size: 1, connection_timeout: 1 });
    const shared = acdcSharedQueue(hh.accountId, QUEUE);
    const first = hh.call('6000'); // taken by the one worker: no longer counted as waiting
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === first);
    const second = hh.call('6000'); // waits in the shared queue
    for (let i = 0; (await hh.bus.checkQueue(shared)).messageCount < 1; i++) {
      if (i > 500) throw new Error('the second caller never waited in the shared queue');
      await new Promise((res) => setTimeout(res, 10));
    }
    const third = hh.call('6000');
    await waitLine(hh, 0, (l) => l.msg === 'acdc_member: queue full; next node' && l.call_id === third);
    await hh.app.waitEvent(third, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    // No agent: the first caller's wait ends at connection_timeout (1 s); `_` hangs up.
    const failed = await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc_member: not answered by the queue; next node' && l.call_id === first,
    );
    expect(failed.reason).toBe('member_timeout');
    await hh.app.waitEvent(first, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    hh.sw.hangup(second);
  });

  const status = (hh: CfHarness) =>
    GenServer.call(hh.rt, agentName('a'), { op: 'status' }) as Promise<AgentView>;
  async function until(what: string, fn: () => boolean | Promise<boolean>): Promise<void> {
    for (const end = Date.now() + 10_000; !(await fn());) {
      if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }
  const action = (hh: CfHarness, env: AcdcEnv, name: string) =>
    acdcSend(env, `agent_${name}`, { 'Account-ID': hh.accountId, 'Agent-ID': 'a' });

  it('when the last agent logs out, every waiting caller goes to the next child at once (kazoo #1334)', async () => {
    const { hh, login, env } = await setup();
    await login();
    await action(hh, env, 'pause'); // logged in, not taking calls: callers wait
    await until('a paused', async () => (await status(hh)).status === 'paused');
    const held = hh.call('6000'); // taken by the one worker
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === held);
    const queued = hh.call('6000'); // still in the shared queue
    const shared = acdcSharedQueue(hh.accountId, QUEUE);
    await until(
      'the second caller in the shared queue',
      async () => (await hh.bus.checkQueue(shared)).messageCount === 1,
    );
    await action(hh, env, 'logout');
    // connection_timeout is 60 s: only the queue emptying can end these waits in time.
    for (const caller of [held, queued]) {
      const line = await waitLine(
        hh,
        0,
        (l) => l.msg === 'acdc_member: not answered by the queue; next node' && l.call_id === caller,
      );
      expect(line.reason).toBe('no_agents');
      await hh.app.waitEvent(caller, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    }
    expect(agentLegs(hh).size).toBe(0);
  });

  it("the caller's exit key ends the wait and the callflow goes on (kazoo #6745)", async () => {
    const { hh, login } = await setup(false, { caller_exit_key: '*' });
    const caller = hh.call('6000');
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === caller);
    hh.sw.pressDigits(caller, '1'); // not the exit key: still waiting
    hh.sw.pressDigits(caller, '*');
    const line = await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc_member: not answered by the queue; next node' && l.call_id === caller,
    );
    expect(line.reason).toBe('member_exit');
    expect(
      hh.lines.filter((l) => l.call_id === caller && String(l.msg).startsWith('acdc_member: caller pressed')),
    ).toHaveLength(1);
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc queue: caller done' && l.call_id === caller && l.outcome === 'cancelled',
    );
    await hh.app.waitEvent(caller, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    await login(); // the caller who left is never offered
    const next = hh.call('6000');
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === next,
      'the next caller bridged to the agent leg',
    );
    expect([...agentLegs(hh)]).toEqual([String(bridge['Call-ID'])]);
    hh.sw.hangup(next);
  });

  it('the exit key ends the wait before the hold music has started: the music never holds the call', async () => {
    const { hh } = await setup(false, { caller_exit_key: '*' });
    // The switch is slow to run the module's `set`: ecallmgr holds the hold music queued
    // behind it while the caller presses the exit key.
    hh.sw.faults.appDelayMs.set('multiset', 1500);
    const caller = hh.call('6000');
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === caller);
    hh.sw.pressDigits(caller, '*');
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc_member: not answered by the queue; next node' && l.call_id === caller,
    );
    await hh.app.waitEvent(caller, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    // The music was dropped before it reached the switch.
    expect(hh.app.events(caller).filter((m) => m['Application-Name'] === 'play')).toEqual([]);
  });

  it("the module's waits end with it: a menu after a failed wait gets the caller's digit, even the queue's exit key", async () => {
    const { hh, login, env } = await setup(false, { caller_exit_key: '1' });
    await hh.putCallflow('cf-queue-menu', ['6001'], {
      module: 'acdc_member',
      data: { id: QUEUE },
      children: {
        _: {
          module: 'menu',
          data: { max_extension_length: 1, retries: 1, timeout: 3000 },
          children: { '1': { module: 'hangup', data: { hangup_cause: 'CALL_REJECTED' }, children: {} } },
        },
      },
    });
    await login();
    await action(hh, env, 'pause');
    await until('a paused', async () => (await status(hh)).status === 'paused');
    const caller = hh.call('6001');
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === caller);
    await action(hh, env, 'logout'); // the wait fails (no_agents): the flow goes to the menu
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'callflow: running module' && l.module === 'menu' && l.call_id === caller,
    );
    hh.sw.pressDigits(caller, '1');
    const collected = await waitLine(hh, 0, (l) => l.msg === 'menu: collected' && l.call_id === caller);
    expect(collected.digits).toBe('1');
    await hh.app.waitEvent(caller, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'CALL_REJECTED');
  });

  it('acdc_member leaves no wait on the call pending when it returns (the queue failed the caller)', async () => {
    const { hh, env } = await setup();
    const callId = `direct-${hh.accountId.slice(0, 6)}`;
    const handle = new CallHandle(
      {
        callId,
        controlQueue: `${callId}-ctl`,
        accountId: hh.accountId,
        accountDb: hh.accountDb,
        number: '6000',
      },
      `${callId}-events`,
      {
        bus: hh.bus,
        ctx: { appName: 'callflow', appVersion: '1.0.0', node: hh.rt.node },
        doc: (db, id) => hh.store.get(db, id) as Promise<Record<string, unknown>>,
        owned: () => Promise.resolve([]),
      },
      hh.rt.log.child({ call_id: callId }),
    );
    // The switch's side, played by the test: the answer completes.
    handle.deliver({
      'Event-Name': 'CHANNEL_EXECUTE_COMPLETE',
      'Application-Name': 'answer',
      'Call-ID': callId,
    });
    const ran = acdcMember.run({ id: QUEUE }, handle, {});
    await waitLine(hh, 0, (l) => l.msg === 'acdc_member: waiting for an agent' && l.call_id === callId);
    await acdcSend(env, 'member_call_fail', {
      'Account-ID': hh.accountId,
      'Queue-ID': QUEUE,
      'Call-ID': callId,
      'Failure-Reason': 'no_agents',
    });
    expect(await ran).toEqual({ kind: 'continue', branch: '_' });
    expect(handle.pendingWaits).toBe(0);
  });

  it('position announcements: a caller behind two others hears position 3, and 2 once one ahead left', async () => {
    const { hh } = await setup(false, {
      announcements: { position_announcements_enabled: true, interval: 0.5 },
    });
    const enter = async () => {
      const c = hh.call('6000');
      await waitLine(hh, 0, (l) => l.msg === 'acdc_member: waiting for an agent' && l.call_id === c);
      return c;
    };
    const first = await enter();
    await enter();
    const third = await enter(); // nobody logged in: all three wait
    const said = () => hh.executed(third).filter((x) => x.startsWith('say '));
    const IN_THE_QUEUE = 'playback prompt://system_media/queue-in_the_queue/en-us';
    await until('the third caller told its position', () => hh.executed(third).includes(IN_THE_QUEUE));
    expect(said()[0]).toBe('say en number pronounced 3');
    const ran = hh.executed(third);
    const at = ran.indexOf('say en number pronounced 3');
    expect(ran.slice(at - 1, at + 2)).toEqual([
      'playback prompt://system_media/queue-you_are_at_position/en-us',
      'say en number pronounced 3',
      IN_THE_QUEUE,
    ]);
    hh.sw.hangup(first);
    await until('the third caller told a lower position', () =>
      said().includes('say en number pronounced 2'),
    );
    expect(
      said().filter((x) => x !== 'say en number pronounced 3' && x !== 'say en number pronounced 2'),
    ).toEqual([]);
    // Between rounds the caller hears the queue's hold media.
    expect(hh.executed(third).slice(at + 2)).toContain('playback silence_stream://60000');
  });

  it('wait-time announcements: the caller hears the estimated wait (no answered caller yet: less than a minute)', async () => {
    const { hh } = await setup(false, {
      announcements: {
        wait_time_announcements_enabled: true,
        interval: 0.5,
        media: { in_the_queue: 'unused' },
      },
    });
    const caller = hh.call('6000');
    const ESTIMATE = 'playback prompt://system_media/queue-the_estimated_wait_time_is/en-us';
    const LESS = 'playback prompt://system_media/queue-less_than_1_minute/en-us';
    await until('two rounds announced', () => hh.executed(caller).filter((x) => x === LESS).length >= 2);
    const ran = hh.executed(caller);
    const at = ran.indexOf(ESTIMATE);
    expect(ran.slice(at, at + 2)).toEqual([ESTIMATE, LESS]);
    expect(ran.filter((x) => x.startsWith('say '))).toEqual([]); // position announcements are off
    expect(ran.some((x) => x.includes('increase_in_call_volume'))).toBe(false); // the average did not grow
  });

  it("caller priority from the call's custom channel variable Call-Priority: a later, higher caller is offered first", async () => {
    const { hh, login } = await setup();
    const shared = acdcSharedQueue(hh.accountId, QUEUE);
    const first = hh.call('6000'); // taken by the one worker at once
    await waitLine(hh, 0, (l) => l.msg === 'acdc queue: caller taken' && l.call_id === first);
    const low = hh.call('6000');
    await waitLine(hh, 0, (l) => l.msg === 'acdc_member: waiting for an agent' && l.call_id === low);
    const high = hh.sw.placeCall({
      from: '1001',
      to: '6000',
      variables: { sip_from_host: REALM, 'ecallmgr_Call-Priority': '5' },
    });
    await waitLine(hh, 0, (l) => l.msg === 'acdc_member: waiting for an agent' && l.call_id === high);
    await until(
      'two callers in the shared queue',
      async () => (await hh.bus.checkQueue(shared)).messageCount === 2,
    );
    await login(false);
    const bridgedTo = async (callers: string[]) =>
      String(
        (
          await hh.app.waitFor(
            (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && callers.includes(String(m['Other-Leg-Call-ID'])),
            'a caller bridged to the agent',
          )
        )['Other-Leg-Call-ID'],
      );
    expect(await bridgedTo([first, low, high])).toBe(first);
    hh.sw.hangup(first);
    expect(await bridgedTo([low, high])).toBe(high);
    hh.sw.hangup(high);
    expect(await bridgedTo([low])).toBe(low);
    hh.sw.hangup(low);
  });

  /** The agent's leg for `caller`, from the originate_req acdc sends (seen on the bus). */
  async function watchOriginate(hh: CfHarness, onReq: (leg: string) => void): Promise<void> {
    const q = await hh.bus.assertQueue('', { exclusive: true, autoDelete: true });
    await hh.bus.bindQueue(q, 'callmgr', ORIGINATE_REQ_KEY);
    await hh.bus.consume(q, (d) => {
      const m = JSON.parse(d.body.toString()) as Record<string, unknown>;
      if (String(m['Outbound-Call-ID']).startsWith('acdc-a-')) onReq(String(m['Outbound-Call-ID']));
    });
  }

  async function agentFreeAgain(hh: CfHarness, leg: string, calls: number): Promise<void> {
    await until('a ready again', async () => (await status(hh)).status === 'ready');
    expect(await status(hh)).toMatchObject({ status: 'ready', misses: 0, calls });
    await until("a's leg gone", () => !hh.sw.hasChannel(leg));
    expect((await hh.bus.checkQueue(acdcSharedQueue(hh.accountId, QUEUE))).messageCount).toBe(0);
  }

  it('the caller hangs up the moment the agent is originated to: the agent is ready again, its leg gone (kazoo #6559, originate sent)', async () => {
    const { hh, login } = await setup(false, { agent_ring_timeout: 60 }, { mode: 'manual' });
    await login();
    const caller = hh.call('6000');
    let leg: string | undefined;
    await watchOriginate(hh, (l) => {
      leg ??= l;
      hh.sw.hangup(caller); // before ecallmgr could answer with the leg's uuid
    });
    await until('an originate to a', () => leg !== undefined);
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc queue: caller done' && l.call_id === caller && l.outcome === 'cancelled',
    );
    await agentFreeAgain(hh, leg!, 0);
  });

  it("the caller hangs up while the agent's phone rings: the agent is ready again, its leg hung up (kazoo #6559, ringing)", async () => {
    const { hh, login } = await setup(false, { agent_ring_timeout: 60 }, { mode: 'manual' });
    await login();
    const caller = hh.call('6000');
    const ringing = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_CREATE' && String(m['Call-ID']).startsWith('acdc-a-'),
      "a's leg ringing",
    );
    const leg = String(ringing['Call-ID']);
    expect((await status(hh)).status).toBe('ringing');
    hh.sw.hangup(caller);
    await hh.app.waitEvent(leg, 'CHANNEL_DESTROY');
    await agentFreeAgain(hh, leg, 0);
  });

  it('the caller hangs up after being bridged to the agent: the agent is ready again (kazoo #6559, bridged)', async () => {
    const { hh, login } = await setup();
    await login();
    const caller = hh.call('6000');
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
      'the caller bridged to the agent leg',
    );
    const leg = String(bridge['Call-ID']);
    await until('a answered', async () => (await status(hh)).status === 'answered');
    hh.sw.hangup(caller);
    await hh.app.waitEvent(leg, 'CHANNEL_DESTROY');
    await agentFreeAgain(hh, leg, 1);
  });

  it('enter_when_empty false: with no agent logged in the caller is not queued and takes the child; with one it waits', async () => {
    const { hh, login } = await setup(false, { enter_when_empty: false });
    const refused = hh.call('6000');
    await waitLine(
      hh,
      0,
      (l) => l.msg === 'acdc_member: no agent logged in; next node' && l.call_id === refused,
    );
    await hh.app.waitEvent(refused, 'CHANNEL_DESTROY', (m) => m['Hangup-Cause'] === 'USER_BUSY');
    expect(hh.lines.some((l) => l.msg === 'acdc queue: caller taken' && l.call_id === refused)).toBe(false);
    // The queue's manager answered (0 agents): not a missing answer taken as empty.
    expect(hh.lines.some((l) => String(l.msg).includes('no queue manager answered'))).toBe(false);
    await login();
    const caller = hh.call('6000');
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
      'the caller bridged to the agent leg',
    );
    expect([...agentLegs(hh)]).toEqual([String(bridge['Call-ID'])]);
    hh.sw.hangup(caller);
  });
}
