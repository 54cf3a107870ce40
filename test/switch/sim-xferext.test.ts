/**
 * sendmsg `call-command: xferext` on the simulator, sent as Kazoo 4.3's ecallmgr sends a
 * bridge (ecallmgr_util:send_cmd "xferext": one `application: <app> <arg>` header per
 * application, in order) through EslConnection.xferext over loopback TCP. FreeSWITCH's
 * switch_ivr_parse_event builds an extension of them and runs it on the channel: each
 * application with its CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE, in order; a channel that
 * hangs up (hangup_after_bridge) runs nothing more of it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EslConnection } from '../../src/switch/esl-connection.ts';
import { EslChannelGoneError } from '../../src/switch/esl-errors.ts';
import type { Switch } from '../../src/switch/switch.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';
import { hdr, nextSimEvent, startSwitch, watchedLogger } from './helpers.ts';

const MASQUERADE =
  'Event-Name=CUSTOM,Event-Subclass=kazoo::masquerade,kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=bridge';

let sw: Switch;
let esl: EslConnection;
let seen: SwitchEvent[];
let sendmsgs: Array<{ uuid: string; command: string; reply: string }>;
const offs: Array<() => void> = [];

beforeEach(async () => {
  ({ sw } = await startSwitch({ media: { playbackMs: 30 } }));
  esl = new EslConnection({ port: sw.port, logger: watchedLogger().logger });
  await esl.start();
  await esl.subscribe(['CHANNEL_EXECUTE', 'CHANNEL_DESTROY', 'CUSTOM']);
  seen = [];
  sendmsgs = [];
  offs.push(
    sw.onEvent((ev) => seen.push(ev)),
    sw.onSendmsg((m) => sendmsgs.push(m)),
  );
});
afterEach(async () => {
  for (const off of offs.splice(0)) off();
  await esl.close();
  await sw.close();
});

async function parkedCall(): Promise<string> {
  const parked = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const a = sw.placeCall({ from: '1001', to: '1002' });
  await parked;
  return a;
}

/** The executions of one leg, as `NAME:Application`, and the CUSTOM events it fires. */
const executions = (uuid: string): string[] =>
  seen
    .filter(
      (e) => e.uuid === uuid && ['CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CUSTOM'].includes(e.name),
    )
    .filter((e) => hdr(e, 'Application') !== 'park')
    .map((e) =>
      e.name === 'CUSTOM' ? `CUSTOM:${hdr(e, 'Event-Subclass')}` : `${e.name}:${hdr(e, 'Application')}`,
    );

describe('sendmsg xferext', () => {
  it('runs the applications of the extension in order, each with its events, from one sendmsg', async () => {
    const a = await parkedCall();
    const done = await esl.xferext(a, [
      ['set', 'ecallmgr_Account-ID=acct-1'],
      ['playback', 'ivr/hello.wav'],
      ['event', MASQUERADE],
    ]);
    expect(done.headers.Application).toBe('event');
    expect(sw.getVar(a, 'ecallmgr_Account-ID')).toBe('acct-1');
    expect(executions(a)).toEqual([
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE_COMPLETE:set',
      'CHANNEL_EXECUTE:playback',
      'CHANNEL_EXECUTE_COMPLETE:playback',
      'CHANNEL_EXECUTE:event',
      'CUSTOM:kazoo::masquerade',
      'CHANNEL_EXECUTE_COMPLETE:event',
    ]);
    const appUuids = seen
      .filter(
        (e) => e.uuid === a && e.name === 'CHANNEL_EXECUTE_COMPLETE' && hdr(e, 'Application') !== 'park',
      )
      .map((e) => hdr(e, 'Application-UUID'));
    expect(new Set(appUuids).size).toBe(3);
    expect(sendmsgs).toEqual([{ uuid: a, command: 'xferext', reply: '+OK' }]);
    // The channel is still up and parked: it takes further applications.
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
  });

  it('abandons the rest of the extension when the bridge hangs the channel up (hangup_after_bridge)', async () => {
    sw.registerEndpoint('1002');
    const a = await parkedCall();
    const bridged = nextSimEvent(sw, (e) => e.name === 'CHANNEL_BRIDGE' && e.uuid === a);
    const run = esl.xferext(a, [
      ['set', 'continue_on_fail=true'],
      ['set', 'hangup_after_bridge=true'],
      ['bridge', 'sofia/internal/1002@127.0.0.1'],
      ['event', MASQUERADE],
    ]);
    const b = hdr(await bridged, 'Other-Leg-Unique-ID') as string;
    const aGone = sw.whenDestroyed(a);
    sw.hangup(b, 'NORMAL_CLEARING');
    await expect(run).rejects.toBeInstanceOf(EslChannelGoneError);
    await aGone;
    expect(executions(a)).toEqual([
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE_COMPLETE:set',
      'CHANNEL_EXECUTE:set',
      'CHANNEL_EXECUTE_COMPLETE:set',
      'CHANNEL_EXECUTE:bridge',
      'CHANNEL_EXECUTE_COMPLETE:bridge',
    ]);
    expect(sw.channel(a)).toBeUndefined();
    expect(sendmsgs).toEqual([{ uuid: a, command: 'xferext', reply: '+OK' }]);
  });

  it('a failed bridge with continue_on_fail goes on to the next application', async () => {
    const a = await parkedCall();
    const done = await esl.xferext(a, [
      ['set', 'continue_on_fail=true'],
      ['bridge', 'sofia/internal/1099@127.0.0.1'],
      ['event', MASQUERADE],
    ]);
    expect(done.headers['Application-Data']).toBe(MASQUERADE);
    expect(done.headers.variable_originate_disposition).not.toBe('SUCCESS');
    expect(executions(a).slice(-3)).toEqual([
      'CHANNEL_EXECUTE:event',
      'CUSTOM:kazoo::masquerade',
      'CHANNEL_EXECUTE_COMPLETE:event',
    ]);
  });

  it('refuses an xferext with no application', async () => {
    const a = await parkedCall();
    await expect(esl.command(`sendmsg ${a}`, { 'call-command': 'xferext' })).rejects.toThrow(
      /no application in xferext/,
    );
  });
});
