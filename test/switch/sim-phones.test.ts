/**
 * Scripted phones and the media/originate details ecallmgr reads, over modesl against the
 * simulator: answer after N ms, refuse with a SIP code (the code and mod_sofia's cause on
 * the channel), never answer, hang up / send DTMF once answered, per-call overrides,
 * originate with origination_uuid, record length, tones.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import { mediaMs, toneMs } from '../../src/switch/apps.ts';
import { modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 5_000, recordMaxMs: 5_000 } }));
  conn = await modeslConnect(sw.port);
  await new Promise((r) => conn.events('plain', ['ALL'], r));
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
});

const execute = (app: string, arg: string, uuid: string): Promise<ModeslEvent> =>
  new Promise((resolve) => conn.execute(app, arg, uuid, resolve));
const api = (cmd: string, args = ''): Promise<string> =>
  new Promise((resolve) => conn.api(cmd, args, (e) => resolve(e.getBody())));
/** The next event of that name seen by the modesl client, on the channel `uuid` if given. */
const wireEvent = (name: string, match: (e: ModeslEvent) => boolean = () => true): Promise<ModeslEvent> =>
  new Promise((resolve) => {
    const on = (e: ModeslEvent): void => {
      if (!match(e)) return;
      conn.removeListener(`esl::event::${name}::*`, on);
      resolve(e);
    };
    conn.on(`esl::event::${name}::*`, on);
  });
const bLegEvent = (name: string): Promise<ModeslEvent> =>
  wireEvent(name, (e) => e.getHeader('Call-Direction') === 'outbound');

async function parkedCall(from = '1001', to = '1002'): Promise<string> {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from, to });
  await parked;
  return uuid;
}

describe('a phone that refuses', () => {
  it.each([
    [486, 'USER_BUSY'],
    [480, 'NO_USER_RESPONSE'],
    [603, 'CALL_REJECTED'],
  ])(
    'with SIP %i: the B-leg hangs up with %s and the SIP code, the A-leg gets the code for Hangup-Code',
    async (code, cause) => {
      sw.registerEndpoint('1002', { mode: 'reject', rejectSipCode: code });
      const a = await parkedCall();
      const bDone = bLegEvent('CHANNEL_HANGUP_COMPLETE');
      const done = await execute('bridge', 'user/1002', a);
      const b = await bDone;
      expect(b.getHeader('Hangup-Cause')).toBe(cause);
      expect(b.getHeader('variable_sip_term_status')).toBe(String(code));
      expect(b.getHeader('variable_proto_specific_hangup_cause')).toBe(`sip:${code}`);
      expect(b.getHeader('variable_sip_hangup_disposition')).toBe('recv_refuse');
      expect(done.getHeader('variable_originate_disposition')).toBe(cause);
      expect(done.getHeader('variable_last_bridge_proto_specific_hangup_cause')).toBe(`sip:${code}`);
      expect(sw.channel(a)?.answerState).toBe('ringing');
    },
  );

  it('a manual phone refused through the control API with a SIP code: the same cause and code', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    const a = await parkedCall();
    const ringing = bLegEvent('CHANNEL_PROGRESS');
    const done = execute('bridge', 'user/1002', a);
    const b = (await ringing).getHeader('Unique-ID') ?? '';
    const bDone = bLegEvent('CHANNEL_HANGUP_COMPLETE');
    expect(sw.reject(b, undefined, 480)).toBe(true);
    expect((await bDone).getHeader('variable_sip_term_status')).toBe('480');
    expect((await done).getHeader('variable_originate_disposition')).toBe('NO_USER_RESPONSE');
  });

  it('--busy is 486 USER_BUSY', async () => {
    sw.registerEndpoint('1002', { mode: 'busy' });
    const bDone = bLegEvent('CHANNEL_HANGUP_COMPLETE');
    expect(await api('originate', 'user/1002 &park()')).toBe('-ERR USER_BUSY\n');
    expect((await bDone).getHeader('variable_sip_term_status')).toBe('486');
  });
});

describe('a phone that answers', () => {
  it('after N ms: ringing (CHANNEL_PROGRESS) comes before its CHANNEL_ANSWER, then the bridge', async () => {
    sw.registerEndpoint('1002', { answerAfterMs: 50 });
    const a = await parkedCall();
    const seen: string[] = [];
    const off = sw.onEvent((e) => {
      if (['CHANNEL_PROGRESS', 'CHANNEL_ANSWER', 'CHANNEL_BRIDGE'].includes(e.name))
        seen.push(`${e.name}:${e.uuid === a ? 'A' : 'B'}`);
    });
    const bridged = wireEvent('CHANNEL_BRIDGE');
    void execute('bridge', 'user/1002', a);
    await bridged;
    off();
    expect(seen).toEqual(['CHANNEL_PROGRESS:B', 'CHANNEL_ANSWER:B', 'CHANNEL_ANSWER:A', 'CHANNEL_BRIDGE:A']);
  });

  it('its B-leg names the A-leg from CHANNEL_CREATE on (Other-Leg-Unique-ID, Other-Type originator)', async () => {
    sw.registerEndpoint('1002');
    const a = await parkedCall();
    const created = bLegEvent('CHANNEL_CREATE');
    const answered = bLegEvent('CHANNEL_ANSWER');
    const bridged = wireEvent('CHANNEL_BRIDGE');
    void execute('bridge', 'user/1002', a);
    for (const e of [await created, await answered]) {
      expect(e.getHeader('Other-Leg-Unique-ID')).toBe(a);
      expect(e.getHeader('Other-Type')).toBe('originator');
    }
    expect((await bridged).getHeader('Other-Type')).toBe('originatee');
  });

  it('and hangs up after N ms: a BYE from the phone (recv_bye), the A-leg unbridges', async () => {
    sw.registerEndpoint('1002', { hangupAfterMs: 30 });
    const a = await parkedCall();
    const unbridged = wireEvent('CHANNEL_UNBRIDGE');
    const bDone = bLegEvent('CHANNEL_HANGUP_COMPLETE');
    const done = await execute('bridge', 'user/1002', a);
    expect(done.getHeader('variable_bridge_hangup_cause')).toBe('NORMAL_CLEARING');
    expect((await unbridged).getHeader('Unique-ID')).toBe(a);
    const b = await bDone;
    expect(b.getHeader('variable_sip_hangup_disposition')).toBe('recv_bye');
    expect(b.getHeader('variable_sip_term_status')).toBe('200');
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
  });

  it('and sends DTMF at the given times: DTMF events on its leg, in order', async () => {
    sw.registerEndpoint('1002', {
      dtmf: [
        { atMs: 10, digits: '12' },
        { atMs: 40, digits: '#' },
      ],
      hangupAfterMs: 80,
    });
    const a = await parkedCall();
    const digits: string[] = [];
    conn.on('esl::event::DTMF::*', (e: ModeslEvent) => {
      if (e.getHeader('Call-Direction') === 'outbound') digits.push(e.getHeader('DTMF-Digit') ?? '');
    });
    await execute('bridge', 'user/1002', a);
    expect(digits).toEqual(['1', '2', '#']);
  });

  it('a calling phone sends its DTMF into the call once answered (an IVR reads it)', async () => {
    sw.registerEndpoint('1001', { dtmf: [{ atMs: 300, digits: '42#' }] });
    const a = await parkedCall('1001', '*97');
    // sent back to back: the prompt runs right after the answer that starts the phone's clock
    void execute('answer', '', a);
    await execute('play_and_get_digits', '1 4 1 5000 # silence_stream://1 silence_stream://0 pin', a);
    expect(sw.channel(a)?.variables.pin).toBe('42');
  });
});

describe('a phone that never answers', () => {
  it('rings until the caller gives up: NO_ANSWER', async () => {
    sw.registerEndpoint('1002', { mode: 'noanswer' });
    const a = await parkedCall();
    await execute('set', 'call_timeout=1', a);
    const done = await execute('bridge', 'user/1002', a);
    expect(done.getHeader('variable_originate_disposition')).toBe('NO_ANSWER');
  });
});

describe('per-call scripts', () => {
  it('scriptNextCall overrides the next call only', async () => {
    sw.registerEndpoint('1002');
    expect(sw.scriptNextCall('1002', { rejectSipCode: 486 })).toBe(true);
    expect(sw.scriptNextCall('ghost', { mode: 'busy' })).toBe(false);
    expect(await api('originate', 'user/1002 &park()')).toBe('-ERR USER_BUSY\n');
    expect(await api('originate', 'user/1002 &park()')).toMatch(/^\+OK /);
  });

  it("placeCall's callee script applies to the phone called", async () => {
    sw.registerEndpoint('1002');
    const a = sw.placeCall({ from: '1001', to: '1002', callee: { mode: 'busy' } });
    const done = await execute('bridge', 'user/1002', a);
    expect(done.getHeader('variable_originate_disposition')).toBe('USER_BUSY');
  });
});

describe('originate', () => {
  it('gives the new leg origination_uuid and the variables; create_uuid hands out a UUID', async () => {
    sw.registerEndpoint('1001');
    const uuid = (await api('create_uuid')).trim();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    const created = wireEvent('CHANNEL_CREATE');
    const originated = wireEvent('CHANNEL_ORIGINATE');
    const parked = wireEvent('CHANNEL_PARK');
    const job = await new Promise<ModeslEvent>((r) =>
      conn.bgapi(
        'originate',
        `{origination_uuid=${uuid},ecallmgr_Account-ID=acc1}user/1001 &park()`,
        null,
        r,
      ),
    );
    expect(job.getBody()).toBe(`+OK ${uuid}\n`);
    const c = await created;
    expect(c.getHeader('Unique-ID')).toBe(uuid);
    expect(c.getHeader('Call-Direction')).toBe('outbound');
    expect(c.getHeader('variable_ecallmgr_Account-ID')).toBe('acc1');
    expect((await originated).getHeader('Unique-ID')).toBe(uuid);
    expect((await parked).getHeader('Unique-ID')).toBe(uuid);
  });
});

describe('media', () => {
  it('record ends with RECORD_STOP carrying variable_record_ms (ecallmgr: Length) and the terminator', async () => {
    const a = await parkedCall();
    await execute('answer', '', a);
    const stop = wireEvent('RECORD_STOP');
    const started = wireEvent('RECORD_START');
    const done = execute('record', '/tmp/x.wav 20', a);
    await started;
    sw.pressDigits(a, '#');
    const ev = await stop;
    await done;
    expect(ev.getHeader('Record-File-Path')).toBe('/tmp/x.wav');
    const ms = Number(ev.getHeader('variable_record_ms'));
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ev.getHeader('variable_record_seconds')).toBe(String(Math.floor(ms / 1000)));
    expect(ev.getHeader('variable_playback_terminator_used')).toBe('#');
  });

  it('gentones and playback tone_stream:// play their tones, then complete', async () => {
    const a = await parkedCall();
    const g = await execute('gentones', '%(40,10,350,440)|2', a);
    expect(g.getHeader('Application-Response')).toBe('+OK');
    const stop = wireEvent('PLAYBACK_STOP');
    const p = await execute('playback', 'tone_stream://%(20,0,425);L=2', a);
    expect(p.getHeader('Application-Response')).toBe('FILE PLAYED');
    expect((await stop).getHeader('Playback-Status')).toBe('done');
  });
});

describe('media lengths', () => {
  const media = { playbackMs: 5_000, recordMaxMs: 5_000 };
  it('tones last as long as their TGML says; file_string:// the sum of its parts', () => {
    expect(toneMs('%(40,10,350,440)')).toBe(50);
    expect(toneMs('L=3;%(100,100,350,440)')).toBe(600);
    expect(toneMs('v=-7;%(100,0,941.0,1477.0);v=-7;>=2;+=.1;%(1000, 0, 640)')).toBe(1100);
    expect(toneMs('L=-1;%(400,200,400,450)')).toBe(60_000);
    expect(mediaMs('tone_stream://%(20,0,425);L=2', media)).toBe(40);
    expect(mediaMs('file_string://silence_stream://10!tone_stream://%(10,0,440)!/a.wav', media)).toBe(5_020);
    expect(mediaMs('/prompts/hello.wav', media)).toBe(5_000);
  });
});
