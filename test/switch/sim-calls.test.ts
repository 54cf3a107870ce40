/**
 * Calls on the simulator, driven through modesl unchanged over loopback TCP: the event
 * sequences and headers a FreeSWITCH call produces.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { hdr, modeslClose, modeslConnect, nextSimEvent, recordNextCall, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 5_000, recordMaxMs: 5_000 } }));
  conn = await modeslConnect(sw.port);
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
});

const execute = (app: string, arg: string, uuid: string): Promise<ModeslEvent> =>
  new Promise((resolve) => conn.execute(app, arg, uuid, resolve));
const api = (cmd: string, args = ''): Promise<string> =>
  new Promise((resolve) => conn.api(cmd, args, (e) => resolve(e.getBody())));
const names = (evs: SwitchEvent[]): string[] =>
  evs.map((e) =>
    e.name === 'CHANNEL_STATE'
      ? `STATE:${hdr(e, 'Channel-State')}`
      : e.name === 'CHANNEL_CALLSTATE'
        ? `CALLSTATE:${hdr(e, 'Channel-Call-State')}`
        : e.name,
  );

async function parkedCall(from = '1001', to = '2000'): Promise<string> {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from, to, callerIdName: 'Alice', variables: { ecallmgr_Account_ID: 'acc1' } });
  await parked;
  return uuid;
}

describe('an inbound call', () => {
  it('is created and parked with the caller and destination headers', async () => {
    const created = new Promise<ModeslEvent>((r) => conn.once('esl::event::CHANNEL_CREATE::*', r));
    const parked = new Promise<ModeslEvent>((r) => conn.once('esl::event::CHANNEL_PARK::*', r));
    await new Promise((r) => conn.events('json', ['CHANNEL_CREATE', 'CHANNEL_PARK'], r));
    const uuid = sw.placeCall({
      from: '1001',
      to: '2000',
      callerIdName: 'Alice',
      variables: { ecallmgr_Account_ID: 'acc1' },
    });
    const [c, p] = await Promise.all([created, parked]);
    for (const ev of [c, p]) {
      expect(ev.getHeader('Unique-ID')).toBe(uuid);
      expect(ev.getHeader('Caller-Caller-ID-Number')).toBe('1001');
      expect(ev.getHeader('Caller-Caller-ID-Name')).toBe('Alice');
      expect(ev.getHeader('Caller-Destination-Number')).toBe('2000');
      expect(ev.getHeader('Call-Direction')).toBe('inbound');
      expect(ev.getHeader('variable_ecallmgr_Account_ID')).toBe('acc1');
      expect(ev.getHeader('Core-UUID')).toBe(sw.coreUuid);
    }
    expect(c.getHeader('Channel-State')).toBe('CS_INIT');
    expect(c.getHeader('Answer-State')).toBe('ringing');
    expect(p.getHeader('Channel-State')).toBe('CS_EXECUTE');
    expect(Number(p.getHeader('Event-Sequence'))).toBeGreaterThan(Number(c.getHeader('Event-Sequence')));
  });

  it('goes create, park, answer, hangup, destroy in FreeSWITCH order, with a CDR on HANGUP_COMPLETE', async () => {
    const all = recordNextCall(sw);
    const id = await parkedCall();
    const done = await execute('answer', '', id);
    expect(done.getHeader('Application')).toBe('answer');
    expect(done.getHeader('Application-Response')).toBe('_none_');
    const hung = await execute('hangup', 'USER_BUSY', id);
    expect(hung.getHeader('Application')).toBe('hangup');
    const evs = await all;
    expect(names(evs)).toEqual([
      'CHANNEL_CREATE',
      'STATE:CS_INIT',
      'CALLSTATE:RINGING',
      'STATE:CS_ROUTING',
      'STATE:CS_EXECUTE',
      'CHANNEL_EXECUTE',
      'CHANNEL_PARK',
      'CHANNEL_EXECUTE',
      'CHANNEL_ANSWER',
      'CALLSTATE:ACTIVE',
      'CHANNEL_EXECUTE_COMPLETE',
      'CHANNEL_EXECUTE',
      'CHANNEL_HANGUP',
      'CALLSTATE:HANGUP',
      'CHANNEL_EXECUTE_COMPLETE',
      'CHANNEL_UNPARK',
      'CHANNEL_EXECUTE_COMPLETE',
      'STATE:CS_HANGUP',
      'STATE:CS_REPORTING',
      'CHANNEL_HANGUP_COMPLETE',
      'STATE:CS_DESTROY',
      'CHANNEL_DESTROY',
    ]);
    const complete = evs.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE') as SwitchEvent;
    expect(hdr(complete, 'Hangup-Cause')).toBe('USER_BUSY');
    expect(hdr(complete, 'variable_hangup_cause')).toBe('USER_BUSY');
    expect(hdr(complete, 'variable_billsec')).toBe('0');
    expect(hdr(complete, 'Answer-State')).toBe('hangup');
    const seqs = evs.map((e) => Number(hdr(e, 'Event-Sequence')));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const stamps = evs.map((e) => Number(hdr(e, 'Event-Date-Timestamp')));
    expect(stamps.every((t, i) => i === 0 || t > (stamps[i - 1] as number))).toBe(true);
    expect(sw.channel(id)).toBeUndefined();
  });

  it('ties CHANNEL_EXECUTE and _COMPLETE to the sendmsg Event-UUID as Application-UUID', async () => {
    const uuid = await parkedCall();
    const exec = nextSimEvent(sw, (e) => e.name === 'CHANNEL_EXECUTE' && hdr(e, 'Application') === 'set');
    let eventUuid = '';
    const complete = new Promise<ModeslEvent>(
      (resolve) => (eventUuid = conn.execute('set', 'foo=bar baz', uuid, resolve)),
    );
    expect(hdr(await exec, 'Application-UUID')).toBe(eventUuid);
    expect((await complete).getHeader('Application-UUID')).toBe(eventUuid);
    expect((await complete).getHeader('variable_foo')).toBe('bar baz');
    expect(await api('uuid_getvar', `${uuid} foo`)).toBe('bar baz');
  });
});

describe('media applications', () => {
  it('playback stops on a terminator digit; DTMF events carry the digit', async () => {
    const uuid = await parkedCall();
    await execute('set', 'playback_terminators=#', uuid);
    const started = nextSimEvent(sw, (e) => e.name === 'PLAYBACK_START');
    const dtmf = nextSimEvent(sw, (e) => e.name === 'DTMF');
    const done = execute('playback', '/sounds/welcome.wav', uuid);
    expect(hdr(await started, 'Playback-File-Path')).toBe('/sounds/welcome.wav');
    sw.pressDigits(uuid, '#');
    expect(hdr(await dtmf, 'DTMF-Digit')).toBe('#');
    const ev = await done;
    expect(ev.getHeader('Application-Response')).toBe('FILE PLAYED');
    expect(ev.getHeader('variable_playback_terminator_used')).toBe('#');
  });

  it('play_and_get_digits collects digits into the named variable', async () => {
    const uuid = await parkedCall();
    const started = nextSimEvent(sw, (e) => e.name === 'PLAYBACK_START');
    const done = execute(
      'play_and_get_digits',
      '1 4 1 5000 # /sounds/pin.wav silence_stream://0 pin \\d+',
      uuid,
    );
    await started;
    sw.pressDigits(uuid, '12#');
    expect((await done).getHeader('variable_pin')).toBe('12');
  });

  it('record runs from RECORD_START to RECORD_STOP, ended by #', async () => {
    const uuid = await parkedCall();
    const started = nextSimEvent(sw, (e) => e.name === 'RECORD_START');
    const stopped = nextSimEvent(sw, (e) => e.name === 'RECORD_STOP');
    const done = execute('record', '/tmp/msg.wav 60', uuid);
    expect(hdr(await started, 'Record-File-Path')).toBe('/tmp/msg.wav');
    sw.pressDigits(uuid, '#');
    expect(hdr(await stopped, 'Record-File-Path')).toBe('/tmp/msg.wav');
    expect((await done).getHeader('variable_record_ms')).toMatch(/^\d+$/);
  });

  it('a hangup during playback completes the playback, then the channel goes away', async () => {
    const uuid = await parkedCall();
    const started = nextSimEvent(sw, (e) => e.name === 'PLAYBACK_START');
    const done = execute('playback', '/sounds/long.wav', uuid);
    await started;
    sw.hangup(uuid, 'ORIGINATOR_CANCEL');
    expect((await done).getHeader('Hangup-Cause')).toBe('ORIGINATOR_CANCEL');
    await sw.whenDestroyed(uuid);
  });

  it('with event-lock a later sendmsg waits for the running application; without it, it runs nested', async () => {
    const uuid = await parkedCall();
    const order: string[] = [];
    const off = sw.onEvent(
      (e) =>
        e.uuid === uuid &&
        e.name.startsWith('CHANNEL_EXECUTE') &&
        hdr(e, 'Application') !== 'park' &&
        order.push(`${e.name === 'CHANNEL_EXECUTE' ? 'start' : 'end'}:${hdr(e, 'Application')}`),
    );
    const sleeping = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE' && hdr(e, 'Application') === 'sleep',
    );
    conn.send(`sendmsg ${uuid}`, {
      'call-command': 'execute',
      'execute-app-name': 'sleep',
      'execute-app-arg': '100',
      'event-lock': 'true',
    });
    await sleeping;
    await execute('set', 'a=1', uuid);
    expect(order).toEqual(['start:sleep', 'end:sleep', 'start:set', 'end:set']);
    order.length = 0;
    const sleeping2 = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE' && hdr(e, 'Application') === 'sleep',
    );
    const sleepDone = execute('sleep', '600000', uuid);
    await sleeping2;
    await execute('set', 'b=2', uuid);
    expect(order).toEqual(['start:sleep', 'start:set', 'end:set']);
    sw.hangup(uuid);
    await sleepDone;
    off();
    expect(order).toEqual(['start:sleep', 'start:set', 'end:set', 'end:sleep']);
  });
});

describe('application corner cases', () => {
  it('an unknown application completes at once with an -ERR response, so nobody waits forever', async () => {
    const uuid = await parkedCall();
    const ev = await execute('no_such_app', 'x', uuid);
    expect(ev.getHeader('Application-Response')).toBe('-ERR invalid application');
  });

  it('loops runs the application N times inside one EXECUTE/COMPLETE pair', async () => {
    const uuid = await parkedCall();
    let starts = 0;
    const off = sw.onEvent((e) => e.uuid === uuid && e.name === 'PLAYBACK_START' && starts++);
    const done = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE_COMPLETE' && hdr(e, 'Application') === 'playback',
    );
    conn.send(`sendmsg ${uuid}`, {
      'call-command': 'execute',
      'execute-app-name': 'playback',
      'execute-app-arg': 'silence_stream://5',
      loops: 3,
    });
    await done;
    off();
    expect(starts).toBe(3);
  });

  it('a long argument can be sent as a text/plain body', async () => {
    const uuid = await parkedCall();
    const value = 'a'.repeat(3000) + ' with spaces and ünïcode';
    const done = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE_COMPLETE' && hdr(e, 'Application') === 'set',
    );
    conn.send(
      `sendmsg ${uuid}\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\ncontent-length: ${Buffer.byteLength(`long=${value}`)}\n\nlong=${value}`.replace(
        /\n\n$/,
        '',
      ),
    );
    expect(hdr(await done, 'variable_long')).toBe(value);
  });
});

describe('event formats through modesl', () => {
  it.each(['plain', 'xml'] as const)('delivers %s events modesl can read', async (format) => {
    const got = new Promise<ModeslEvent>((r) => conn.once('esl::event::CHANNEL_PARK::*', r));
    await new Promise((r) => conn.events(format, ['CHANNEL_PARK'], r));
    const uuid = sw.placeCall({ from: '1001', to: '2000', callerIdName: 'Zoë Q' });
    const ev = await got;
    expect(ev.getHeader('Unique-ID')).toBe(uuid);
    expect(ev.getHeader('Caller-Caller-ID-Name')).toBe('Zoë Q');
  });
});

describe('bridging', () => {
  it('bridges to a registered endpoint: a B-leg, CHANNEL_BRIDGE, then UNBRIDGE when B hangs up', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    const uuid = await parkedCall('1001', '1002');
    const bleg = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_CREATE' && hdr(e, 'Call-Direction') === 'outbound',
    );
    const bridged = nextSimEvent(sw, (e) => e.name === 'CHANNEL_BRIDGE');
    const unbridged = nextSimEvent(sw, (e) => e.name === 'CHANNEL_UNBRIDGE');
    const done = execute('bridge', 'user/1002@example.com', uuid);
    const b = hdr(await bleg, 'Unique-ID') as string;
    expect(hdr(await bleg, 'Channel-Call-UUID')).toBe(uuid);
    expect(sw.answer(b)).toBe(true);
    const br = await bridged;
    expect(hdr(br, 'Unique-ID')).toBe(uuid);
    expect(hdr(br, 'Other-Leg-Unique-ID')).toBe(b);
    expect(hdr(br, 'Bridge-B-Unique-ID')).toBe(b);
    expect(sw.channel(uuid)?.answerState).toBe('answered');
    sw.hangup(b);
    expect(hdr(await unbridged, 'Bridge-B-Unique-ID')).toBe(b);
    const ev = await done;
    expect(ev.getHeader('variable_bridge_hangup_cause')).toBe('NORMAL_CLEARING');
    expect(sw.channel(uuid)?.state).toBe('CS_EXECUTE');
  });

  it('fails with USER_NOT_REGISTERED for an unknown user, and the A-leg stays up', async () => {
    const uuid = await parkedCall();
    const ev = await execute('bridge', 'user/9999', uuid);
    expect(ev.getHeader('Application-Response')).toBe('_none_');
    expect(ev.getHeader('variable_originate_disposition')).toBe('USER_NOT_REGISTERED');
    expect(sw.channel(uuid)?.hangupCause).toBeUndefined();
  });

  it('the A-leg hanging up hangs the bridged B-leg up', async () => {
    sw.registerEndpoint('1002');
    const uuid = await parkedCall();
    const bridged = nextSimEvent(sw, (e) => e.name === 'CHANNEL_BRIDGE');
    const done = execute('bridge', 'sofia/internal/1002@127.0.0.1', uuid);
    const b = hdr(await bridged, 'Other-Leg-Unique-ID') as string;
    const bGone = sw.whenDestroyed(b);
    sw.hangup(uuid, 'NORMAL_CLEARING');
    await done;
    await bGone;
    expect(sw.channelCount).toBe(0);
  });
});

describe('api commands', () => {
  it('originate rings a device and answers with +OK <uuid>, or -ERR <cause>', async () => {
    sw.registerEndpoint('1003');
    const ok = await new Promise<ModeslEvent>((r) =>
      conn.bgapi('originate', '{origination_caller_id_number=555}user/1003 &park()', null, r),
    );
    const uuid = ok
      .getBody()
      .trim()
      .replace(/^\+OK /, '');
    expect(sw.channel(uuid)?.answerState).toBe('answered');
    expect(sw.channel(uuid)?.direction).toBe('outbound');
    expect(await api('originate', 'user/nobody &park()')).toBe('-ERR USER_NOT_REGISTERED\n');
    sw.registerEndpoint('busy', { mode: 'busy' });
    expect(await api('originate', 'user/busy &park()')).toBe('-ERR USER_BUSY\n');
  });

  it('uuid_kill, uuid_exists, show channels as json', async () => {
    const uuid = await parkedCall();
    expect(await api('uuid_exists', uuid)).toBe('true');
    const shown = JSON.parse(await api('show', 'channels as json')) as {
      row_count: number;
      rows: Array<{ uuid: string; application: string }>;
    };
    expect(shown.row_count).toBe(1);
    expect(shown.rows[0]).toMatchObject({ uuid, application: 'park' });
    const gone = sw.whenDestroyed(uuid);
    expect(await api('uuid_kill', `${uuid} CALL_REJECTED`)).toBe('+OK\n');
    await gone;
    expect(await api('uuid_exists', uuid)).toBe('false');
    expect(await api('uuid_kill', uuid)).toBe('-ERR No such channel!\n');
    expect(JSON.parse(await api('show', 'channels as json'))).toEqual({ row_count: 0 });
  });
});
