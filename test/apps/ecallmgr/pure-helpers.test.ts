/**
 * ecallmgr's pure helpers, by contract clause: Insert-At queue logic, route winner
 * selection, switch event -> call_event, dialplan command -> switch action, the
 * call_control transition table, settings, route_req and authn_req fields.
 */
import { describe, expect, it } from 'vitest';
import { validate } from '../../../src/api/index.ts';
import type { EslEvent } from '../../../src/switch/index.ts';
import { insertCommand, expandCommand } from '../../../apps/ecallmgr/insert-at.ts';
import { pickWinner } from '../../../apps/ecallmgr/route-winner.ts';
import { callEventFields, kazooAppName, publishedName } from '../../../apps/ecallmgr/event-convert.ts';
import { bridgeString, globalVars, resolveEndpoint, separator } from '../../../apps/ecallmgr/bridge-dial.ts';
import { switchAction } from '../../../apps/ecallmgr/switch-action.ts';
import { otherLegUnbridge } from '../../../apps/ecallmgr/unbridge-view.ts';
import { TRANSITIONS, allowed, checkMove } from '../../../apps/ecallmgr/call-phase.ts';
import { ecallmgrSettings, parseSwitchList } from '../../../apps/ecallmgr/config.ts';
import { routeReqFields } from '../../../apps/ecallmgr/route-req.ts';
import { authnReqFields } from '../../../apps/ecallmgr/authn.ts';

const cmd = (app: string, extra: Record<string, unknown> = {}) => ({
  'Application-Name': app,
  'Call-ID': 'c1',
  ...extra,
});
const apps = (q: ReadonlyArray<Record<string, unknown>>) =>
  q.map(
    (c) =>
      `${String(c['Application-Name'])}${c['Media-Name'] === undefined ? '' : `:${String(c['Media-Name'])}`}`,
  );
const ev = (name: string, headers: Record<string, string>, subclass?: string): EslEvent => ({
  name,
  subclass,
  uuid: headers['Unique-ID'],
  headers: { 'Event-Name': name, ...headers },
  body: '',
});
const SW = { name: 'fs1', url: 'esl://127.0.0.1:8021' };

describe('Insert-At (insertCommand)', () => {
  const q = [cmd('play', { 'Media-Name': 'a' }), cmd('play', { 'Media-Name': 'b' }), cmd('answer')];
  it.each([
    ['tail (default)', cmd('play', { 'Media-Name': 'x' }), ['play:a', 'play:b', 'answer', 'play:x'], []],
    [
      'tail',
      cmd('play', { 'Media-Name': 'x', 'Insert-At': 'tail' }),
      ['play:a', 'play:b', 'answer', 'play:x'],
      [],
    ],
    [
      'head',
      cmd('play', { 'Media-Name': 'x', 'Insert-At': 'head' }),
      ['play:x', 'play:a', 'play:b', 'answer'],
      [],
    ],
    [
      'now',
      cmd('play', { 'Media-Name': 'x', 'Insert-At': 'now' }),
      ['play:a', 'play:b', 'answer'],
      ['play:x'],
    ],
    ['flush', cmd('play', { 'Media-Name': 'x', 'Insert-At': 'flush' }), ['play:x'], []],
    [
      'queue at head: its commands in list order',
      cmd('queue', {
        'Insert-At': 'head',
        Commands: [{ 'Application-Name': 'play', 'Media-Name': 'x' }, { 'Application-Name': 'hangup' }],
      }),
      ['play:x', 'hangup', 'play:a', 'play:b', 'answer'],
      [],
    ],
    [
      'queue at tail (default): its commands in reverse list order, as Kazoo folds them',
      cmd('queue', {
        Commands: [{ 'Application-Name': 'play', 'Media-Name': 'x' }, { 'Application-Name': 'hangup' }],
      }),
      ['play:a', 'play:b', 'answer', 'hangup', 'play:x'],
      [],
    ],
    [
      'queue with flush: its commands in reverse list order',
      cmd('queue', {
        'Insert-At': 'flush',
        Commands: [{ 'Application-Name': 'play', 'Media-Name': 'x' }, { 'Application-Name': 'hangup' }],
      }),
      ['hangup', 'play:x'],
      [],
    ],
    [
      'queue now: its commands in list order',
      cmd('queue', {
        'Insert-At': 'now',
        Commands: [
          { 'Application-Name': 'play', 'Media-Name': 'x' },
          { 'Application-Name': 'play', 'Media-Name': 'y' },
          { 'Application-Name': 'hangup' },
        ],
      }),
      ['play:a', 'play:b', 'answer'],
      ['play:x', 'play:y', 'hangup'],
    ],
  ])('%s', (_what, c, queue, now) => {
    const r = insertCommand(q, c);
    expect(apps(r.queue)).toEqual(queue);
    expect(apps(r.now)).toEqual(now);
  });

  it('flush reports the dropped commands and asks for the running one to be broken', () => {
    const r = insertCommand(q, cmd('hangup', { 'Insert-At': 'flush' }));
    expect(r.flush).toBe(true);
    expect(apps(r.dropped)).toEqual(['play:a', 'play:b', 'answer']);
  });

  it('a noop with now removes the filtered applications at the head only, strings or objects', () => {
    expect(
      apps(insertCommand(q, cmd('noop', { 'Insert-At': 'now', 'Filter-Applications': ['play'] })).queue),
    ).toEqual(['answer']);
    expect(
      apps(
        insertCommand(
          q,
          cmd('noop', { 'Insert-At': 'now', 'Filter-Applications': [{ 'Application-Name': 'answer' }] }),
        ).queue,
      ),
    ).toEqual(['play:a', 'play:b', 'answer']);
    expect(
      apps(insertCommand(q, cmd('noop', { 'Insert-At': 'tail', 'Filter-Applications': ['play'] })).queue),
    ).toEqual(['play:a', 'play:b', 'answer', 'noop']);
  });

  it('a queue command expands in order with the envelope merged, at its Insert-At', () => {
    const queued = cmd('queue', {
      'Server-ID': 'srv',
      'Msg-ID': 'm1',
      'Insert-At': 'head',
      Commands: [
        { 'Application-Name': 'answer', 'Insert-At': 'now' },
        { 'Application-Name': 'play', 'Media-Name': 'q' },
        'junk',
      ],
    });
    const r = insertCommand(q, queued);
    expect(apps(r.queue)).toEqual(['answer', 'play:q', 'play:a', 'play:b', 'answer']);
    expect(r.queue[0]).toMatchObject({ 'Call-ID': 'c1', 'Server-ID': 'srv', 'Msg-ID': 'm1' });
    expect(r.queue[0]!['Insert-At']).toBeUndefined();
    expect(apps(expandCommand(cmd('queue', { Commands: [] })))).toEqual([]);
  });

  it('never mutates the queue it is given', () => {
    const copy = JSON.stringify(q);
    insertCommand(q, cmd('x', { 'Insert-At': 'flush' }));
    insertCommand(q, cmd('noop', { 'Insert-At': 'now', 'Filter-Applications': ['play'] }));
    expect(JSON.stringify(q)).toBe(copy);
  });
});

describe('route winner (pickWinner)', () => {
  const resp = (app: string, method: string, deferred = false) => ({
    'Event-Name': 'route_resp',
    'App-Name': app,
    Method: method,
    ...(deferred ? { 'Defer-Response': 'true' } : {}),
  });
  it.each([
    ['nothing', [], undefined, undefined],
    ['the first actionable', [resp('a', 'park'), resp('b', 'bridge')], 'a', true],
    ['a plain reply beats an earlier deferred one', [resp('a', 'park', true), resp('b', 'park')], 'b', true],
    [
      'only deferred: the first of them, not decisive',
      [resp('a', 'park', true), resp('b', 'park', true)],
      'a',
      false,
    ],
    ['error is actionable too', [resp('a', 'error')], 'a', true],
    ['unknown methods are not actionable', [resp('a', 'teleport'), resp('b', 'park', true)], 'b', false],
  ])('%s', (_w, replies, app, decisive) => {
    const r = pickWinner(replies);
    expect(r?.winner['App-Name']).toBe(app);
    expect(r?.decisive).toBe(decisive);
  });
});

describe('switch event -> call_event (callEventFields)', () => {
  const base = {
    'Unique-ID': 'u1',
    'Event-Date-Timestamp': '1700000000123456',
    'Call-Direction': 'inbound',
    'Caller-Caller-ID-Name': 'Alice',
    'Caller-Caller-ID-Number': '1001',
    'Channel-State': 'CS_EXECUTE',
    'Channel-Call-State': 'ACTIVE',
    'FreeSWITCH-Hostname': 'fs-host',
    variable_ecallmgr_Account_ID: 'acct',
    'variable_ecallmgr_Owner-ID': 'own',
    variable_cav_x: '1',
    'variable_sip_h_X-Foo': 'bar',
  };
  it('renames to Kazoo headers and the result is a valid call_event', () => {
    const f = callEventFields(
      ev('CHANNEL_ANSWER', {
        ...base,
        'Caller-Destination-Number': '2000',
        variable_sip_from_host: 'ex.com',
      }),
      SW,
    )!;
    expect(f).toMatchObject({
      'Event-Name': 'CHANNEL_ANSWER',
      'Call-ID': 'u1',
      'Msg-ID': '1700000000123456',
      Timestamp: 1700000000 + 62167219200,
      'Caller-ID-Name': 'Alice',
      'Caller-ID-Number': '1001',
      'Channel-State': 'EXECUTE',
      'Custom-Channel-Vars': { Account_ID: 'acct', 'Owner-ID': 'own' },
      'Custom-Application-Vars': { x: '1' },
      'Custom-SIP-Headers': { 'X-Foo': 'bar' },
      'Switch-Nodename': 'fs1',
      'Switch-Hostname': 'fs-host',
      Request: '2000@ex.com',
      From: '1001@ex.com',
    });
    expect(
      validate({ ...f, 'Event-Category': 'call_event', 'App-Name': 'ecallmgr', 'App-Version': '4.0.0' }).ok,
    ).toBe(true);
  });

  it('maps application names and publishes EXECUTE events only for applications Kazoo names', () => {
    expect(kazooAppName('playback', '/a.wav')).toBe('play');
    expect(kazooAppName('playback', 'tts://flite|x|hi')).toBe('tts');
    expect(kazooAppName('pre_answer')).toBe('progress');
    expect(kazooAppName('event')).toBeUndefined();
    expect(
      callEventFields(
        ev('CHANNEL_EXECUTE_COMPLETE', {
          ...base,
          Application: 'playback',
          'Application-Data': 'a.wav',
          'Application-Response': 'FILE PLAYED',
        }),
        SW,
      ),
    ).toMatchObject({
      'Application-Name': 'play',
      'Raw-Application-Name': 'playback',
      'Application-Response': 'FILE PLAYED',
    });
    for (const app of ['park', 'event', 'set', 'bridge'])
      expect(publishedName(ev('CHANNEL_EXECUTE_COMPLETE', { ...base, Application: app }))).toBeUndefined();
    expect(publishedName(ev('CHANNEL_EXECUTE', { ...base, Application: 'bridge' }))).toBe('CHANNEL_EXECUTE');
  });

  it("the bridge's kazoo::masquerade is its completion: outcome, cause, and the SIP status the switch gave or the cause's", () => {
    const done = (vars: Record<string, string>): Record<string, unknown> =>
      callEventFields(
        ev(
          'CUSTOM',
          {
            ...base,
            kazoo_event_name: 'CHANNEL_EXECUTE_COMPLETE',
            kazoo_application_name: 'bridge',
            ...vars,
          },
          'kazoo::masquerade',
        ),
        SW,
      )!;
    expect(
      done({ variable_originate_disposition: 'USER_BUSY', variable_originate_failed_cause: 'USER_BUSY' }),
    ).toMatchObject({
      'Event-Name': 'CHANNEL_EXECUTE_COMPLETE',
      'Application-Name': 'bridge',
      'Application-Response': 'USER_BUSY',
      'Hangup-Cause': 'USER_BUSY',
      'Hangup-Code': 'sip:486',
    });
    expect(
      done({
        variable_originate_disposition: 'CALL_REJECTED',
        variable_originate_failed_cause: 'CALL_REJECTED',
        variable_last_bridge_proto_specific_hangup_cause: 'sip:403',
      })['Hangup-Code'],
    ).toBe('sip:403');
    expect(
      done({ variable_bridge_hangup_cause: 'NORMAL_CLEARING', variable_originate_disposition: 'SUCCESS' }),
    ).toMatchObject({ 'Application-Response': 'SUCCESS', 'Hangup-Cause': 'NORMAL_CLEARING' });
    expect(done({})['Application-Response']).toBe('FAIL');
  });

  it('kazoo::noop becomes the noop completion; other events are not published', () => {
    const f = callEventFields(
      ev(
        'CUSTOM',
        {
          ...base,
          kazoo_event_name: 'CHANNEL_EXECUTE_COMPLETE',
          kazoo_application_name: 'noop',
          kazoo_application_response: 'msg-7',
        },
        'kazoo::noop',
      ),
      SW,
    )!;
    expect(f).toMatchObject({
      'Event-Name': 'CHANNEL_EXECUTE_COMPLETE',
      'Application-Name': 'noop',
      'Application-Response': 'msg-7',
    });
    for (const name of [
      'CHANNEL_STATE',
      'CHANNEL_CALLSTATE',
      'CHANNEL_HANGUP_COMPLETE',
      'HEARTBEAT',
      'PLAYBACK_START',
    ])
      expect(callEventFields(ev(name, base), SW)).toBeUndefined();
    expect(callEventFields(ev('CUSTOM', base, 'sofia::register'), SW)).toBeUndefined();
    expect(callEventFields(ev('CHANNEL_ANSWER', { 'Event-Date-Timestamp': '1' }), SW)).toBeUndefined();
  });

  it('per event: DTMF digits, destroy durations and causes, record file', () => {
    expect(
      callEventFields(ev('DTMF', { ...base, 'DTMF-Digit': '5', 'DTMF-Duration': '2000' }), SW),
    ).toMatchObject({ 'DTMF-Digit': '5', 'DTMF-Duration': '2000' });
    expect(
      callEventFields(
        ev('CHANNEL_DESTROY', {
          ...base,
          'Hangup-Cause': 'USER_BUSY',
          variable_duration: '12',
          variable_billsec: '10',
          variable_sip_term_status: '486',
        }),
        SW,
      ),
    ).toMatchObject({
      'Hangup-Cause': 'USER_BUSY',
      'Hangup-Code': 'sip:486',
      'Duration-Seconds': '12',
      'Billing-Seconds': '10',
    });
    expect(
      callEventFields(
        ev('RECORD_STOP', { ...base, 'Record-File-Path': '/tmp/r.wav', variable_record_ms: '1500' }),
        SW,
      ),
    ).toMatchObject({ 'Application-Name': 'record', 'Application-Response': '/tmp/r.wav', Length: '1500' });
  });
});

describe('dialplan command -> switch action (switchAction)', () => {
  it.each([
    [cmd('answer'), { kind: 'execute', app: 'answer', arg: '' }],
    [cmd('hangup', { 'Hangup-Cause': 'USER_BUSY' }), { kind: 'execute', app: 'hangup', arg: 'USER_BUSY' }],
    [cmd('play', { 'Media-Name': 'a.wav' }), { kind: 'execute', app: 'playback', arg: 'a.wav' }],
    [cmd('play', { 'Media-Name': 'a\nb' }), { kind: 'execute', app: 'playback', arg: 'a b' }],
    [
      cmd('tts', { Text: 'hi', Voice: 'male' }),
      { kind: 'execute', app: 'playback', arg: 'tts://flite|male|hi' },
    ],
    [
      cmd('record', { 'Media-Name': 'r.wav', 'Time-Limit': 30 }),
      { kind: 'execute', app: 'record', arg: 'r.wav 30' },
    ],
    [cmd('park'), { kind: 'execute', app: 'park', arg: '' }],
    [cmd('playstop'), { kind: 'api', command: 'uuid_break c1' }],
    [cmd('hangup', { 'Other-Leg-Only': true }), { kind: 'api', command: 'uuid_park c1' }],
    [cmd('hangup', { 'Other-Leg-Only': 'true' }), { kind: 'api', command: 'uuid_park c1' }],
    [cmd('hangup', { 'Other-Leg-Only': false }), { kind: 'execute', app: 'hangup', arg: '' }],
    [cmd('unbridge'), { kind: 'api', command: 'uuid_transfer c1 park: inline' }],
    [cmd('unbridge', { Leg: 'A' }), { kind: 'api', command: 'uuid_transfer c1 park: inline' }],
    [cmd('unbridge', { Leg: 'B' }), { kind: 'api', command: 'uuid_transfer c1 -bleg park: inline' }],
    [cmd('unbridge', { Leg: 'Both' }), { kind: 'api', command: 'uuid_transfer c1 -both park: inline' }],
    [cmd('bridge', { Endpoints: [] }), { kind: 'bridge' }],
  ])('%j', (c, expected) => expect(switchAction(c, 'c1')).toEqual(expected));

  it('noop fires kazoo::noop carrying its Msg-ID; unsupported commands say why', () => {
    expect(switchAction(cmd('noop', { 'Msg-ID': 'm,9' }), 'c1')).toMatchObject({
      kind: 'execute',
      app: 'event',
      arg: expect.stringContaining('kazoo_application_response=m9'),
    });
    expect(switchAction(cmd('record_call', { 'Record-Action': 'start' }), 'c1')).toMatchObject({
      kind: 'unsupported',
      reason: expect.stringContaining('record_call'),
    });
  });
});

describe("the bridged leg's CHANNEL_UNBRIDGE (unbridge-view.ts)", () => {
  it("swaps Call-ID and Other-Leg-Call-ID, keeps the switch's headers, none of the call's channel data", () => {
    const a = {
      'Event-Name': 'CHANNEL_UNBRIDGE',
      'Call-ID': 'a1',
      'Other-Leg-Call-ID': 'b1',
      'Msg-ID': '1700000000000000',
      Timestamp: 63900000000,
      'Switch-Nodename': 'fs1',
      'Caller-ID-Number': '1001',
      'Custom-Channel-Vars': { 'Account-ID': 'acct1' },
    };
    expect(otherLegUnbridge(a)).toEqual({
      'Event-Name': 'CHANNEL_UNBRIDGE',
      'Call-ID': 'b1',
      'Other-Leg-Call-ID': 'a1',
      'Msg-ID': '1700000000000000',
      Timestamp: 63900000000,
      'Switch-Nodename': 'fs1',
    });
    expect(otherLegUnbridge({ ...a, 'Other-Leg-Call-ID': undefined })).toBeUndefined();
    expect(otherLegUnbridge({ ...a, 'Event-Name': 'CHANNEL_BRIDGE' })).toBeUndefined();
  });
});

describe('bridge dial strings (bridge-dial.ts)', () => {
  const regs: Record<string, string[]> = {
    '1001@r.test': ['sip:1001@10.0.0.1:5060;transport=udp'],
    'dev@r.test': ['sip:phone@10.0.0.2:5062'],
  };
  const asked: string[] = [];
  const lookup = (realm: string, user: string): Promise<string[]> => {
    asked.push(`${user}@${realm}`);
    return Promise.resolve(regs[`${user}@${realm}`] ?? []);
  };
  const ep = (f: Record<string, unknown>): Record<string, unknown> => ({ 'Invite-Format': 'username', ...f });

  it('a registered device is dialled at its contact, its user part the To-User, under the sofia interface', async () => {
    expect(await resolveEndpoint(ep({ 'To-User': '1001', 'To-Realm': 'r.test' }), lookup)).toEqual({
      channel: 'sofia/sipinterface_1/1001@10.0.0.1:5060;transport=udp',
    });
    expect(
      await resolveEndpoint(ep({ 'To-Username': 'dev', 'To-User': 'alice', 'To-Realm': 'r.test' }), lookup),
    ).toEqual({ channel: 'sofia/sipinterface_1/alice@10.0.0.2:5062' });
    expect(asked).toContain('dev@r.test');
  });

  it('an unregistered device, a missing realm, loopback and non-SIP endpoints are left out with a reason', async () => {
    for (const e of [
      ep({ 'To-User': 'ghost', 'To-Realm': 'r.test' }),
      ep({ 'To-User': '1001' }),
      ep({ 'Invite-Format': 'loopback', Route: '2000' }),
      ep({ 'Endpoint-Type': 'freetdm', 'To-DID': '1' }),
    ])
      expect(await resolveEndpoint(e, lookup)).toMatchObject({ skip: expect.any(String) });
  });

  it('route endpoints as given; leg and global variables as Kazoo maps them; separators', async () => {
    const cmdB = cmd('bridge', {
      Timeout: 20,
      'Ignore-Early-Media': 'true',
      'Dial-Endpoint-Method': 'simultaneous',
      'Custom-Channel-Vars': { 'Owner-ID': 'o1' },
    });
    const r = await bridgeString(
      cmdB,
      [
        ep({ 'To-User': '1001', 'To-Realm': 'r.test', 'Endpoint-Timeout': 15, 'Endpoint-Delay': 2 }),
        { 'Invite-Format': 'route', Route: 'sofia/gw/x', 'Custom-Channel-Vars': { 'Authorizing-ID': 'd,1' } },
        ep({ 'To-User': 'ghost', 'To-Realm': 'r.test' }),
      ],
      lookup,
    );
    expect(r.dial).toBe(
      '{call_timeout=20,originate_timeout=20,ignore_early_media=true,ecallmgr_Owner-ID=o1}' +
        '[leg_timeout=15,leg_delay_start=2]sofia/sipinterface_1/1001@10.0.0.1:5060;transport=udp,' +
        '[ecallmgr_Authorizing-ID=d\\,1]sofia/gw/x',
    );
    expect(r.skipped).toHaveLength(1);
    expect(separator(cmd('bridge', { 'Dial-Endpoint-Method': 'simultaneous' }), 1)).toBe('|');
    expect(separator(cmd('bridge', {}), 3)).toBe('|');
    expect(globalVars(cmd('bridge', { Timeout: 0 }))).toBe('');
  });
});

describe('call_control transitions (call-phase.ts)', () => {
  it('lists only known phases as targets and ends only once the call is over, or usurped', () => {
    const phases = Object.keys(TRANSITIONS);
    for (const [phase, moves] of Object.entries(TRANSITIONS)) {
      for (const [input, next] of Object.entries(moves)) {
        for (const n of next!)
          expect(
            n === 'stop'
              ? input === 'usurped' || (phase === 'hungup' && input === 'keepalive_timeout')
              : phases.includes(n),
          ).toBe(true);
      }
    }
  });
  it.each([
    ['executing', 'node_up'],
    ['executing', 'keepalive_timeout'],
    ['hungup', 'node_timeout'],
  ] as const)('%s ignores %s', (phase, input) => expect(allowed(phase, input)).toBeUndefined());
  it('a hung-up call never stops on its wait alone: it asks the switch, and ends only once destroyed or found gone', () => {
    expect(allowed('hanging_up', 'keepalive_timeout')).toEqual(['hanging_up']);
    expect(allowed('hanging_up', 'channel_gone')).toEqual(['hungup']);
    expect(allowed('hanging_up', 'destroyed')).toEqual(['hungup']);
  });
  it('refuses a move the table does not list', () => {
    expect(() => checkMove('executing', 'command', 'active')).toThrow(/not in the transition table/);
    expect(checkMove('node_down', 'node_up', 'executing')).toBe('executing');
    expect(() => checkMove('hanging_up', 'command', 'executing')).toThrow();
    expect(checkMove('executing', 'hangup', 'hanging_up')).toBe('hanging_up');
  });
});

describe('settings (config.ts)', () => {
  it('reads switches from settings, or from FIFE_ECALLMGR_SWITCHES instead', () => {
    const s = ecallmgrSettings(
      { switches: [{ host: 'fs1.local' }, { host: '10.0.0.2', port: 8022, password: 'p', name: 'b' }] },
      {},
    );
    expect(s.switches).toEqual([
      { host: 'fs1.local', port: 8021, password: 'ClueCon', name: 'freeswitch@fs1.local:8021' },
      { host: '10.0.0.2', port: 8022, password: 'p', name: 'b' },
    ]);
    expect(s.fetchTimeoutMs).toBe(2600);
    expect(
      ecallmgrSettings(
        { switches: [{ host: 'x' }] },
        { FIFE_ECALLMGR_SWITCHES: 'pw@127.0.0.1:9000, 127.0.0.2' },
      ).switches.map((x) => [x.host, x.port, x.password]),
    ).toEqual([
      ['127.0.0.1', 9000, 'pw'],
      ['127.0.0.2', 8021, 'ClueCon'],
    ]);
    expect(parseSwitchList('')).toEqual([]);
  });
  it.each([
    [{ switches: 'fs1' }, /switches must be a list/],
    [{ switches: [{ port: 1 }] }, /switches\[0\]\.host/],
    [{ switches: [{ host: 'a', port: 70000 }] }, /switches\[0\]\.port/],
    [{ switches: [{ host: 'a' }, { host: 'a' }] }, /two switches are named/],
    [{ keepAliveMs: -1 }, /keepAliveMs/],
  ])('refuses %j naming the key', (settings, msg) =>
    expect(() => ecallmgrSettings(settings as Record<string, unknown>, {})).toThrow(msg),
  );
});

describe('route_req and authn_req fields', () => {
  it('route_req from a parked channel is a valid route_req keyed by the account CCV', () => {
    const f = routeReqFields(
      ev('CHANNEL_PARK', {
        'Unique-ID': 'u9',
        'Caller-Caller-ID-Number': '1001',
        'Caller-Destination-Number': '2000',
        variable_sip_from_host: 'ex.com',
        'variable_ecallmgr_Account-ID': 'a1',
      }),
      { fetchId: 'f1', switchName: 'fs1', switchHost: 'h', defaultRealm: 'd.local' },
    )!;
    expect(f).toMatchObject({
      'Call-ID': 'u9',
      'Msg-ID': 'f1',
      From: '1001@ex.com',
      To: '2000@ex.com',
      'Custom-Channel-Vars': { 'Account-ID': 'a1', 'Fetch-ID': 'f1' },
    });
    expect(
      routeReqFields(ev('CHANNEL_PARK', {}), {
        fetchId: 'f',
        switchName: 's',
        switchHost: 'h',
        defaultRealm: 'd',
      }),
    ).toBeUndefined();
  });
  it('authn_req from a directory fetch, or why not', () => {
    const h = {
      'Fetch-Section': 'directory',
      'Fetch-UUID': 'f1',
      action: 'sip_auth',
      sip_auth_username: 'Bob',
      sip_auth_realm: 'Ex.Com',
    };
    expect(authnReqFields(h)).toMatchObject({
      'Msg-ID': 'f1',
      'Auth-User': 'bob',
      'Auth-Realm': 'ex.com',
      From: 'bob@ex.com',
      Method: 'REGISTER',
    });
    expect(authnReqFields({ ...h, 'Fetch-Section': 'dialplan' })).toMatch(/not a directory fetch/);
    expect(authnReqFields({ ...h, action: 'message-count' })).toMatch(/not a credentials look-up/);
    expect(authnReqFields({ ...h, sip_auth_username: '' })).toMatch(/without user or realm/);
  });
});
