/**
 * The simulator's `say`, `uuid_fileman` and `multiset` with a separator, driven through
 * modesl over loopback TCP as ecallmgr drives them (Kazoo's say, playseek and set).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { sayFiles } from '../../src/switch/apps.ts';
import { hdr, modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;
let events: SwitchEvent[];

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 40, recordMaxMs: 5_000 } }));
  conn = await modeslConnect(sw.port);
  events = [];
  sw.onEvent((e) => events.push(e));
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
});

const execute = (app: string, arg: string, uuid: string): Promise<ModeslEvent> =>
  new Promise((resolve) => conn.execute(app, arg, uuid, resolve));
const api = (cmd: string, args = ''): Promise<string> =>
  new Promise((resolve) => conn.api(cmd, args, (e) => resolve(e.getBody())));

async function parkedCall(): Promise<string> {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await parked;
  return uuid;
}

const played = (uuid: string, name: string): Array<string | undefined> =>
  events.filter((e) => e.uuid === uuid && e.name === name).map((e) => hdr(e, 'Playback-File-Path'));

describe('say', () => {
  it('plays the files mod_say_en would, one PLAYBACK_START/STOP each, then completes', async () => {
    const uuid = await parkedCall();
    const done = await execute('say', 'en messages pronounced 42', uuid);
    expect(done.getHeader('Application')).toBe('say');
    expect(done.getHeader('Application-Data')).toBe('en messages pronounced 42');
    expect(played(uuid, 'PLAYBACK_START')).toEqual(['digits/40.wav', 'digits/2.wav']);
    expect(played(uuid, 'PLAYBACK_STOP')).toEqual(['digits/40.wav', 'digits/2.wav']);
  });

  it('iterated says each digit; longer text takes more files (its length is in proportion)', () => {
    expect(sayFiles('number', 'iterated', '305')).toEqual(['digits/3.wav', 'digits/0.wav', 'digits/5.wav']);
    expect(sayFiles('number', 'pronounced', '2014000')).toEqual([
      'digits/2.wav',
      'digits/million.wav',
      'digits/14.wav',
      'digits/thousand.wav',
    ]);
    expect(sayFiles('name_spelled', 'iterated', 'ab')).toEqual(['ascii/97.wav', 'ascii/98.wav']);
  });

  it('a terminator digit stops it before the remaining files', async () => {
    const uuid = await parkedCall();
    await execute('set', 'playback_terminators=#', uuid);
    const started = nextSimEvent(sw, (e) => e.uuid === uuid && e.name === 'PLAYBACK_START');
    const done = execute('say', 'en number iterated 123456789', uuid);
    await started;
    sw.pressDigits(uuid, '#');
    const ev = await done;
    expect(ev.getHeader('variable_playback_terminator_used')).toBe('#');
    expect(played(uuid, 'PLAYBACK_START').length).toBeLessThan(9);
  });
});

describe('uuid_fileman', () => {
  it('+OK on a channel that plays and on one that does not; -ERR for no channel', async () => {
    const uuid = await parkedCall();
    expect(await api('uuid_fileman', `${uuid} seek:+1000`)).toBe('+OK\n');
    const started = nextSimEvent(sw, (e) => e.uuid === uuid && e.name === 'PLAYBACK_START');
    const done = execute('playback', 'silence_stream://300', uuid);
    await started;
    expect(await api('uuid_fileman', `${uuid} seek:-500`)).toBe('+OK\n');
    expect((await done).getHeader('Application-Response')).toBe('FILE PLAYED');
    expect(await api('uuid_fileman', 'no-such-uuid seek:+1')).toBe('-ERR No such channel!\n');
    expect(await api('uuid_fileman', uuid)).toMatch(/^-ERR Usage/);
  });
});

describe('multiset', () => {
  it('takes ^^<sep> lists (values with spaces) as well as space-separated pairs', async () => {
    const uuid = await parkedCall();
    await execute('multiset', '^^|ecallmgr_A=1|ecallmgr_B=two words', uuid);
    await execute('multiset', 'c=3 d=4', uuid);
    expect(sw.getVar(uuid, 'ecallmgr_A')).toBe('1');
    expect(sw.getVar(uuid, 'ecallmgr_B')).toBe('two words');
    expect(sw.getVar(uuid, 'd')).toBe('4');
  });
});
