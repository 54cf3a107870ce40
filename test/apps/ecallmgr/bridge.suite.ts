/**
 * ecallmgr's bridge: a `bridge` command (or a bridge route_resp) dials the registered
 * devices the registrar knows (reg_query at bridge time), rings them on the simulator,
 * and reports the outcome with Kazoo's call events. The real registrar runs beside
 * ecallmgr on the same bus (registrar-side.ts). Run on the embedded bus (bridge.test.ts)
 * and on RabbitMQ (bridge.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { build, callEventKey } from '../../../src/api/index.ts';
import { Requester, type Envelope } from '../../../src/bus/index.ts';
import { controlPid, header, type Harness } from './harness.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';

const REALM = 'r.test';
const CTX = { appName: 'test-app', appVersion: '4.3.0', node: 'test-app@localhost' };
const device = (user: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  'Invite-Format': 'username',
  'To-User': user,
  'To-Realm': REALM,
  ...extra,
});

export function bridgeSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let reg: RegistrarSide;
  let requester: Requester;
  beforeEach(async () => {
    h = await start();
    reg = await startRegistrar(h);
    requester = new Requester({ transport: h.bus, logger: h.rt.log, timeoutMs: 3000 });
    await requester.start();
  });
  afterEach(async () => {
    await requester.stop();
    await reg.close();
    await h.close();
  });

  const label = (m: Envelope): string =>
    `${String(m['Event-Name'])}${m['Application-Name'] === undefined ? '' : `:${String(m['Application-Name'])}`}`;
  const bridgeDone = (callId: string): Promise<Envelope> =>
    h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Application-Name'] === 'bridge');
  /** The legs the switch created for a bridge of `callId`, in order, with their dialled user. */
  const legs = (aLeg: string): Array<{ uuid: string; name: string }> =>
    h.switchEvents
      .filter(
        (e) => e.name === 'CHANNEL_CREATE' && e.uuid !== aLeg && header(e, 'Call-Direction') === 'outbound',
      )
      .map((e) => ({ uuid: e.uuid!, name: header(e, 'Channel-Name') ?? '' }));

  it('a bridge to a registered device rings its contact, answers, and both legs report in order', async () => {
    await reg.register('1002', REALM);
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', {
      Endpoints: [device('1002', { 'Custom-Channel-Vars': { 'Owner-ID': 'owner-2' } })],
      'Custom-Channel-Vars': { 'Bridge-Tag': 'tag-1' },
      'B-Leg-Events': ['CHANNEL_ANSWER', 'CHANNEL_DESTROY'],
    });
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    const bLeg = String(bridged['Other-Leg-Call-ID']);
    expect(legs(callId).map((l) => l.uuid)).toEqual([bLeg]);
    expect(h.executed(callId)).toContainEqual(
      expect.stringMatching(
        /^bridge \{.*\}\[.*\]sofia\/sipinterface_1\/1002@127\.0\.0\.1:5070;transport=udp$/,
      ),
    );
    // The command's CCVs are on the channel: they come back in its events.
    expect((bridged['Custom-Channel-Vars'] as Record<string, unknown>)['Bridge-Tag']).toBe('tag-1');
    // channel_status_req names the bridged leg.
    const statusReq = build('channel_status_req', { 'Call-ID': callId }, CTX) as unknown as Envelope;
    expect(
      await requester.call(statusReq, {
        exchange: 'callevt',
        routingKey: callEventKey('status_req', callId),
      }),
    ).toMatchObject({ Status: 'active', 'Other-Leg-Call-ID': bLeg });
    h.sw.hangup(bLeg, 'NORMAL_CLEARING');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    await h.app.waitEvent(bLeg, 'CHANNEL_DESTROY');
    // The test app binds call.*.<call-id>, so it hears the status request too.
    expect(h.app.events(callId).map(label)).toEqual([
      'usurp_control',
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE:bridge',
      'CHANNEL_ANSWER',
      'CHANNEL_BRIDGE',
      'channel_status_req',
      'CHANNEL_UNBRIDGE',
      'CHANNEL_DESTROY',
    ]);
    // The bridged leg's events named in B-Leg-Events, under its own Call-ID, from the
    // bridge on (its CHANNEL_ANSWER came before and is not asked for).
    expect(h.app.events(bLeg).map(label)).toEqual(['CHANNEL_DESTROY']);
  });

  it('the bridge goes to the switch as one sendmsg (xferext, as Kazoo 4.3), and a bridged call ended by hang-up draws no -ERR', async () => {
    await reg.register('1002', REALM);
    const { callId, ctl } = await h.placeRoutedCall();
    const sent: Array<{ uuid: string; command: string; reply: string }> = [];
    const off = h.sw.onSendmsg((m) => sent.push(m));
    try {
      await h.app.command(ctl, callId, 'bridge', {
        Endpoints: [device('1002')],
        'Custom-Channel-Vars': { 'Bridge-Tag': 'tag-1' },
      });
      const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
      const bLeg = String(bridged['Other-Leg-Call-ID']);
      h.sw.hangup(bLeg, 'NORMAL_CLEARING');
      await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
      expect(sent).toEqual([{ uuid: callId, command: 'xferext', reply: '+OK' }]);
      // hangup_after_bridge ended the extension: its masquerade `event` never ran.
      expect(h.executed(callId).filter((x) => x.startsWith('event '))).toEqual([]);
    } finally {
      off();
    }
  });

  it('a busy device: the bridge completes with USER_BUSY and Hangup-Code sip:486, and the call goes on', async () => {
    await reg.register('1003', REALM, { mode: 'busy' });
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', { Endpoints: [device('1003')] });
    const done = await bridgeDone(callId);
    expect(done).toMatchObject({
      'Application-Response': 'USER_BUSY',
      'Hangup-Cause': 'USER_BUSY',
      'Hangup-Code': 'sip:486',
      Disposition: 'USER_BUSY',
    });
    const noop = await h.app.command(ctl, callId, 'noop');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Response'] === noop['Msg-ID'],
    );
  });

  it('an unregistered device: a dialplan error naming it, no leg rung, and the queue goes on', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    const cmd = await h.app.command(ctl, callId, 'bridge', { Endpoints: [device('ghost')] });
    const err = await h.app.waitFor(
      (m) => m['Event-Name'] === 'dialplan' && m['Call-ID'] === callId,
      'the dialplan error',
    );
    expect(err['Error-Message']).toBe('registrar returned no endpoints');
    expect(err['Msg-ID']).toBe(cmd['Msg-ID']);
    const noop = await h.app.command(ctl, callId, 'noop');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Response'] === noop['Msg-ID'],
    );
    expect(legs(callId)).toEqual([]);
    expect(controlPid(h, callId)).toBeDefined();
  });

  it('single: a rejecting device is skipped and the next one rings and answers', async () => {
    await reg.register('1004', REALM, { mode: 'reject' });
    await reg.register('1005', REALM);
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', {
      'Dial-Endpoint-Method': 'single',
      Endpoints: [device('1004'), device('ghost'), device('1005')],
    });
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    const rung = legs(callId);
    expect(rung.map((l) => l.name.split('/').pop()?.split('@')[0])).toEqual(['1004', '1005']);
    expect(bridged['Other-Leg-Call-ID']).toBe(rung[1]!.uuid);
    expect(h.executed(callId)).toContainEqual(expect.stringMatching(/1004@[^|,]*\|.*1005@/));
  });

  it('Timeout ends the ringing: the bridge completes with NO_ANSWER', async () => {
    await reg.register('1006', REALM, { mode: 'manual' });
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', { Timeout: 1, Endpoints: [device('1006')] });
    const done = await bridgeDone(callId);
    expect(done).toMatchObject({ 'Application-Response': 'NO_ANSWER', 'Hangup-Cause': 'NO_ANSWER' });
    expect(h.sw.channel(legs(callId)[0]!.uuid)).toBeUndefined();
  });

  it('a bridge route_resp dials its Routes', async () => {
    await reg.register('1007', REALM);
    h.app.bridgeRoutes = [device('1007')];
    const { callId } = await h.placeRoutedCall();
    const bridged = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    expect(legs(callId).map((l) => l.uuid)).toEqual([bridged['Other-Leg-Call-ID']]);
  });

  it('a command whose Call-ID is the bridged leg runs on that leg (Kazoo targets the B-leg so)', async () => {
    await reg.register('1008', REALM);
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', { Endpoints: [device('1008')] });
    const bLeg = String((await h.app.waitEvent(callId, 'CHANNEL_BRIDGE'))['Other-Leg-Call-ID']);
    await h.app.command(ctl, bLeg, 'hangup', { 'Insert-At': 'now', 'Hangup-Cause': 'USER_BUSY' });
    await h.app.waitEvent(callId, 'CHANNEL_UNBRIDGE');
    expect(h.executed(bLeg)).toEqual(['hangup USER_BUSY']);
    expect(h.switchEvents.find((e) => e.uuid === bLeg && e.name === 'CHANNEL_HANGUP')).toBeDefined();
    expect(h.app.seen.filter((m) => m['Event-Name'] === 'dialplan')).toEqual([]);
  });

  it("a command's Custom-Channel-Vars are set on the channel and come back in its events", async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    // The catalogue's builder keeps only the fields it lists for answer (as Kazoo's does);
    // an app may still send more, and ecallmgr sets the CCVs it finds.
    const answer = {
      ...(await h.app.command(ctl, callId, 'noop')),
      'Application-Name': 'answer',
      'Custom-Channel-Vars': { 'Owner-ID': 'o-9', Flag: true },
    };
    await h.app.raw(ctl, answer);
    const answered = await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(answered['Custom-Channel-Vars']).toMatchObject({
      'Owner-ID': 'o-9',
      Flag: 'true',
      'Account-ID': 'acct1',
    });
  });
}
