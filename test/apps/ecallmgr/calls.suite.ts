/**
 * ecallmgr behaviour: a call placed on the simulator goes through route_req, route_win,
 * dialplan commands executed in order on the switch, and call events on the bus. Run on
 * the embedded bus (calls.test.ts) and on RabbitMQ (calls.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { controlReleased } from '../../../apps/ecallmgr/call-control.ts';
import type { Harness } from './harness.ts';

export function callsSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
  });

  it('a parked call becomes a route_req with Kazoo headers; the winner gets route_win with the control queue', async () => {
    const callId = h.sw.placeCall({
      from: '1001',
      to: '2000',
      variables: { sip_from_host: 'example.com', 'ecallmgr_Account-ID': 'acct1' },
    });
    const req = await h.app.waitFor(
      (m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId,
      'route_req',
    );
    expect(req).toMatchObject({
      'Event-Category': 'dialplan',
      'App-Name': 'ecallmgr',
      From: '1001@example.com',
      To: '2000@example.com',
      'Caller-ID-Number': '1001',
      'Resource-Type': 'audio',
    });
    expect((req['Custom-Channel-Vars'] as Record<string, unknown>)['Fetch-ID']).toBe(req['Msg-ID']);
    expect((req['Custom-Channel-Vars'] as Record<string, unknown>)['Account-ID']).toBe('acct1');
    const win = await h.app.waitFor(
      (m) => m['Event-Name'] === 'route_win' && m['Call-ID'] === callId,
      'route_win',
    );
    expect(win['Msg-ID']).toBe(callId);
    expect(win['Server-ID']).toBe(win['Control-Queue']);
    expect((win['Custom-Channel-Vars'] as Record<string, unknown>)['Application-Name']).toBe('test-app');
  });

  it('commands run on the switch one at a time, in order, and the matching call events arrive with the call routing key', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'silence_stream://40' });
    await h.app.command(ctl, callId, 'tts', { Text: 'hello' });
    const noop = await h.app.command(ctl, callId, 'noop');
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Application-Name'] === 'noop' && m['Application-Response'] === noop['Msg-ID'],
    );
    await h.app.command(ctl, callId, 'hangup');
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(h.executed(callId)).toEqual([
      'park',
      'answer',
      'playback silence_stream://40',
      'playback tts://flite|female|hello',
      `event Event-Name=CUSTOM,Event-Subclass=kazoo::noop,kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=noop,kazoo_application_response=${String(noop['Msg-ID'])}`,
      'hangup',
    ]);
    const names = h.app
      .events(callId)
      .map(
        (m) =>
          `${String(m['Event-Name'])}${m['Application-Name'] === undefined ? '' : `:${String(m['Application-Name'])}`}`,
      );
    expect(names).toEqual([
      'usurp_control',
      'CHANNEL_EXECUTE:answer',
      'CHANNEL_ANSWER',
      'CHANNEL_EXECUTE_COMPLETE:answer',
      'CHANNEL_EXECUTE:play',
      'CHANNEL_EXECUTE_COMPLETE:play',
      'CHANNEL_EXECUTE:tts',
      'CHANNEL_EXECUTE_COMPLETE:tts',
      'CHANNEL_EXECUTE_COMPLETE:noop',
      'CHANNEL_EXECUTE:hangup',
      'CHANNEL_EXECUTE_COMPLETE:hangup',
      'CHANNEL_DESTROY',
    ]);
    expect(destroy).toMatchObject({
      'Hangup-Cause': 'NORMAL_CLEARING',
      'Switch-Nodename': 'fs1',
      'Channel-State': 'DESTROY',
      'Call-Direction': 'inbound',
      'App-Name': 'ecallmgr',
    });
    expect((destroy['Custom-Channel-Vars'] as Record<string, unknown>)['Account-ID']).toBe('acct1');
  });

  it('after the call ends its processes stop and its control queue is gone', async () => {
    const { callId, ctl } = await h.placeRoutedCall();
    const control = h.rt.whereis(`ecallmgr_call_control:${callId}`)!;
    const ended = h.rt.awaitExit(control);
    const released = controlReleased(h.bus, h.rt.node, callId);
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    expect(await ended).toBe('normal');
    await h.rt.events.waitFor(
      'supervisor',
      () => h.rt.whereis(`ecallmgr_call_events:${callId}`) === undefined,
    );
    await released;
    await expect(h.bus.checkQueue(ctl)).rejects.toThrow();
  });
}
