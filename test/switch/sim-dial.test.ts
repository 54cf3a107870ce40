/**
 * Dial strings on the simulator as FreeSWITCH rings them (switch_ivr_originate.c), seen
 * through modesl over loopback TCP: `{}` / `[]` variables on the B-legs, `,` legs ringing
 * at once with the first answer winning, `|` groups in turn, timeouts; the B-leg's last
 * Other-Leg-Unique-ID after an unbridge; api commands looked up as own keys only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import { modeslClose, modeslConnect, nextSimEvent, startSwitch } from './helpers.ts';

let sw: Switch;
let conn: Connection;
let seen: ModeslEvent[];
let waiters: Array<() => void>;

beforeEach(async () => {
  ({ sw } = await startSwitch());
  conn = await modeslConnect(sw.port);
  seen = [];
  waiters = [];
  conn.on('esl::event::**', (e: ModeslEvent) => {
    seen.push(e);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((r) => conn.events('plain', 'ALL', r));
});
afterEach(async () => {
  await modeslClose(conn);
  await sw.close();
});

const h = (e: ModeslEvent, name: string): string | undefined => e.getHeader(name) ?? undefined;

/** The first event (seen or to come) that matches. */
async function event(match: (e: ModeslEvent) => boolean): Promise<ModeslEvent> {
  for (;;) {
    const found = seen.find(match);
    if (found !== undefined) return found;
    await new Promise<void>((r) => waiters.push(r));
  }
}
const named = (name: string, uuid?: string) => (e: ModeslEvent) =>
  h(e, 'Event-Name') === name && (uuid === undefined || h(e, 'Unique-ID') === uuid);
const legFor = (user: string) => (e: ModeslEvent) =>
  h(e, 'Event-Name') === 'CHANNEL_CREATE' &&
  h(e, 'Call-Direction') === 'outbound' &&
  h(e, 'Caller-Destination-Number') === user;
const index = (e: ModeslEvent): number => seen.indexOf(e);

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

describe('dial-string variables', () => {
  it('puts {} variables on every B-leg and [] ones on their leg, [] winning, so the B-leg events carry them', async () => {
    sw.registerEndpoint('1002');
    const a = await parkedCall();
    const done = execute(
      'bridge',
      '{ecallmgr_Account-ID=acc1,ecallmgr_Owner-ID=own1,ignore_early_media=true}[ecallmgr_Owner-ID=own2,sip_h_X-Leg=a\\,b]user/1002',
      a,
    );
    const create = await event(legFor('1002'));
    expect(h(create, 'variable_ecallmgr_Account-ID')).toBe('acc1');
    expect(h(create, 'variable_ecallmgr_Owner-ID')).toBe('own2');
    expect(h(create, 'variable_ignore_early_media')).toBe('true');
    expect(h(create, 'variable_sip_h_X-Leg')).toBe('a,b');
    const b = h(create, 'Unique-ID') as string;
    sw.hangup(a);
    const destroy = await event(named('CHANNEL_DESTROY', b));
    expect(h(destroy, 'variable_ecallmgr_Account-ID')).toBe('acc1');
    await done;
  });

  it('origination_uuid in [] names the B-leg', async () => {
    sw.registerEndpoint('1002');
    const a = await parkedCall();
    const done = execute('bridge', '[origination_uuid=b-leg-uuid-1]user/1002', a);
    expect(h(await event(legFor('1002')), 'Unique-ID')).toBe('b-leg-uuid-1');
    expect(h(await event(named('CHANNEL_BRIDGE', a)), 'Other-Leg-Unique-ID')).toBe('b-leg-uuid-1');
    sw.hangup(a);
    await done;
  });
});

describe('simultaneous and sequential legs', () => {
  it('rings `,` legs at once; the first to answer is bridged and the others are cancelled with LOSE_RACE', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    sw.registerEndpoint('1003', { mode: 'manual' });
    const a = await parkedCall();
    const done = execute('bridge', 'user/1002,user/1003', a);
    const l2 = await event(legFor('1002'));
    const l3 = await event(legFor('1003'));
    expect(sw.channel(h(l2, 'Unique-ID') as string)?.answerState).toBe('ringing');
    expect(sw.answer(h(l3, 'Unique-ID') as string)).toBe(true);
    const lost = await event(named('CHANNEL_HANGUP', h(l2, 'Unique-ID')));
    expect(h(lost, 'Hangup-Cause')).toBe('LOSE_RACE');
    const bridged = await event(named('CHANNEL_BRIDGE', a));
    expect(h(bridged, 'Other-Leg-Unique-ID')).toBe(h(l3, 'Unique-ID'));
    sw.hangup(a);
    expect(h(await done, 'variable_originate_disposition')).toBe('SUCCESS');
  });

  it('rings `|` groups one after another: the second only once the first failed', async () => {
    sw.registerEndpoint('1002', { mode: 'busy' });
    sw.registerEndpoint('1003');
    const a = await parkedCall();
    const done = execute('bridge', 'user/1002|user/1003', a);
    const l2 = await event(legFor('1002'));
    const busy = await event(named('CHANNEL_HANGUP', h(l2, 'Unique-ID')));
    const l3 = await event(legFor('1003'));
    expect(index(l3)).toBeGreaterThan(index(busy));
    expect(h(await event(named('CHANNEL_BRIDGE', a)), 'Other-Leg-Unique-ID')).toBe(h(l3, 'Unique-ID'));
    sw.hangup(a);
    await done;
  });

  it('when every leg fails, the bridge fails with the cause', async () => {
    sw.registerEndpoint('1002', { mode: 'busy' });
    const a = await parkedCall();
    const ev = await execute('bridge', 'user/1002,user/9999', a);
    expect(['USER_BUSY', 'USER_NOT_REGISTERED']).toContain(h(ev, 'variable_originate_disposition'));
    expect(sw.channel(a)?.hangupCause).toBeUndefined();
  });

  it('the A-leg hanging up cancels every ringing leg with ORIGINATOR_CANCEL', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    sw.registerEndpoint('1003', { mode: 'manual' });
    const a = await parkedCall();
    const done = execute('bridge', 'user/1002,user/1003', a);
    const l2 = await event(legFor('1002'));
    const l3 = await event(legFor('1003'));
    sw.hangup(a);
    await done;
    for (const leg of [l2, l3])
      expect(h(await event(named('CHANNEL_HANGUP', h(leg, 'Unique-ID'))), 'Hangup-Cause')).toBe(
        'ORIGINATOR_CANCEL',
      );
  });
});

describe('timeouts', () => {
  it('call_timeout ends the ringing of every leg with NO_ANSWER', async () => {
    sw.registerEndpoint('1002', { mode: 'noanswer' });
    sw.registerEndpoint('1003', { mode: 'manual' });
    const a = await parkedCall();
    await execute('set', 'call_timeout=1', a);
    const ev = await execute('bridge', 'user/1002,user/1003', a);
    expect(h(ev, 'variable_originate_disposition')).toBe('NO_ANSWER');
    const hangups = [];
    for (const user of ['1002', '1003']) {
      const leg = await event(legFor(user));
      const hangup = await event(named('CHANNEL_HANGUP', h(leg, 'Unique-ID')));
      expect(h(hangup, 'Hangup-Cause')).toBe('NO_ANSWER');
      hangups.push(hangup);
    }
    // both rang together: the second leg was created before the first gave up
    expect(index(await event(legFor('1003')))).toBeLessThan(index(hangups[0] as ModeslEvent));
  });

  it('originate_timeout in {} wins over call_timeout', async () => {
    sw.registerEndpoint('1002', { mode: 'noanswer' });
    const a = await parkedCall();
    await execute('set', 'call_timeout=600', a);
    const ev = await execute('bridge', '{originate_timeout=1}user/1002', a);
    expect(h(ev, 'variable_originate_disposition')).toBe('NO_ANSWER');
  });

  it('leg_timeout gives up on its leg only; the other leg can still answer', async () => {
    sw.registerEndpoint('1002', { mode: 'noanswer' });
    sw.registerEndpoint('1003', { mode: 'manual' });
    const a = await parkedCall();
    const done = execute('bridge', '[leg_timeout=1]user/1002,user/1003', a);
    const l2 = await event(legFor('1002'));
    const l3 = await event(legFor('1003'));
    expect(h(await event(named('CHANNEL_HANGUP', h(l2, 'Unique-ID'))), 'Hangup-Cause')).toBe('NO_ANSWER');
    expect(sw.answer(h(l3, 'Unique-ID') as string)).toBe(true);
    expect(h(await event(named('CHANNEL_BRIDGE', a)), 'Other-Leg-Unique-ID')).toBe(h(l3, 'Unique-ID'));
    sw.hangup(a);
    await done;
  });

  it('leg_delay_start starts its leg later; when that leg answers the other one loses', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    sw.registerEndpoint('1003');
    const a = await parkedCall();
    const done = execute('bridge', 'user/1002,[leg_delay_start=1]user/1003', a);
    const l2 = await event(legFor('1002'));
    const l3 = await event(legFor('1003'));
    expect(index(l3)).toBeGreaterThan(index(l2));
    expect(h(await event(named('CHANNEL_BRIDGE', a)), 'Other-Leg-Unique-ID')).toBe(h(l3, 'Unique-ID'));
    expect(h(await event(named('CHANNEL_HANGUP', h(l2, 'Unique-ID'))), 'Hangup-Cause')).toBe('LOSE_RACE');
    sw.hangup(a);
    await done;
  });

  it('originate rings `,` legs at once too, with the {} variables on the winner', async () => {
    sw.registerEndpoint('1002', { mode: 'manual' });
    sw.registerEndpoint('1003', { mode: 'manual' });
    const job = new Promise<ModeslEvent>((r) =>
      conn.bgapi('originate', '{ecallmgr_Account-ID=acc9}user/1002,user/1003 &park()', null, r),
    );
    const l2 = await event(legFor('1002'));
    const l3 = await event(legFor('1003'));
    expect(h(l3, 'variable_ecallmgr_Account-ID')).toBe('acc9');
    sw.answer(h(l3, 'Unique-ID') as string);
    expect((await job).getBody()).toBe(`+OK ${h(l3, 'Unique-ID')}\n`);
    expect(h(await event(named('CHANNEL_HANGUP', h(l2, 'Unique-ID'))), 'Hangup-Cause')).toBe('LOSE_RACE');
  });
});

describe('after an unbridge', () => {
  it("the B-leg's HANGUP, HANGUP_COMPLETE and DESTROY still carry the A-leg as Other-Leg-Unique-ID", async () => {
    sw.registerEndpoint('1002');
    const a = await parkedCall();
    const done = execute('bridge', 'user/1002', a);
    const b = h(await event(legFor('1002')), 'Unique-ID') as string;
    await event(named('CHANNEL_BRIDGE', a));
    sw.hangup(a);
    const unbridge = await event(named('CHANNEL_UNBRIDGE', a));
    for (const name of ['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']) {
      const ev = await event(named(name, b));
      expect(index(ev)).toBeGreaterThan(index(unbridge));
      expect(h(ev, 'Other-Leg-Unique-ID')).toBe(a);
      expect(h(ev, 'Other-Type')).toBe('originator');
    }
    await done;
  });
});

describe('api command names', () => {
  it('are looked up as own keys: `api constructor` is Command not found', async () => {
    expect(await api('constructor')).toBe('-ERR constructor Command not found!\n');
    expect(await api('toString')).toBe('-ERR toString Command not found!\n');
    expect(await api('hasOwnProperty')).toBe('-ERR hasOwnProperty Command not found!\n');
  });
});
