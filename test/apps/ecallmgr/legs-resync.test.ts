/**
 * ecallmgr's node connection keeps the legs bridged to its calls (their events go to the
 * call's call_events) until each leg's CHANNEL_DESTROY. A call hung up while the event
 * socket is down loses that event: after the reconnect the resync forgets the call, and
 * must forget its bridged leg too. Before, such legs were kept for ever (the soak drops
 * the event socket every few seconds). Embedded bus, the simulator, the real registrar.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { names } from '../../../apps/ecallmgr/context.ts';
import { SWITCH, startHarness, type Harness } from './harness.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';

const REALM = 'r.test';

describe('ecallmgr node connection after a reconnect', () => {
  let h: Harness | undefined;
  let reg: RegistrarSide | undefined;
  afterEach(async () => {
    await reg?.close();
    await h?.close();
  });

  it('a bridged call hung up while the event socket was down leaves no bridged leg known', async () => {
    h = await startHarness();
    reg = await startRegistrar(h);
    const node = h.rt.resolve(names.node(SWITCH))!;
    const describe = () => node.meta!.describe!() as { calls: number; bridged_legs: number };
    await reg.register('1002', REALM);
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'bridge', {
      Endpoints: [{ 'Invite-Format': 'username', 'To-User': '1002', 'To-Realm': REALM }],
    });
    await h.app.waitEvent(callId, 'CHANNEL_BRIDGE');
    expect(describe()).toMatchObject({ calls: 1, bridged_legs: 1 });

    const closed = new Promise<void>((resolve) => h!.sw.onConnectionClosed(() => resolve()));
    const resynced = h.lines.length;
    h.rt.send(names.node(SWITCH), { type: 'drop_event_socket', reason: 'test' });
    await closed;
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    await expect
      .poll(() => h!.lines.slice(resynced).some((l) => l.msg === 'switch back: calls resynchronised'))
      .toBe(true);
    expect(describe()).toMatchObject({ calls: 0, bridged_legs: 0 });
  });
});
