/**
 * A call's end that reached no call_events: the restarted call_events asks the switch
 * whether its channel still exists, and call_control asks it every channelCheckMs, so a
 * call whose channel vanished unseen is ended on the bus (CHANNEL_DESTROY with
 * Disposition channel_gone, as apps waiting for the call's end expect) and its processes
 * end, instead of staying for ever. Run on the embedded bus (lost-hangup.test.ts) and on
 * RabbitMQ (lost-hangup.rabbitmq.test.ts).
 */
import { afterEach, expect, it } from 'vitest';
import { GenServer, Supervisor } from '../../../src/kernel/index.ts';
import { names } from '../../../apps/ecallmgr/context.ts';
import { ecallmgrSettings } from '../../../apps/ecallmgr/config.ts';
import { SWITCH, type Harness } from './harness.ts';

type Start = (settings?: Record<string, unknown>) => Promise<Harness>;

export function lostHangupSuite(start: Start): void {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const phaseOf = (hh: Harness, callId: string): string | undefined => {
    const pid = hh.rt.whereis(names.control(callId));
    const d = pid === undefined ? undefined : hh.rt.proc(pid)?.meta?.describe?.();
    return (d as { state?: { phase?: string } } | undefined)?.state?.phase;
  };

  it('call_events killed and the call hung up before its restart: the restarted one finds the channel gone, publishes CHANNEL_DESTROY and the call processes end', async () => {
    // keepAliveMs long enough that call_control (which saw the hang-up) is still there when
    // the restarted call_events gets the switch's answer: once call_control ends, the call's
    // supervisor shuts call_events down too.
    h = await start({ keepAliveMs: 5000 });
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    const callSup = (await Supervisor.whichChildren(h.rt, names.calls))[0]!.pid!;
    const supEnded = h.rt.awaitExit(callSup);
    // The supervisor holds the exit of call_events until resumed: no call_events meanwhile.
    const held = await GenServer.suspend(h.rt, callSup);
    const events = h.rt.whereis(names.events(callId))!;
    h.rt.crash(events, 'killed');
    await h.rt.awaitExit(events);
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    // call_control saw the CHANNEL_DESTROY (the node connection gives it to both); call_events did not.
    for (let i = 0; phaseOf(h, callId) !== 'hungup'; i++) {
      if (i > 2000) throw new Error(`call_control never saw the hang-up (phase ${phaseOf(h, callId)})`);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(
      h.app.seen.filter((m) => m['Call-ID'] === callId && m['Event-Name'] === 'CHANNEL_DESTROY'),
    ).toEqual([]);
    held.resume();
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(destroy).toMatchObject({ Disposition: 'channel_gone', 'Switch-Nodename': SWITCH });
    expect(await supEnded).toBe('shutdown');
    expect(h.rt.registered().filter((n) => n.includes(callId))).toEqual([]);
  });

  it('a channel that vanished with none of its events reaching ecallmgr: the periodic check finds it gone, CHANNEL_DESTROY is published and the call processes end', async () => {
    h = await start({ channelCheckMs: 200 });
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    const callSup = (await Supervisor.whichChildren(h.rt, names.calls))[0]!.pid!;
    const supEnded = h.rt.awaitExit(callSup);
    for (const e of ['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY'])
      h.sw.faults.swallowEvents.add(e);
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(destroy).toMatchObject({ Disposition: 'channel_gone', 'Switch-Nodename': SWITCH });
    expect(await supEnded).toBe('shutdown');
    expect(h.rt.registered().filter((n) => n.includes(callId))).toEqual([]);
    expect(
      h.lines.some((l) => l.msg === 'the switch no longer has the channel: ending the call as gone'),
    ).toBe(true);
  });

  it('channelCheckMs below 100 ms is refused with its name', () => {
    expect(() => ecallmgrSettings({ channelCheckMs: 10 }, {})).toThrow(
      'channelCheckMs must be at least 100 ms, got 10',
    );
  });
}
