/**
 * ecallmgr answers channel_status_req (Kazoo's ecallmgr_fs_channels handle_channel_status):
 * an app asks on `callevt` / `call.status_req.<call-id>` whether a call is still up and
 * hears `active` with the switch holding it, or `terminated` once it is gone (nothing
 * with Active-Only). Run on the embedded bus (channel-status.test.ts) and on RabbitMQ
 * (channel-status.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { build, callEventKey } from '../../../src/api/index.ts';
import { Requester, RequestTimeoutError, type Envelope } from '../../../src/bus/index.ts';
import type { Harness } from './harness.ts';

const CTX = { appName: 'test-app', appVersion: '4.3.0', node: 'test-app@localhost' };

export function channelStatusSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let requester: Requester;
  beforeEach(async () => {
    h = await start();
    requester = new Requester({ transport: h.bus, logger: h.rt.log, timeoutMs: 3000 });
    await requester.start();
  });
  afterEach(async () => {
    await requester.stop();
    await h.close();
  });

  const status = (callId: string, extra: Record<string, unknown> = {}, timeoutMs = 3000): Promise<Envelope> =>
    requester.call(
      build('channel_status_req', { 'Call-ID': callId, ...extra }, CTX) as unknown as Envelope,
      { exchange: 'callevt', routingKey: callEventKey('status_req', callId) },
      { timeoutMs },
    );

  it('a call in progress is active on its switch; once it has ended it is terminated', async () => {
    const { callId } = await h.placeRoutedCall();
    const up = await status(callId);
    expect(up).toMatchObject({
      'Event-Category': 'call_event',
      'Event-Name': 'channel_status_resp',
      'Call-ID': callId,
      Status: 'active',
      'Switch-Hostname': '127.0.0.1',
      'Switch-Nodename': 'fs1',
      'App-Name': 'ecallmgr',
    });
    expect(String(up['Switch-URL'])).toMatch(/^esl:\/\/127\.0\.0\.1:\d+$/);
    expect(up['Other-Leg-Call-ID']).toBeUndefined();
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(await status(callId)).toMatchObject({
      'Call-ID': callId,
      Status: 'terminated',
      'Error-Msg': 'no node found with channel',
    });
  });

  it('an unknown call is terminated; asked with Active-Only, nothing answers', async () => {
    expect(await status('no-such-call')).toMatchObject({ Status: 'terminated' });
    await expect(status('no-such-call', { 'Active-Only': true }, 500)).rejects.toBeInstanceOf(
      RequestTimeoutError,
    );
    // Active-Only does not hide a call that is up.
    const { callId } = await h.placeRoutedCall();
    expect(await status(callId, { 'Active-Only': true })).toMatchObject({ Status: 'active' });
  });
}
