/**
 * ecallmgr's `unbridge` and `hangup` with Other-Leg-Only on a bridged call, as Kazoo 4.3's
 * ecallmgr runs them (ecallmgr_call_command / ecallmgr_fs_bridge:unbridge/2 /
 * ecallmgr_util:send_cmd): `api uuid_park <call>` and `api uuid_transfer <call>
 * [-bleg|-both] park: inline`, sent Insert-At now beside the running bridge. A (1001)
 * calls B (the registered 1002), bridged; the registrar runs beside ecallmgr
 * (registrar-side.ts). Run on the embedded bus (unbridge.test.ts) and on RabbitMQ
 * (unbridge.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Envelope } from '../../../src/bus/index.ts';
import { header, type Harness } from './harness.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';

const REALM = 'r.test';
const device = { 'Invite-Format': 'username', 'To-User': '1002', 'To-Realm': REALM };

export function unbridgeSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let reg: RegistrarSide;
  /** api commands the switch was asked for, as `<name> <args>`. */
  let apis: string[];

  beforeEach(async () => {
    h = await start();
    reg = await startRegistrar(h);
    apis = [];
    const api = h.sw.api.bind(h.sw);
    h.sw.api = (command: string, args: string) => {
      apis.push(`${command} ${args}`);
      return api(command, args);
    };
  });
  afterEach(async () => {
    await reg.close();
    await h.close();
  });

  /** A routed call from 1001 bridged to 1002 (B-Leg-Events as given): its ids. */
  async function bridged(bLegEvents?: string[]): Promise<{ callId: string; ctl: string; bLeg: string }> {
    await reg.register('1002', REALM);
    const { callId, ctl } = await h.placeRoutedCall('1001', '1002');
    await h.app.command(ctl, callId, 'bridge', {
      Endpoints: [device],
      ...(bLegEvents === undefined ? {} : { 'B-Leg-Events': bLegEvents }),
    });
    const bridge = await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    return { callId, ctl, bLeg: String(bridge['Other-Leg-Call-ID']) };
  }

  const bridgeDone = (callId: string): Promise<Envelope> =>
    h.app.waitEvent(callId, 'CHANNEL_EXECUTE_COMPLETE', (m) => m['Application-Name'] === 'bridge');
  const hangupCause = async (uuid: string): Promise<string | undefined> =>
    header(await h.waitSwitch((e) => e.uuid === uuid && e.name === 'CHANNEL_HANGUP'), 'Hangup-Cause');

  /** Plays a file on `callId` through `ctl` (Call-ID `target`, default the call) and waits for it. */
  async function plays(ctl: string, callId: string, target = callId): Promise<void> {
    const play = await h.app.command(ctl, target, 'play', { 'Media-Name': `/media/to-${target}.wav` });
    await h.app.waitEvent(
      target,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'play' && m['Raw-Application-Data'] === play['Media-Name'],
    );
  }

  const dialplanErrors = (): Envelope[] => h.app.seen.filter((m) => m['Event-Name'] === 'dialplan');
  const routeReqsFor = (uuid: string): Envelope[] =>
    h.app.seen.filter((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === uuid);

  it('hangup Other-Leg-Only: uuid_park on the call; B hangs up, A stays up, parked, and plays on', async () => {
    const { callId, ctl, bLeg } = await bridged();
    await h.app.command(ctl, callId, 'hangup', { 'Other-Leg-Only': true, 'Insert-At': 'now' });
    const unbridge = await h.app.waitEvent(callId, 'CHANNEL_UNBRIDGE');
    expect(unbridge['Other-Leg-Call-ID']).toBe(bLeg);
    expect(apis).toContain(`uuid_park ${callId}`);
    expect(await hangupCause(bLeg)).toBe('NORMAL_CLEARING');
    // The bridge the call was running completes as connected: the queue goes on.
    expect(await bridgeDone(callId)).toMatchObject({ 'Application-Response': 'SUCCESS' });
    await plays(ctl, callId);
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
    expect(h.app.events(callId).map((m) => m['Event-Name'])).not.toContain('CHANNEL_DESTROY');
    // Parked again by the switch; the bridge's kazoo::masquerade still runs, then the play.
    expect(h.executed(callId).slice(-3)).toEqual([
      'park',
      expect.stringMatching(/^event .*kazoo::masquerade/),
      `playback /media/to-${callId}.wav`,
    ]);
    expect(dialplanErrors()).toEqual([]);
  });

  it('unbridge Leg Both: uuid_transfer -both; both legs stay up, CHANNEL_UNBRIDGE for each, B is driven through the call', async () => {
    // The app hears the B-leg's events it names (Kazoo's listen_for_other_leg).
    const { callId, ctl, bLeg } = await bridged(['CHANNEL_UNBRIDGE', 'CHANNEL_EXECUTE_COMPLETE']);
    // kapps_call_command:unbridge/1's command.
    await h.app.command(ctl, callId, 'unbridge', { Leg: 'Both', 'Insert-At': 'now' });
    const [a, b] = await Promise.all([
      h.app.waitEvent(callId, 'CHANNEL_UNBRIDGE'),
      h.app.waitEvent(bLeg, 'CHANNEL_UNBRIDGE'),
    ]);
    expect(a['Other-Leg-Call-ID']).toBe(bLeg);
    expect(b['Other-Leg-Call-ID']).toBe(callId);
    expect(apis).toContain(`uuid_transfer ${callId} -both park: inline`);
    expect(await bridgeDone(callId)).toMatchObject({ 'Application-Response': 'SUCCESS' });
    await h.waitSwitch((e) => e.uuid === bLeg && e.name === 'CHANNEL_PARK', "the B-leg's park");
    // Both still up; each takes commands (the B-leg's by its Call-ID on the call's queue).
    await plays(ctl, callId);
    await plays(ctl, callId, bLeg);
    expect(h.executed(bLeg)).toEqual(['park', `playback /media/to-${bLeg}.wav`]);
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
    expect(h.sw.channel(bLeg)?.hangupCause).toBeUndefined();
    // The B-leg's park is not a new call to route.
    expect(routeReqsFor(bLeg)).toEqual([]);
    expect(dialplanErrors()).toEqual([]);
  });

  it('unbridge without Leg (the A-leg, as 4.3): uuid_transfer of the call; B hangs up, A stays', async () => {
    const { callId, ctl, bLeg } = await bridged();
    await h.app.command(ctl, callId, 'unbridge', { 'Insert-At': 'now' });
    await h.app.waitEvent(callId, 'CHANNEL_UNBRIDGE');
    expect(apis).toContain(`uuid_transfer ${callId} park: inline`);
    expect(await hangupCause(bLeg)).toBe('NORMAL_CLEARING');
    await bridgeDone(callId);
    await plays(ctl, callId);
    expect(h.sw.channel(callId)?.hangupCause).toBeUndefined();
  });

  it('unbridge Leg B: the B-leg is parked, the call left behind hangs up (hangup_after_bridge)', async () => {
    const { callId, ctl, bLeg } = await bridged();
    await h.app.command(ctl, callId, 'unbridge', { Leg: 'B', 'Insert-At': 'now' });
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(apis).toContain(`uuid_transfer ${callId} -bleg park: inline`);
    expect(h.sw.channel(bLeg)?.hangupCause).toBeUndefined();
    expect(routeReqsFor(bLeg)).toEqual([]);
  });
}
