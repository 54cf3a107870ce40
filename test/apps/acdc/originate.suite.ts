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
import { GenServer, Runtime, Supervisor, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import type { AgentView } from '../../../apps/acdc/agent.ts';
import type { Envelope } from '../../../src/bus/index.ts';
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

  /**
   * Issue 13: the agent's process on one node rings the agent (a real leg on the switch),
   * and that node's acdc tree is killed, the ring answered (`ringing`: after the kill,
   * so the dead process never said so; `answered`: before). The other node's process of
   * the agent follows the agent's call on the switch: busy while the caller talks, past
   * ring timeout + 1 s (a second caller waits meanwhile), then wrapup and ready at the
   * call's end, when it rings the agent for the second caller.
   */
  for (const killed of ['ringing', 'answered'] as const)
    it(`a node dies after its copy of the agent rang it (${killed}): the survivor keeps the agent busy while it talks, then ready`, async () => {
      h = await start();
      const hh = h;
      hh.app.route = 'park';
      // Answered 1 s after the ring (the kill comes first), or at once.
      await hh.phone('agent-a', { mode: 'auto', answerAfterMs: killed === 'ringing' ? 1000 : 0 });
      const accountId = randomBytes(16).toString('hex');
      const env: AcdcEnv = {
        bus: hh.bus,
        ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: hh.rt.node },
        accountId,
      };
      const settings = {
        account_id: accountId,
        queues: [
          {
            id: 'support',
            agent_ring_timeout: 2,
            agent_wrapup_time: 0.5,
            collect_timeout: 0.5,
            retry_interval: 0.5,
          },
        ],
        agents: [
          {
            id: 'a',
            queues: ['support'],
            endpoints: [{ 'Invite-Format': 'username', 'To-Username': 'agent-a', 'To-Realm': REALM }],
          },
        ],
      };
      const { logger, lines } = memoryLogger('acdc-peer@localhost', 'info');
      const peerRt = new Runtime({ node: 'acdc-peer@localhost', logger });
      const peerBus = await hh.connect('acdc-peer');
      const nodes: { rt: Runtime; sup: Pid }[] = [];
      for (const [rt, bus] of [
        [hh.rt, hh.bus],
        [peerRt, peerBus],
      ] as const) {
        const r = await Supervisor.start(rt, acdcTree({ bus, node: rt.node, settings }), {
          name: 'acdc_sup',
        });
        if (r.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(r)}`);
        nodes.push({ rt, sup: r.pid });
      }
      cleanup = async () => {
        for (const n of nodes) {
          if (!n.rt.isAlive(n.sup)) continue;
          const exited = n.rt.awaitExit(n.sup);
          n.rt.exit(n.sup, 'shutdown');
          await exited;
        }
        await peerRt.shutdown();
        await peerBus.close();
        await hh.bus.deleteQueue(acdcSharedQueue(accountId, 'support')).catch(() => undefined);
      };
      const status = (rt: Runtime) =>
        GenServer.call(rt, agentName('a'), { op: 'status' }) as Promise<AgentView>;
      const until = async (what: string, fn: () => Promise<boolean>) => {
        for (let i = 0; !(await fn()); i++) {
          if (i > 1500) throw new Error(`timed out waiting for: ${what}`);
          await new Promise((res) => setTimeout(res, 10));
        }
      };
      const isLeg = (m: Envelope) =>
        m['Event-Name'] === 'CHANNEL_CREATE' && String(m['Call-ID']).startsWith('acdc-a-');
      await acdcSend(env, 'agent_login', { 'Account-ID': accountId, 'Agent-ID': 'a' });
      for (const n of nodes)
        await until('a ready on both nodes', async () => (await status(n.rt)).status === 'ready');
      const { callId: first } = await hh.placeRoutedCall('1001', '5000');
      await acdcSend(env, 'member_call', {
        'Account-ID': accountId,
        'Queue-ID': 'support',
        Call: { 'Call-ID': first },
      });
      const leg = String((await hh.app.waitFor(isLeg, "a's leg"))['Call-ID']);
      // The node whose process rings a (its own call) dies; the other one survives.
      const own = await status(hh.rt);
      const [dying, survivor] = own.callId === first ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
      if (killed === 'answered')
        await until(
          'a answered on both nodes',
          async () =>
            (await status(dying.rt)).status === 'answered' &&
            (await status(survivor.rt)).status === 'answered',
        );
      else
        await until(
          'the survivor follows the ring',
          async () => (await status(survivor.rt)).status === 'ringing',
        );
      dying.rt.exit(dying.sup, 'kill');
      await hh.app.waitFor(
        (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === first,
        'the first caller bridged to a',
      );
      const { callId: second } = await hh.placeRoutedCall('1001', '5000');
      await acdcSend(env, 'member_call', {
        'Account-ID': accountId,
        'Queue-ID': 'support',
        Call: { 'Call-ID': second },
      });
      if (killed === 'ringing') {
        // Past the dead peer's ring timeout + 1 s, the survivor looks at the agent's call.
        await until(
          "the survivor done with the peer's ringing",
          async () => (await status(survivor.rt)).status !== 'ringing',
        );
      }
      expect(await status(survivor.rt)).toMatchObject({ status: 'answered' });
      expect(hh.app.seen.filter(isLeg)).toHaveLength(1);
      hh.sw.hangup(first);
      await hh.app.waitEvent(leg, 'CHANNEL_DESTROY');
      // The call is over: wrapup, then ready, and a takes the second caller.
      const next = await hh.app.waitFor(
        (m) => m['Event-Name'] === 'CHANNEL_BRIDGE' && m['Other-Leg-Call-ID'] === second,
        'the second caller bridged to a',
      );
      expect(String(next['Call-ID'])).toMatch(/^acdc-a-/);
      expect(hh.app.seen.filter(isLeg)).toHaveLength(2);
      const taken =
        killed === 'ringing'
          ? "acdc agent: a peer's ring was answered and the peer never said so; its call is followed here"
          : "acdc agent: a peer's call ended and the peer never said so; the peer is taken as gone";
      expect([...hh.lines, ...lines].some((l) => l.msg === taken && l.agent_id === 'a')).toBe(true);
      hh.sw.hangup(second);
    });
}
