/**
 * ecallmgr behaviour when the route_resp winner is gone before its route_win (a callflow
 * node killed right after it answered): route_win is published mandatory, comes back
 * unroutable, and the call is routed again, so another responder drives it; after
 * `maxRouteRounds` rounds of gone winners the call is hung up NO_ROUTE_DESTINATION.
 * And when the winner's node dies after its route_win (its heartbeats stop, its app's
 * queue goes): once the cluster view expires the node, a call nobody talks on is routed
 * again and another app drives it; a bridged call is left to its parties. Run on the
 * embedded bus (route-win.test.ts) and on RabbitMQ (route-win.rabbitmq.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { header, type Harness } from './harness.ts';
import { TestApp } from './test-app.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';
import { pollUntil } from '../../support/cluster.ts';
import type { Envelope } from '../../../src/bus/index.ts';
import { Runtime, Supervisor } from '../../../src/kernel/index.ts';
import { nodesChildSpec } from '../../../src/node/nodes.ts';

/** Another node: its cluster view heartbeats every 200 ms, and its app answers route_req. */
interface OtherNode {
  name: string;
  app: TestApp;
  /** The node dies: its heartbeats stop and its app's queue goes; resolves once ecallmgr's
   *  cluster view expired it. */
  die(): Promise<void>;
}

async function otherNode(h: Harness, stops: Array<() => Promise<void>>): Promise<OtherNode> {
  const name = `node-a-${randomBytes(3).toString('hex')}@localhost`;
  const joined = h.rt.events.waitFor('cluster', (e) => e.kind === 'node_joined' && e.node === name, 10_000);
  const bus = await h.connect('node-a');
  const rt = new Runtime({ node: name, logger: h.rt.log });
  const view = await Supervisor.start(rt, {
    flags: { strategy: 'one_for_one', intensity: 1, period: 5 },
    children: [nodesChildSpec({ transport: bus, heartbeatMs: 200, version: 'test', startedAt: Date.now() })],
  });
  if (view.type !== 'ok') throw new Error(`node A's cluster view failed to start: ${JSON.stringify(view)}`);
  const app = new TestApp(bus, h.rt.log, 'node-a-app');
  app.node = name;
  await app.start();
  let alive = true;
  const die = async (): Promise<void> => {
    if (!alive) return;
    alive = false;
    await rt.shutdown();
    await app.stop();
  };
  stops.push(die);
  await joined;
  return {
    name,
    app,
    async die() {
      const expired = h.rt.events.waitFor(
        'cluster',
        (e) => e.kind === 'node_expired' && e.node === name,
        10_000,
      );
      await die();
      await expired;
    },
  };
}

const routeReqsOf = (h: Harness, callId: string): Envelope[] =>
  h.app.seen.filter((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId);

export function routeWinSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let stops: Array<() => Promise<void>>;
  beforeEach(async () => {
    h = await start();
    stops = [];
  });
  afterEach(async () => {
    for (const stop of stops) await stop();
    await h.close();
  });

  const warned = (callId: string, msg: RegExp) => (): boolean =>
    h.lines.some((l) => l.call_id === callId && l.level === 40 && msg.test(String(l.msg)));

  it("the winner's node dies after its route_win: once it expires, the call is routed again and another node's app drives it", async () => {
    const a = await otherNode(h, stops);
    h.app.route = 'none'; // node A's app wins the first round alone
    const callId = h.sw.placeCall({ from: '1001', to: '2000', variables: { sip_from_host: 'example.com' } });
    const ctlA = await a.app.routeWin(callId);
    await a.app.command(ctlA, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    h.app.route = 'park';
    await a.die();
    const ctlB = await h.app.routeWin(callId);
    await h.app.command(ctlB, callId, 'play', { 'Media-Name': '/media/after-failover.wav' });
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'play' && m['Raw-Application-Data'] === '/media/after-failover.wav',
    );
    expect(h.executed(callId)).toEqual(['park', 'answer', 'playback /media/after-failover.wav']);
    const reqs = routeReqsOf(h, callId);
    expect(reqs).toHaveLength(2);
    const fetchIds = reqs.map((r) => (r['Custom-Channel-Vars'] as Record<string, unknown>)['Fetch-ID']);
    expect(fetchIds[1]).not.toBe(fetchIds[0]);
    // The new winner takes the call: an old controller that was only cut off stops on this.
    const usurp = await h.app.waitFor(
      (m) => m['Event-Name'] === 'usurp_control' && m['Call-ID'] === callId && m['Fetch-ID'] === fetchIds[1],
      'usurp_control of the second routing',
    );
    expect(usurp.Reason).toBe('Route-Win');
    expect(
      h.lines.some(
        (l) =>
          l.call_id === callId &&
          l.level === 40 &&
          l.node === a.name &&
          /node controlling the call is gone: routing the call again/.test(String(l.msg)),
      ),
    ).toBe(true);
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
  });

  it("the winner's node dies while its call is bridged: the call is left to its parties, not routed again", async () => {
    const reg: RegistrarSide = await startRegistrar(h);
    stops.push(() => reg.close());
    await reg.register('1002', 'r.test');
    const a = await otherNode(h, stops);
    h.app.route = 'none';
    const callId = h.sw.placeCall({ from: '1001', to: '1002', variables: { sip_from_host: 'example.com' } });
    const ctlA = await a.app.routeWin(callId);
    await a.app.command(ctlA, callId, 'bridge', {
      Endpoints: [{ 'Invite-Format': 'username', 'To-User': '1002', 'To-Realm': 'r.test' }],
    });
    const bridge = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    h.app.route = 'park';
    await a.die();
    await pollUntil(
      warned(callId, /node controlling the call is gone; the call is bridged/),
      'the bridged call left alone',
    );
    expect(routeReqsOf(h, callId)).toHaveLength(1);
    expect(h.app.seen.some((m) => m['Event-Name'] === 'route_win' && m['Call-ID'] === callId)).toBe(false);
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
    expect(h.sw.channel(String(bridge['Other-Leg-Call-ID']))?.hangupCause).toBeUndefined();
  });

  it('the winner is gone before its route_win: the call is routed again and the other responder drives it', async () => {
    // The test app answers every round, deferred: the gone app's park wins the first at once.
    h.app.route = 'deferred';
    const gone = new TestApp(await h.connect('gone-app'), h.rt.log, 'gone-app');
    gone.vanishOnRouteReq = true;
    await gone.start();
    const vanished = new Promise((resolve) => gone.once('vanished', resolve));
    const goneQueue = gone.queue;
    const callId = h.sw.placeCall({ from: '1001', to: '2000', variables: { sip_from_host: 'example.com' } });
    await vanished;
    const ctl = await h.app.routeWin(callId);
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(h.executed(callId)).toEqual(['park', 'answer']);
    const reqs = routeReqsOf(h, callId);
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!['Custom-Channel-Vars']).toEqual(reqs[0]!['Custom-Channel-Vars']);
    expect(
      h.lines.some(
        (l) =>
          l.call_id === callId && l.controller === goneQueue && /came back unroutable/.test(String(l.msg)),
      ),
    ).toBe(true);
  });

  it('winners that are gone round after round: after the last round the call is hung up NO_ROUTE_DESTINATION', async () => {
    h.app.serverId = `${h.rt.node}-no-such-queue`;
    const callId = h.sw.placeCall({ from: '1001', to: '2000', variables: { sip_from_host: 'example.com' } });
    const hup = await h.waitSwitch(
      (e) => e.name === 'CHANNEL_HANGUP' && e.uuid === callId,
      'hangup of the call nobody can take',
    );
    expect(header(hup, 'Hangup-Cause')).toBe('NO_ROUTE_DESTINATION');
    expect(routeReqsOf(h, callId)).toHaveLength(3);
    expect(h.executed(callId)).toEqual(['park']);
    expect(
      h.lines.some(
        (l) =>
          l.call_id === callId && l.level === 40 && /hanging up NO_ROUTE_DESTINATION/.test(String(l.msg)),
      ),
    ).toBe(true);
  });
}
