/**
 * ecallmgr behaviour when the route_resp winner is gone before its route_win (a callflow
 * node killed right after it answered): route_win is published mandatory, comes back
 * unroutable, and the call is routed again, so another responder drives it; after
 * `maxRouteRounds` rounds of gone winners the call is hung up NO_ROUTE_DESTINATION. Run on
 * the embedded bus (route-win.test.ts) and on RabbitMQ (route-win.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { header, type Harness } from './harness.ts';
import { TestApp } from './test-app.ts';
import type { Envelope } from '../../../src/bus/index.ts';

const routeReqsOf = (h: Harness, callId: string): Envelope[] =>
  h.app.seen.filter((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId);

export function routeWinSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
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
