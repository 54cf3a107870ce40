/**
 * Taking legs out of a running bridge on the simulator (bridge-exit.ts), driven through
 * modesl over loopback TCP with the api commands Kazoo's ecallmgr sends: `uuid_park
 * <a-leg>` (hangup with Other-Leg-Only) and `uuid_transfer <a-leg> [-bleg|-both] park:
 * inline` (unbridge). What FreeSWITCH's switch_ivr_bridge.c does: CHANNEL_UNBRIDGE on the
 * A-leg, the bridge application completes, a B-leg left behind hangs up NORMAL_CLEARING, an
 * A-leg left behind follows hangup_after_bridge, transferred legs are parked and take
 * further applications.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { hdr, modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;
let seen: SwitchEvent[];
let off: () => void;

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 50, recordMaxMs: 5_000 } }));
  conn = await modeslConnect(sw.port);
  seen = [];
  off = sw.onEvent((ev) => seen.push(ev));
});
afterEach(async () => {
  off();
  await modeslClose(conn);
  await sw.close();
});

const execute = (app: string, arg: string, uuid: string): Promise<ModeslEvent> =>
  new Promise((resolve) => conn.execute(app, arg, uuid, resolve));
const api = (cmd: string, args = ''): Promise<string> =>
  new Promise((resolve) => conn.api(cmd, args, (e) => resolve(e.getBody())));

/** The events of one leg, as `NAME` or `NAME:Application`, from the UNBRIDGE on. */
const after = (uuid: string, from: SwitchEvent): string[] =>
  seen
    .slice(seen.indexOf(from))
    .filter((e) => e.uuid === uuid && !['CHANNEL_STATE', 'CHANNEL_CALLSTATE'].includes(e.name))
    .map((e) => (hdr(e, 'Application') === undefined ? e.name : `${e.name}:${hdr(e, 'Application')}`));

/** A parked call from 1001 bridged (as Kazoo's xferext sets it up) to the registered 1002. */
async function bridgedCall(): Promise<{ a: string; b: string; bridge: Promise<ModeslEvent> }> {
  sw.registerEndpoint('1002');
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const a = sw.placeCall({ from: '1001', to: '1002' });
  await parked;
  await execute('set', 'hangup_after_bridge=true', a);
  const bridged = nextSimEvent(sw, (e) => e.name === 'CHANNEL_BRIDGE');
  const bridge = execute('bridge', 'sofia/internal/1002@127.0.0.1', a);
  const b = hdr(await bridged, 'Other-Leg-Unique-ID') as string;
  return { a, b, bridge };
}

const unbridgeOf = (a: string): Promise<SwitchEvent> =>
  nextSimEvent(sw, (e) => e.name === 'CHANNEL_UNBRIDGE' && e.uuid === a);

describe('uuid_park on a bridged A-leg (Kazoo: hangup Other-Leg-Only)', () => {
  it('unbridges, hangs the B-leg up, completes the bridge and parks the A-leg, which plays on', async () => {
    const { a, b, bridge } = await bridgedCall();
    const unbridged = unbridgeOf(a);
    const bGone = sw.whenDestroyed(b);
    expect(await api('uuid_park', a)).toBe('+OK\n');
    const unbridge = await unbridged;
    expect(hdr(unbridge, 'Bridge-B-Unique-ID')).toBe(b);
    const done = await bridge;
    expect(done.getHeader('Application')).toBe('bridge');
    expect(done.getHeader('Application-Response')).toBe('_none_');
    expect(done.getHeader('variable_originate_disposition')).toBe('SUCCESS');
    await bGone;
    const hangup = seen.find((e) => e.uuid === b && e.name === 'CHANNEL_HANGUP');
    expect(hdr(hangup!, 'Hangup-Cause')).toBe('NORMAL_CLEARING');
    // The A-leg is still up, parked, and takes further applications.
    const played = await execute('playback', 'ivr/hello.wav', a);
    expect(played.getHeader('Application-Response')).toBe('FILE PLAYED');
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
    expect(after(a, unbridge)).toEqual([
      'CHANNEL_UNBRIDGE',
      'CHANNEL_EXECUTE_COMPLETE:bridge',
      'CHANNEL_UNPARK',
      'CHANNEL_EXECUTE_COMPLETE:park',
      'CHANNEL_EXECUTE:park',
      'CHANNEL_PARK',
      'CHANNEL_EXECUTE:playback',
      'PLAYBACK_START',
      'PLAYBACK_STOP',
      'CHANNEL_EXECUTE_COMPLETE:playback',
    ]);
    expect(after(b, unbridge)).toEqual(['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);
  });
});

describe('uuid_transfer out of a bridge (Kazoo: unbridge)', () => {
  it('-both: both legs leave the bridge and are parked; both stay up and take applications', async () => {
    const { a, b, bridge } = await bridgedCall();
    const unbridged = unbridgeOf(a);
    const bParked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK' && e.uuid === b);
    expect(await api('uuid_transfer', `${a} -both park: inline`)).toBe('+OK\n');
    const unbridge = await unbridged;
    await bridge;
    await bParked;
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
    expect(sw.channel(b)?.hangupCause).toBeUndefined();
    await execute('playback', 'ivr/to-b.wav', b);
    await execute('playback', 'ivr/to-a.wav', a);
    expect(after(b, unbridge)).toEqual([
      'CHANNEL_EXECUTE:park',
      'CHANNEL_PARK',
      'CHANNEL_EXECUTE:playback',
      'PLAYBACK_START',
      'PLAYBACK_STOP',
      'CHANNEL_EXECUTE_COMPLETE:playback',
    ]);
    expect(after(a, unbridge).slice(0, 6)).toEqual([
      'CHANNEL_UNBRIDGE',
      'CHANNEL_EXECUTE_COMPLETE:bridge',
      'CHANNEL_UNPARK',
      'CHANNEL_EXECUTE_COMPLETE:park',
      'CHANNEL_EXECUTE:park',
      'CHANNEL_PARK',
    ]);
    // Unbridged: neither names the other as its bridged leg any more.
    expect(sw.channel(a)?.otherLeg).toBeUndefined();
    expect(sw.channel(b)?.otherLeg).toBeUndefined();
    expect(sw.channel(b)?.destinationNumber).toBe('park:');
  });

  it('no leg flag: the A-leg is parked and the B-leg left behind hangs up', async () => {
    const { a, b, bridge } = await bridgedCall();
    const bGone = sw.whenDestroyed(b);
    await api('uuid_transfer', `${a}  park: inline`);
    await bridge;
    await bGone;
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
    expect(
      hdr(
        seen.find((e) => e.uuid === b && e.name === 'CHANNEL_HANGUP')!,
        'Hangup-Cause',
      ),
    ).toBe('NORMAL_CLEARING');
  });

  it('-bleg: the B-leg is parked and the A-leg left behind hangs up (hangup_after_bridge)', async () => {
    const { a, b, bridge } = await bridgedCall();
    const aGone = sw.whenDestroyed(a);
    const bParked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK' && e.uuid === b);
    await api('uuid_transfer', `${a} -bleg park: inline`);
    await bridge;
    await aGone;
    await bParked;
    expect(sw.channel(b)?.hangupCause).toBeUndefined();
    expect(seen.filter((e) => e.name === 'CHANNEL_UNBRIDGE').map((e) => e.uuid)).toEqual([a]);
  });

  it('a channel in no bridge is simply parked, as before', async () => {
    const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
    const a = sw.placeCall({ from: '1001', to: '2000' });
    await parked;
    expect(await api('uuid_park', a)).toBe('+OK\n');
    expect(await api('uuid_transfer', `${a} -both park: inline`)).toBe('+OK\n');
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
  });
});
