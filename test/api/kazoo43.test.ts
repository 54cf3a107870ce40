/**
 * The catalogue checks what Kazoo 4.3 checks (core/kazoo_amqp/src/api: kapi_dialplan.hrl,
 * kapi_route.hrl, kapi_authn.erl, kapi_switch.erl, kz_api.hrl), no looser and no stricter:
 * each rule has a message as a 4.3 app sends it (the shapes of kapps_call_command.erl,
 * kz_endpoint.erl, kzc_recording.erl, cf_voicemail.erl, kz_storage.erl, ecallmgr's
 * ecallmgr_fs_node_command.erl) that passes, and a wrong value that fails with a reason
 * naming the header and what was expected.
 */
import { describe, expect, it } from 'vitest';
import {
  build,
  catalogue,
  destination,
  errorReply,
  EXCHANGES,
  OPTIONAL_DEFAULT_HEADERS,
  prepare,
  switchCommandKey,
  validate,
} from '../../src/api/index.ts';
import { messagesDoc } from '../../src/api/messages-doc.ts';
import { kamailioAuthnReq } from './kamailio-fixtures.ts';

const CTX = { appName: 'callflow', appVersion: '4.3.142', node: 'callflow@kz1.example.com' } as const;

/** The envelope a 4.3 callflow node puts on a dialplan command. */
function command(app: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    'Event-Category': 'call',
    'Event-Name': 'command',
    'App-Name': 'callflow',
    'App-Version': '4.3.142',
    Node: 'callflow@kz1.example.com',
    'Msg-ID': '9f2b1c0de4a84f6b8d1e2f3a4b5c6d7e',
    'Server-ID': 'callflow@kz1.example.com-<0.1234.0>-f00d',
    'Call-ID': 'b3f1d2c4-1111-2222-3333-444455556666',
    'Insert-At': 'tail',
    'Application-Name': app,
    ...fields,
  };
}

function ok(msg: unknown): void {
  const r = validate(msg);
  if (!r.ok) expect.fail(r.reason);
}

function reasonOf(msg: unknown): string {
  const r = validate(msg);
  if (r.ok) return expect.fail('expected the message to be refused');
  return r.reason;
}

const ANY_DIGIT = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

/** A SIP endpoint as 4.3's kz_endpoint:create_sip_endpoint builds it (empty values filtered). */
function sipEndpoint(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'Invite-Format': 'contact',
    'To-User': 'alice',
    'To-Username': 'alice',
    'To-Realm': 'sip.example.com',
    'Caller-ID-Name': 'Front Desk',
    'Caller-ID-Number': '1001',
    'Outbound-Caller-ID-Name': 'Front Desk',
    'Outbound-Caller-ID-Number': '1001',
    'Outbound-Callee-ID-Name': 'Alice',
    'Outbound-Callee-ID-Number': '1002',
    'Privacy-Hide-Name': false,
    'Privacy-Hide-Number': false,
    'Privacy-Method': 'sip',
    'Enable-T38-Gateway': 'peer',
    'Enable-T38-Fax': true,
    'Enable-T38-Fax-Request': true,
    'Enable-T38-Passthrough': false,
    'Ignore-Early-Media': 'true',
    'Bypass-Media': false,
    'Endpoint-Timeout': 30,
    'Endpoint-Delay': 0,
    Codecs: ['PCMU', 'PCMA'],
    'Custom-Channel-Vars': { 'Authorizing-ID': 'dev1', 'Owner-ID': 'user1' },
    ...extra,
  };
}

describe('Invite-Format: only 4.3 values (username, e164, npan, 1npan, route, loopback, contact)', () => {
  it('a bridge to a 4.3 endpoint passes', () => {
    ok(command('bridge', { Endpoints: [sipEndpoint()], 'Dial-Endpoint-Method': 'simultaneous' }));
  });

  it('a later branch value (strip_plus, endpoint, forward) is refused, naming the endpoint', () => {
    for (const format of ['strip_plus', 'endpoint', 'forward']) {
      const reason = reasonOf(command('bridge', { Endpoints: [sipEndpoint({ 'Invite-Format': format })] }));
      expect(reason).toContain(
        `Endpoints[0].Invite-Format: string "${format}" is not one of username, e164, npan, 1npan, route, loopback, contact`,
      );
    }
  });

  it('route_resp Routes follow the same list', () => {
    const resp = {
      ...build(
        'route_resp',
        { Method: 'bridge', Routes: [{ 'Invite-Format': 'route', Route: 'sip:x@y' }] },
        CTX,
      ),
    };
    ok(resp);
    expect(reasonOf({ ...resp, Routes: [{ 'Invite-Format': 'strip_plus', Route: 'sip:x@y' }] })).toContain(
      'Routes[0].Invite-Format: string "strip_plus" is not one of',
    );
  });
});

describe('Terminators: a list of single DTMF digits, or "none"', () => {
  it('play with every digit (kapps_call_command:play_command default) passes', () => {
    ok(command('play', { 'Media-Name': '/system_media/vm-enter_pass', Terminators: ANY_DIGIT }));
  });

  it('tts, record and tones take the same rule; "none" and an empty list pass', () => {
    ok(command('tts', { Text: 'hello', Voice: 'female', Language: 'en-us', Terminators: ['#'] }));
    ok(command('record', { 'Media-Name': 'vm-1.mp3', Terminators: 'none', 'Time-Limit': '300' }));
    ok(command('play', { 'Media-Name': 'x.wav', Terminators: [] }));
  });

  it('a bare string, a two-character element or a letter is refused with what is expected', () => {
    for (const bad of ['#', ['12'], ['A'], [1]]) {
      const reason = reasonOf(command('play', { 'Media-Name': 'x.wav', Terminators: bad }));
      expect(reason).toMatch(
        /Terminators: expected terminators: a list of single DTMF digits \(.*\), or "none"/,
      );
    }
    expect(reasonOf(command('record', { 'Media-Name': 'm', Terminators: '#' }))).toContain('Terminators');
    expect(reasonOf(command('tts', { Text: 't', Terminators: 'any' }))).toContain('Terminators');
  });
});

describe('Loop-Count: a positive integer', () => {
  it("cf_play's integer loop count passes (play and tts)", () => {
    ok(command('play', { 'Media-Name': 'x.wav', 'Loop-Count': 3 }));
    ok(command('tts', { Text: 'hi', 'Loop-Count': 1 }));
  });

  it('zero, a negative number or a digit string is refused', () => {
    for (const bad of [0, -2, '3', 1.5]) {
      expect(reasonOf(command('play', { 'Media-Name': 'x.wav', 'Loop-Count': bad }))).toContain(
        'Loop-Count: expected a positive integer (not a string)',
      );
    }
    expect(reasonOf(command('tts', { Text: 'hi', 'Loop-Count': '2' }))).toContain('Loop-Count');
  });
});

describe('Record-Sample-Rate: an integer', () => {
  it("kzc_recording's start command with an integer rate passes", () => {
    ok(
      command('record_call', {
        'Record-Action': 'start',
        'Media-Name': 'call_recording_1.mp3',
        'Record-Sample-Rate': 8000,
        'Record-Min-Sec': 0,
        'Media-Transfer-Method': 'put',
        'Media-Transfer-Destination': 'http://store/rec',
      }),
    );
  });

  it('a digit string is refused', () => {
    expect(
      reasonOf(command('record_call', { 'Record-Action': 'start', 'Record-Sample-Rate': '8000' })),
    ).toContain('Record-Sample-Rate: expected integer, got string "8000"');
  });
});

describe('Continue-On-Fail and Secure-RTP: booleans (kz_term:is_boolean: true/false or their strings)', () => {
  it('cf_park\'s false and cccp\'s "true" pass', () => {
    ok(command('bridge', { Endpoints: [sipEndpoint()], 'Continue-On-Fail': false, 'Secure-RTP': 'true' }));
    ok(command('bridge', { Endpoints: [sipEndpoint()], 'Continue-On-Fail': 'true', 'Secure-RTP': false }));
  });

  it('anything else is refused', () => {
    const reason = reasonOf(
      command('bridge', { Endpoints: [sipEndpoint()], 'Continue-On-Fail': 'yes', 'Secure-RTP': 1 }),
    );
    expect(reason).toContain('Continue-On-Fail: expected booleanish, got string "yes"');
    expect(reason).toContain('Secure-RTP: expected booleanish, got number 1');
  });
});

describe('tts Leg: not restricted in 4.3 (play keeps A, B, Both)', () => {
  it('tts with any Leg passes; play with an unknown Leg is still refused', () => {
    ok(command('tts', { Text: 'hi', Leg: 'self' }));
    expect(reasonOf(command('play', { 'Media-Name': 'x', Leg: 'self' }))).toContain(
      'Leg: string "self" is not one of A, B, Both',
    );
  });
});

describe('Orig-Port: a string (kapi_authn: is_binary)', () => {
  it("Kamailio's string port passes, a number is refused", () => {
    ok(kamailioAuthnReq());
    expect(reasonOf({ ...kamailioAuthnReq(), 'Orig-Port': 5070 })).toContain(
      'Orig-Port: expected string, got number 5070',
    );
  });
});

describe("the envelope's log id is System-Log-ID", () => {
  it('is allowed in every message; Log-ID is not', () => {
    expect(OPTIONAL_DEFAULT_HEADERS).toContain('System-Log-ID');
    expect(OPTIONAL_DEFAULT_HEADERS).not.toContain('Log-ID');
  });

  it('survives the whitelist; a Log-ID is dropped and reported', () => {
    const { msg, dropped } = prepare(
      'dialplan.answer',
      { 'Call-ID': 'c1', 'System-Log-ID': 'c1', 'Log-ID': 'c1' },
      CTX,
    );
    expect(msg['System-Log-ID']).toBe('c1');
    expect(msg['Log-ID']).toBeUndefined();
    expect(dropped).toEqual(['Log-ID']);
  });
});

describe('error replies keep Disposition, Hangup-Cause, Hangup-Code (kz_api.hrl)', () => {
  it('a bridge failure reply keeps them through build', () => {
    const msg = build(
      'error',
      {
        'Event-Name': 'originate_resp',
        'Error-Message': 'NORMAL_TEMPORARY_FAILURE',
        'Call-ID': 'c1',
        Disposition: 'FAIL',
        'Hangup-Cause': 'NORMAL_TEMPORARY_FAILURE',
        'Hangup-Code': 'sip:503',
        'Custom-Channel-Vars': { 'Account-ID': 'a1' },
      },
      CTX,
    );
    expect(msg).toMatchObject({
      Disposition: 'FAIL',
      'Hangup-Cause': 'NORMAL_TEMPORARY_FAILURE',
      'Hangup-Code': 'sip:503',
    });
    ok(msg);
    const dp = build(
      'dialplan_error',
      {
        'Error-Message': 'bridge failed',
        'Call-ID': 'c1',
        'Hangup-Cause': 'USER_BUSY',
        'Hangup-Code': 'sip:486',
      },
      CTX,
    );
    expect(dp).toMatchObject({ 'Hangup-Cause': 'USER_BUSY', 'Hangup-Code': 'sip:486' });
  });

  it('errorReply still builds a plain reply, and a bad Custom-Channel-Vars is refused', () => {
    ok(errorReply({ 'Event-Name': 'authn_req', 'Msg-ID': 'm1' }, 'no such user', CTX));
    const msg = build('error', { 'Event-Name': 'x', 'Error-Message': 'e' }, CTX);
    expect(reasonOf({ ...msg, 'Custom-Channel-Vars': 'a1' })).toContain(
      'Custom-Channel-Vars: expected object',
    );
  });
});

describe("bridge endpoints keep 4.3's T.38, Outbound-Caller-ID and Privacy headers", () => {
  it('are listed for the endpoint and typed as 4.3 types them', () => {
    const doc = messagesDoc(catalogue);
    const endpointTable = doc.slice(doc.indexOf('### nested: endpoint'));
    for (const h of [
      'Enable-T38-Fax',
      'Enable-T38-Fax-Request',
      'Enable-T38-Gateway',
      'Enable-T38-Passthrough',
      'Outbound-Caller-ID-Name',
      'Outbound-Caller-ID-Number',
      'Outbound-Callee-ID-Name',
      'Outbound-Callee-ID-Number',
      'Privacy-Hide-Name',
      'Privacy-Hide-Number',
      'Privacy-Method',
    ])
      expect(endpointTable).toContain(`| ${h} | optional |`);
  });

  it('a built bridge carries them to the switch', () => {
    const bridge = build('dialplan.bridge', { 'Call-ID': 'c1', Endpoints: [sipEndpoint()] }, CTX);
    expect((bridge.Endpoints as Record<string, unknown>[])[0]).toMatchObject({
      'Enable-T38-Gateway': 'peer',
      'Outbound-Caller-ID-Number': '1001',
      'Privacy-Method': 'sip',
    });
  });

  it('a bad Enable-T38-Gateway or Ignore-Early-Media is refused', () => {
    const reason = reasonOf(
      command('bridge', {
        Endpoints: [sipEndpoint({ 'Enable-T38-Gateway': 'both', 'Ignore-Early-Media': 'yes' })],
      }),
    );
    expect(reason).toContain('Endpoints[0].Enable-T38-Gateway: string "both" is not one of self, peer');
    expect(reason).toContain('Endpoints[0].Ignore-Early-Media: expected booleanish');
  });
});

describe('dialplan commands callflow needs', () => {
  it("tones: cf_voicemail's beep passes; a tone without durations is refused", () => {
    const beep = { Frequencies: ['440'], 'Duration-ON': '500', 'Duration-OFF': '100' };
    ok(command('tones', { Tones: [beep] }));
    ok(
      command('tones', {
        Tones: [{ Frequencies: [440], 'Duration-ON': 500, 'Duration-OFF': 100, Repeat: 2 }],
      }),
    );
    const reason = reasonOf(command('tones', { Tones: [{ Frequencies: ['440'] }] }));
    expect(reason).toContain('Tones[0].Duration-ON: missing required header');
    expect(reason).toContain('Tones[0].Duration-OFF: missing required header');
  });

  it('set: kapps_call_command:set passes; without Custom-Call-Vars it is refused', () => {
    ok(
      command('set', {
        'Insert-At': 'now',
        'Custom-Channel-Vars': { 'Caller-Privacy': 'true' },
        'Custom-Call-Vars': {},
        'Custom-Application-Vars': {},
      }),
    );
    expect(reasonOf(command('set', { 'Custom-Channel-Vars': { A: '1' } }))).toContain(
      'Custom-Call-Vars: missing required header',
    );
    expect(reasonOf(command('set', { 'Custom-Channel-Vars': 'A=1', 'Custom-Call-Vars': {} }))).toContain(
      'Custom-Channel-Vars: expected object',
    );
  });

  it('say: a name spelled passes; an unknown Type or Method is refused', () => {
    const say = command('say', {
      'Say-Text': 'alice',
      Type: 'name_spelled',
      Method: 'pronounced',
      Language: 'en',
    });
    ok(say);
    ok({ ...say, Gender: 'feminine' });
    const reason = reasonOf({ ...say, Type: 'letters', Method: 'spoken' });
    expect(reason).toContain('Type: string "letters" is not one of number, items');
    expect(reason).toContain('Method: string "spoken" is not one of none, pronounced, iterated, counted');
  });

  it("unbridge: kapps_call_command:unbridge's command passes; an unknown Leg is refused", () => {
    const unbridge = command('unbridge', { 'Insert-At': 'now', Leg: 'Both' });
    ok(unbridge);
    ok({ ...unbridge, Leg: 'A' });
    ok({ ...unbridge, Leg: undefined, 'Insert-At': 'tail' });
    expect(reasonOf({ ...unbridge, Leg: 'self' })).toContain('Leg: string "self" is not one of A, B, Both');
    expect(reasonOf({ ...unbridge, 'Call-ID': undefined })).toContain('Call-ID: missing required header');
  });

  it("hangup Other-Leg-Only: kapps_call_command:hangup/2's command passes; a non-boolean is refused", () => {
    const hangup = command('hangup', { 'Insert-At': 'now', 'Other-Leg-Only': true });
    ok(hangup);
    ok({ ...hangup, 'Other-Leg-Only': 'false' });
    expect(reasonOf({ ...hangup, 'Other-Leg-Only': 'yes' })).toContain(
      'Other-Leg-Only: expected booleanish, got string "yes"',
    );
  });

  it("playseek: kapps_call_command:seek's command passes; a string Duration or a queued seek is refused", () => {
    const seek = command('playseek', { Direction: 'fastforward', Duration: 10000, 'Insert-At': 'now' });
    ok(seek);
    const reason = reasonOf({ ...seek, Duration: '10000', 'Insert-At': 'tail' });
    expect(reason).toContain('Duration: expected integer, got string "10000"');
    expect(reason).toContain('Insert-At: string "tail" is not one of now');
    expect(
      build('dialplan.playseek', { 'Call-ID': 'c1', Direction: 'rewind', Duration: 5000 }, CTX)['Insert-At'],
    ).toBe('now');
  });

  it('store: kapps_call_command:store passes; an unknown transfer method is refused', () => {
    const store = command('store', {
      'Media-Name': 'vm-message.mp3',
      'Media-Transfer-Method': 'put',
      'Media-Transfer-Destination': 'http://store.example.com/vm/attachment',
      'Additional-Headers': [{}],
      'Suppress-Error-Report': false,
      'Insert-At': 'now',
    });
    ok(store);
    expect(reasonOf({ ...store, 'Media-Transfer-Method': 'ftp' })).toContain(
      'Media-Transfer-Method: string "ftp" is not one of stream, put, post',
    );
  });
});

describe("the switch exchange's command and reply (kapi_switch, how 4.3 voicemail uploads a recording)", () => {
  const sendHttp = {
    'Event-Category': 'switch_event',
    'Event-Name': 'command',
    'App-Name': 'callflow',
    'App-Version': '4.3.142',
    Node: 'callflow@kz1.example.com',
    'Msg-ID': 'a1b2',
    'Server-ID': 'callflow@kz1.example.com-<0.99.0>-reply',
    Command: 'send_http',
    Args: { 'File-Name': '/tmp/vm-1.mp3', Url: 'http://store/vm/1/vm-1.mp3', 'Http-Method': 'put' },
    'FreeSWITCH-Node': 'freeswitch@fs1.example.com',
  };

  it('send_http passes and goes to switch.command.<node> on the switch exchange', () => {
    ok(sendHttp);
    expect(EXCHANGES.find((e) => e.name === 'switch')?.type).toBe('topic');
    const built = build('switch_command', sendHttp, CTX);
    expect(destination('switch_command', built)).toMatchObject({
      exchange: 'switch',
      routingKey: 'switch.command.freeswitch%40fs1%2Eexample%2Ecom',
    });
    expect(switchCommandKey('*')).toBe('switch.command.*');
  });

  it('a command without Args is refused', () => {
    const { Args: _args, ...noArgs } = sendHttp;
    expect(reasonOf(noArgs)).toContain('switch_command is invalid: Args: missing required header');
  });

  it("ecallmgr's success and error replies pass; a reply without Result is refused", () => {
    const reply = build(
      'switch_reply',
      { Command: 'send_http', Result: 'success', Response: {}, 'Msg-ID': 'a1b2' },
      CTX,
    );
    ok(reply);
    expect(destination('switch_reply', reply, sendHttp['Server-ID']).exchange).toBe('targeted');
    ok({ ...reply, Result: 'error', Error: 'send_http not_implemented' });
    const { Result: _r, ...noResult } = reply;
    expect(reasonOf(noResult)).toContain('Result: missing required header');
  });
});
