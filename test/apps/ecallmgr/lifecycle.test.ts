/**
 * How a call ends and what ecallmgr does with bad input: hang-up mid-queue, commands
 * after the hang-up, invalid or unsupported commands, route winners, error and missing
 * route answers, directory fetches.
 */
import { controlReleased } from '../../../apps/ecallmgr/call-control.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { build, callEventKey } from '../../../src/api/index.ts';
import { Supervisor } from '../../../src/kernel/index.ts';
import { names } from '../../../apps/ecallmgr/context.ts';
import { TestApp } from './test-app.ts';
import { header, startHarness, type Harness } from './harness.ts';

const LONG = 'silence_stream://60000';

describe('ecallmgr call life cycle and bad input', () => {
  let h: Harness | undefined;
  const extra: TestApp[] = [];
  afterEach(async () => {
    for (const a of extra.splice(0)) await a.stop();
    await h?.close();
    h = undefined;
  });

  it('hang-up mid-queue: queued commands never run, later commands get a dialplan error, the call processes end and leave nothing', async () => {
    h = await startHarness({ settings: { keepAliveMs: 400 } });
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'play', { 'Media-Name': LONG });
    await h.app.waitEvent(callId, 'CHANNEL_EXECUTE', (m) => m['Raw-Application-Data'] === LONG);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'b.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'c.wav' });
    const control = h.rt.whereis(names.control(callId))!;
    const ended = h.rt.awaitExit(control);
    const released = controlReleased(h.bus, h.rt.node, callId);
    const callSup = (await Supervisor.whichChildren(h.rt, names.calls))[0]!.pid!;
    const supEnded = h.rt.awaitExit(callSup);
    const flushed = h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    // The bus and the switch socket are two channels with no order between them: the hang-up
    // goes out only once both commands have been taken off the control queue (and so are
    // in call_control's mailbox, ahead of the hang-up).
    while ((await h.bus.checkQueue(ctl)).messageCount > 0) await new Promise((r) => setImmediate(r));
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    await flushed;
    const late = await h.app.command(ctl, callId, 'answer');
    const err = await h.app.waitFor(
      (m) =>
        m['Event-Category'] === 'error' && m['Event-Name'] === 'dialplan' && m['Msg-ID'] === late['Msg-ID'],
      'dialplan error',
    );
    expect(String(err['Error-Message'])).toContain('the call is down');
    expect(await ended).toBe('normal');
    expect(await supEnded).toBe('shutdown');
    expect(h.executed(callId).filter((x) => x.includes('b.wav') || x.includes('c.wav'))).toEqual([]);
    expect(await Supervisor.countChildren(h.rt, names.calls)).toMatchObject({ active: 0 });
    expect(h.rt.whereis(names.events(callId))).toBeUndefined();
    await released;
    await expect(h.bus.checkQueue(ctl)).rejects.toThrow();
    expect(
      h.lines.some(
        (l) => l.msg === 'call ended: command queue flushed' && l.call_id === callId && l.dropped === 2,
      ),
    ).toBe(true);
  });

  it('an invalid command is answered with an error naming the problem and never reaches the queue; the call goes on', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    const bad = build(
      'dialplan.play',
      { 'Call-ID': callId, 'Media-Name': 'x.wav', 'Server-ID': h.app.queue },
      { appName: 't', appVersion: '1', node: 't@h' },
    ) as unknown as Record<string, unknown>;
    delete bad['Media-Name'];
    await h.app.raw(ctl, bad);
    const err = await h.app.waitFor(
      (m) => m['Event-Category'] === 'error' && m['Msg-ID'] === bad['Msg-ID'],
      'error reply',
    );
    expect(String(err['Error-Message'])).toContain('Media-Name');
    await h.bus.publish('callctl', ctl, Buffer.from('{not json'), {});
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(h.executed(callId)).toEqual(['park', 'answer']);
    expect(h.lines.some((l) => l.call_id === callId && String(l.msg).includes('invalid'))).toBe(true);
  });

  it('a command the switch cannot run is answered with a dialplan error on call.dialplan.<call-id> and skipped', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    const rec = await h.app.command(ctl, callId, 'record_call', { 'Record-Action': 'start' });
    await h.app.command(ctl, callId, 'answer');
    const err = await h.app.waitFor(
      (m) => m['Event-Name'] === 'dialplan' && m['Msg-ID'] === rec['Msg-ID'],
      'dialplan error',
    );
    expect(err).toMatchObject({ 'Event-Category': 'error', 'Call-ID': callId });
    expect((err.Request as Record<string, unknown>)['Application-Name']).toBe('record_call');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
  });

  it('a deferred route_resp loses to a plain one', async () => {
    h = await startHarness();
    const other = await new TestApp(h.bus, h.rt.log, 'deferring-app').start();
    extra.push(other);
    other.route = 'deferred';
    const callId = h.sw.placeCall({ from: '1001', to: '2000' });
    const win = await h.app.waitFor(
      (m) => m['Event-Name'] === 'route_win' && m['Call-ID'] === callId,
      'route_win',
    );
    expect((win['Custom-Channel-Vars'] as Record<string, unknown>)['Application-Name']).toBe('test-app');
    expect(other.seen.some((m) => m['Event-Name'] === 'route_win')).toBe(false);
  });

  it('a deferred route_resp wins when nothing better comes before the fetch timeout', async () => {
    h = await startHarness({ settings: { fetchTimeoutMs: 300 } });
    h.app.route = 'deferred';
    const callId = h.sw.placeCall({ from: '1001', to: '2000' });
    await h.app.routeWin(callId);
  });

  it('an error route_resp hangs the call up with its cause; no answer at all hangs it up NO_ROUTE_DESTINATION', async () => {
    h = await startHarness({ settings: { fetchTimeoutMs: 300 } });
    h.app.route = 'error';
    const rejected = h.sw.placeCall({ from: '1001', to: '2000' });
    const hup1 = await h.waitSwitch(
      (e) => e.name === 'CHANNEL_HANGUP' && e.uuid === rejected,
      'hangup of the rejected call',
    );
    expect(header(hup1, 'Hangup-Cause')).toBe('CALL_REJECTED');
    h.app.route = 'none';
    const unrouted = h.sw.placeCall({ from: '1001', to: '2001' });
    const hup2 = await h.waitSwitch(
      (e) => e.name === 'CHANNEL_HANGUP' && e.uuid === unrouted,
      'hangup of the unrouted call',
    );
    expect(header(hup2, 'Hangup-Cause')).toBe('NO_ROUTE_DESTINATION');
    expect(
      h.lines.some((l) => l.call_id === unrouted && String(l.msg).includes('no app routed the call')),
    ).toBe(true);
  });

  it('a directory fetch becomes an authn_req; the answer (or its absence) goes back to the switch', async () => {
    h = await startHarness({ settings: { authnTimeoutMs: 300 } });
    h.app.passwords.set('1001', 'secret-1001');
    const fetch = (uuid: string, user: string): void =>
      h!.sw.raiseEvent('REQUEST_PARAMS', [
        ['Fetch-UUID', uuid],
        ['Fetch-Section', 'directory'],
        ['action', 'sip_auth'],
        ['sip_auth_username', user],
        ['sip_auth_realm', 'Example.COM'],
        ['sip_auth_method', 'REGISTER'],
        ['ip', '10.0.0.5'],
      ]);
    fetch('fetch-1', '1001');
    const req = await h.app.waitFor(
      (m) => m['Event-Name'] === 'authn_req' && m['Msg-ID'] === 'fetch-1',
      'authn_req',
    );
    expect(req).toMatchObject({
      'Auth-User': '1001',
      'Auth-Realm': 'example.com',
      Method: 'REGISTER',
      'Orig-IP': '10.0.0.5',
      From: '1001@example.com',
    });
    const found = await h.waitSwitch(
      (e) => e.name === 'CUSTOM' && header(e, 'Fetch-UUID') === 'fetch-1',
      'fetch reply',
    );
    expect(header(found, 'Fetch-Result')).toBe('found');
    expect(header(found, 'Auth-Password')).toBe('secret-1001');
    fetch('fetch-2', 'nobody');
    const missing = await h.waitSwitch(
      (e) => e.name === 'CUSTOM' && header(e, 'Fetch-UUID') === 'fetch-2',
      'fetch reply',
    );
    expect(header(missing, 'Fetch-Result')).toBe('not_found');
    expect(h.lines.some((l) => JSON.stringify(l).includes('secret-1001'))).toBe(false);
  });

  it('route_win comes with usurp_control; a usurp_control of another routing of the call stops its control, the call stays up', async () => {
    h = await startHarness();
    const { callId } = await h.placeRoutedCall();
    const own = await h.app.waitEvent(callId, 'usurp_control');
    expect(own).toMatchObject({ Reason: 'Route-Win', 'Media-Node': h.rt.node });
    const control = h.rt.whereis(names.control(callId))!;
    const ended = h.rt.awaitExit(control);
    await h.bus.publish(
      'callevt',
      callEventKey('usurp_control', callId),
      Buffer.from(
        JSON.stringify(
          build(
            'usurp_control',
            {
              'Call-ID': callId,
              'Fetch-ID': 'another-fetch',
              Reason: 'Route-Win',
              'Media-Node': 'ecallmgr@elsewhere',
            },
            { appName: 'ecallmgr', appVersion: '4.0.0', node: 'ecallmgr@elsewhere' },
          ),
        ),
      ),
      { contentType: 'application/json' },
    );
    expect(await ended).toBe('normal');
    expect(h.sw.channel(callId)?.state).toBe('CS_EXECUTE');
    expect(
      h.lines.some(
        (l) => l.call_id === callId && l.msg === 'call control usurped by another route_win: stopping',
      ),
    ).toBe(true);
  });
});
