/**
 * ACDC rings agents by originate: the callflow harness (switch simulator, ecallmgr,
 * registrar; registered phones), a caller parked on the simulator, the acdc tree with
 * agents a and b whose endpoints are phones agent-a (never answers) and agent-b (answers).
 * Run on the embedded bus (originate.test.ts) and RabbitMQ (originate.rabbitmq.test.ts).
 */
import { afterEach, expect, it } from 'vitest';
import { acdcSharedQueue, memberCallResultKey } from '../../../src/api/index.ts';
import { acdcTree } from '../../../supervisors/acdc.sup.ts';
import { acdcSend, type AcdcEnv } from '../../../apps/acdc/send.ts';
import { managerName } from '../../../apps/acdc/manager.ts';
import { agentName } from '../../../apps/acdc/agent.ts';
import { callerStatus } from '../../../apps/acdc/caller-status.ts';
import { GenServer, Supervisor } from '../../../src/kernel/index.ts';
import { REALM, type CfHarness } from '../callflow/harness.ts';
import { randomBytes } from 'node:crypto';

export function originateSuite(start: () => Promise<CfHarness>): void {
  let h: CfHarness | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    await h?.close();
    h = undefined;
    cleanup = undefined;
  });

  it('the picked agent is rung by originate and bridged to the caller; an agent who does not answer is skipped', async () => {
    h = await start();
    const hh = h;
    hh.app.route = 'park';
    await hh.phone('agent-a', { mode: 'noanswer' });
    await hh.phone('agent-b', { mode: 'auto' });
    const accountId = randomBytes(16).toString('hex');
    const env: AcdcEnv = {
      bus: hh.bus,
      ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: hh.rt.node },
      accountId,
    };
    const successes: Record<string, unknown>[] = [];
    const q = await hh.bus.assertQueue('', { exclusive: true, autoDelete: true });
    await hh.bus.bindQueue(q, 'callmgr', memberCallResultKey(accountId, 'support', '*'));
    await hh.bus.consume(
      q,
      (d) => void successes.push(JSON.parse(d.body.toString()) as Record<string, unknown>),
    );
    const endpoint = (user: string) => ({
      'Invite-Format': 'username',
      'To-Username': user,
      'To-Realm': REALM,
    });
    const r = await Supervisor.start(
      hh.rt,
      acdcTree({
        bus: hh.bus,
        node: hh.rt.node,
        settings: {
          account_id: accountId,
          // most_idle: a logs in first, so a is rung first.
          queues: [{ id: 'support', strategy: 'most_idle', agent_ring_timeout: 1, collect_timeout: 0.5 }],
          agents: [
            { id: 'a', queues: ['support'], endpoints: [endpoint('agent-a')] },
            { id: 'b', queues: ['support'], endpoints: [endpoint('agent-b')] },
          ],
        },
      }),
      { name: 'acdc_sup' },
    );
    if (r.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(r)}`);
    cleanup = async () => {
      const exited = hh.rt.awaitExit(r.pid);
      hh.rt.exit(r.pid, 'shutdown');
      await exited;
      await hh.bus.deleteQueue(acdcSharedQueue(accountId, 'support')).catch(() => undefined);
    };
    for (const agent of ['a', 'b']) {
      await acdcSend(env, 'agent_login', { 'Account-ID': accountId, 'Agent-ID': agent });
      for (let i = 0; ; i++) {
        const v = (await GenServer.call(hh.rt, managerName('support'), { op: 'view' })) as {
          agents: Record<string, string>;
        };
        if (v.agents[agent] === 'available') break;
        if (i > 500) throw new Error(`${agent} never available`);
        await new Promise((res) => setTimeout(res, 10));
      }
    }
    const { callId: caller } = await hh.placeRoutedCall('1001', '5000');
    await acdcSend(env, 'member_call', {
      'Account-ID': accountId,
      'Queue-ID': 'support',
      Call: { 'Call-ID': caller },
    });
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
      'the caller bridged to an agent leg',
    );
    expect(String(bridge['Call-ID'])).toMatch(/^acdc-b-/);
    for (let i = 0; successes.length === 0; i++) {
      if (i > 500) throw new Error('no member_call_success');
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(successes).toEqual([
      expect.objectContaining({ 'Event-Name': 'call_success', 'Call-ID': caller, 'Agent-ID': 'b' }),
    ]);
    expect(await GenServer.call(hh.rt, agentName('a'), { op: 'status' })).toMatchObject({
      status: 'ready',
      misses: 1,
    });
    expect(await GenServer.call(hh.rt, agentName('b'), { op: 'status' })).toMatchObject({
      status: 'answered',
      calls: 1,
    });
    hh.sw.hangup(caller);
    await hh.app.waitEvent(String(bridge['Call-ID']), 'CHANNEL_DESTROY');
    for (let i = 0; ; i++) {
      const b = (await GenServer.call(hh.rt, agentName('b'), { op: 'status' })) as { status: string };
      if (b.status === 'ready') break;
      if (i > 500) throw new Error(`b still ${b.status} after the call ended`);
      await new Promise((res) => setTimeout(res, 10));
    }
  });

  it('pausing an agent whose phone rings hangs up its leg, and the caller goes to the next agent', async () => {
    h = await start();
    const hh = h;
    hh.app.route = 'park';
    await hh.phone('agent-a', { mode: 'noanswer' });
    await hh.phone('agent-b', { mode: 'auto' });
    const accountId = randomBytes(16).toString('hex');
    const env: AcdcEnv = {
      bus: hh.bus,
      ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: hh.rt.node },
      accountId,
    };
    const endpoint = (user: string) => ({
      'Invite-Format': 'username',
      'To-Username': user,
      'To-Realm': REALM,
    });
    const r = await Supervisor.start(
      hh.rt,
      acdcTree({
        bus: hh.bus,
        node: hh.rt.node,
        settings: {
          account_id: accountId,
          // A ring timeout far beyond the test's waits: only the hangup can end a's leg.
          queues: [{ id: 'support', agent_ring_timeout: 60, collect_timeout: 0.5, retry_interval: 0.5 }],
          agents: [
            { id: 'a', queues: ['support'], endpoints: [endpoint('agent-a')] },
            { id: 'b', queues: ['support'], endpoints: [endpoint('agent-b')] },
          ],
        },
      }),
      { name: 'acdc_sup' },
    );
    if (r.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(r)}`);
    cleanup = async () => {
      const exited = hh.rt.awaitExit(r.pid);
      hh.rt.exit(r.pid, 'shutdown');
      await exited;
      await hh.bus.deleteQueue(acdcSharedQueue(accountId, 'support')).catch(() => undefined);
    };
    await acdcSend(env, 'agent_login', { 'Account-ID': accountId, 'Agent-ID': 'a' });
    const { callId: caller } = await hh.placeRoutedCall('1001', '5000');
    await acdcSend(env, 'member_call', {
      'Account-ID': accountId,
      'Queue-ID': 'support',
      Call: { 'Call-ID': caller },
    });
    const ringing = await hh.app.waitFor(
      (m) => m['Event-Category'] === 'call_event' && String(m['Call-ID']).startsWith('acdc-a-'),
      "a's leg",
    );
    const leg = String(ringing['Call-ID']);
    await acdcSend(env, 'agent_pause', { 'Account-ID': accountId, 'Agent-ID': 'a' });
    await hh.app.waitEvent(leg, 'CHANNEL_DESTROY');
    await acdcSend(env, 'agent_login', { 'Account-ID': accountId, 'Agent-ID': 'b' });
    const bridge = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
      'the caller bridged to an agent leg',
    );
    expect(String(bridge['Call-ID'])).toMatch(/^acdc-b-/);
    expect(await GenServer.call(hh.rt, agentName('a'), { op: 'status' })).toMatchObject({
      status: 'paused',
      calls: 0,
    });
    hh.sw.hangup(caller);
  });

  it("a redelivered caller's status (callerStatus): waiting while parked, bridged to the agent leg, gone once hung up", async () => {
    h = await start();
    const hh = h;
    hh.app.route = 'park';
    await hh.phone('agent-b', { mode: 'auto' });
    const env: AcdcEnv = {
      bus: hh.bus,
      ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: hh.rt.node },
      accountId: randomBytes(16).toString('hex'),
    };
    const { callId: caller } = await hh.placeRoutedCall('1001', '5000');
    expect(await callerStatus(env, caller, hh.rt.log)).toEqual({ state: 'waiting' });
    await acdcSend(env, 'originate_req', {
      'Application-Name': 'bridge',
      'Existing-Call-ID': caller,
      'Outbound-Call-ID': 'acdc-b-leg',
      'Originate-Immediate': true,
      Endpoints: [{ 'Invite-Format': 'username', 'To-Username': 'agent-b', 'To-Realm': REALM }],
    });
    await hh.app.waitFor(
      (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === caller,
      'the caller bridged to the agent leg',
    );
    expect(await callerStatus(env, caller, hh.rt.log)).toEqual({ state: 'bridged', otherLeg: 'acdc-b-leg' });
    hh.sw.hangup(caller);
    await hh.app.waitEvent(caller, 'CHANNEL_DESTROY');
    // Hung up while no callflow followed it (its node dead): the queue learns it here.
    expect(await callerStatus(env, caller, hh.rt.log)).toEqual({ state: 'gone' });
  });
}
