/**
 * validate(): incoming messages against the catalogue, every problem in one result, never
 * a throw.
 */
import { describe, expect, it } from 'vitest';
import {
  assertValid,
  build,
  errorReply,
  InvalidMessage,
  lookup,
  replyQueue,
  validate,
} from '../../src/api/index.ts';
import { CTX, kamailioAuthnReq, kamailioRegSuccess } from './kamailio-fixtures.ts';

function reasonOf(msg: unknown, id?: string): string {
  const r = validate(msg, id);
  if (r.ok) throw new Error('expected the message to be refused');
  return r.reason;
}

describe('what Kamailio sends validates', () => {
  it('authn_req with every value a string', () => {
    const r = validate(kamailioAuthnReq());
    expect(r.ok && r.def.id).toBe('authn_req');
  });

  it('reg_success with numbers and a boolean', () => {
    const r = validate(kamailioRegSuccess());
    expect(r.ok && r.def.id).toBe('reg_success');
  });

  it('an unregister (Status Unregistered, Expires 0)', () => {
    expect(
      validate({ ...kamailioRegSuccess(), Status: 'Unregistered', Expires: 0, 'First-Registration': false })
        .ok,
    ).toBe(true);
  });

  it('extra headers a peer adds are accepted on receive', () => {
    expect(validate({ ...kamailioAuthnReq(), 'X-Kamailio-Extra': 'yes' }).ok).toBe(true);
  });
});

describe('problems are reported by name, all at once', () => {
  it('a missing required header', () => {
    const { 'Auth-Realm': _realm, ...req } = kamailioAuthnReq();
    const r = validate(req);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual([
        { header: 'Auth-Realm', kind: 'missing', detail: 'missing required header' },
      ]);
      expect(r.reason).toContain('authn_req');
      expect(r.reason).toContain('Auth-Realm');
    }
  });

  it('every problem of one message in one reason', () => {
    const bad = {
      ...kamailioRegSuccess(),
      Contact: undefined,
      Expires: 'soon',
      'First-Registration': 'maybe',
      'Msg-ID': 42,
    };
    const r = validate(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.map((p) => p.header).sort()).toEqual([
        'Contact',
        'Expires',
        'First-Registration',
        'Msg-ID',
      ]);
      for (const h of ['Contact', 'Expires', 'First-Registration', 'Msg-ID']) expect(r.reason).toContain(h);
    }
  });

  it('a missing envelope header', () => {
    const { 'App-Version': _v, ...req } = kamailioAuthnReq();
    expect(reasonOf(req)).toContain('App-Version: missing default header');
  });

  it('a value outside the allowed list', () => {
    const resp = {
      ...build('authn_resp', { 'Auth-Method': 'a1-hash', 'Auth-Password': 'x' }, CTX),
      'Auth-Method': 'md5',
    };
    expect(reasonOf(resp)).toContain('Auth-Method: string "md5" is not one of password, ip, a1-hash');
  });

  it('a list value with one element outside the allowed list', () => {
    const q = build('reg_query', { Realm: 'sip.example.com', Fields: ['Contact', 'Username'] }, CTX);
    expect(validate(q).ok).toBe(true);
    expect(reasonOf({ ...q, Fields: ['Contact', 'Password'] })).toContain('Fields');
  });

  it('a message checked against the wrong entry says so', () => {
    expect(reasonOf(kamailioAuthnReq(), 'reg_success')).toMatch(
      /Event-Name: string "authn_req" is not reg_success/,
    );
  });

  it('an unknown message', () => {
    expect(reasonOf({ ...kamailioAuthnReq(), 'Event-Name': 'authn_nope' })).toContain(
      'no message directory/authn_nope',
    );
  });

  it('anything that is not an object', () => {
    for (const v of [null, 3, 'x', [kamailioAuthnReq()], undefined])
      expect(reasonOf(v)).toContain('expected a JSON object');
  });

  it('headers inherited through a prototype do not count as present', () => {
    const { 'Auth-Realm': realm, ...rest } = kamailioAuthnReq();
    const msg = Object.assign(Object.create({ 'Auth-Realm': realm }) as object, rest);
    expect(reasonOf(msg)).toContain('Auth-Realm: missing');
  });
});

describe('lookup by Event-Category / Event-Name', () => {
  it('finds dialplan commands by Application-Name', () => {
    const cmd = build('dialplan.answer', { 'Call-ID': 'c1' }, CTX);
    expect(lookup('call', 'command', cmd)?.id).toBe('dialplan.answer');
    expect(validate(cmd).ok).toBe(true);
    expect(lookup('call', 'command')).toBeUndefined();
  });

  it('refuses a command with an unknown Application-Name', () => {
    const cmd = { ...build('dialplan.answer', { 'Call-ID': 'c1' }, CTX), 'Application-Name': 'fly' };
    expect(reasonOf(cmd)).toContain('Application-Name');
  });

  it('a call event of any name, and usurp_control by its exact name', () => {
    expect(lookup('call_event', 'CHANNEL_ANSWER')?.id).toBe('call_event');
    expect(lookup('call_event', 'usurp_control')?.id).toBe('usurp_control');
    expect(lookup('call_event', 'channel_status_resp')?.id).toBe('channel_status_resp');
    const ev = build(
      'call_event',
      { 'Event-Name': 'CHANNEL_DESTROY', 'Call-ID': 'c1', 'Hangup-Cause': 'NORMAL_CLEARING' },
      CTX,
    );
    expect(validate(ev).ok).toBe(true);
  });
});

describe('error replies', () => {
  it('answer an invalid request at its Server-ID with its Msg-ID', () => {
    const req: Record<string, unknown> = { ...kamailioAuthnReq(), To: undefined };
    const r = validate(req);
    expect(r.ok).toBe(false);
    const reply = errorReply(req, r.ok ? '' : r.reason, CTX);
    expect(reply).toMatchObject({
      'Event-Category': 'error',
      'Event-Name': 'authn_req',
      'Msg-ID': req['Msg-ID'],
    });
    expect(String(reply['Error-Message'])).toContain('To');
    expect(replyQueue(req)).toBe(req['Server-ID']);
    expect(validate(JSON.parse(JSON.stringify(reply))).ok).toBe(true);
  });

  it('can answer garbage too', () => {
    const reply = errorReply(42, 'body is not JSON', CTX);
    expect(reply['Event-Name']).toBe('error');
    expect(replyQueue(42)).toBeUndefined();
  });
});

describe('assertValid', () => {
  it('returns a valid message and throws InvalidMessage with every problem otherwise', () => {
    expect(assertValid(kamailioAuthnReq())['Auth-User']).toBe('alice');
    const bad = { ...kamailioAuthnReq(), From: undefined, To: 5 };
    expect(() => assertValid(bad)).toThrow(InvalidMessage);
    expect(() => assertValid(bad)).toThrow(
      /authn_req is invalid: From: missing required header; To: expected string, got number 5/,
    );
  });
});
