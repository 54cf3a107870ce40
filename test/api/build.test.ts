/**
 * build(): Kazoo's build rules (`kz_api:prepare_api_payload`, `build_message`): strip, defaults, fixed values, validate,
 * whitelist.
 */
import { describe, expect, it } from 'vitest';
import { build, InvalidMessage, prepare, validate } from '../../src/api/index.ts';
import { build as buildWith } from '../../src/api/build.ts';
import type { MessageDef } from '../../src/api/index.ts';
import { CTX, kamailioAuthnReq } from './kamailio-fixtures.ts';

function thrown(fn: () => unknown): InvalidMessage {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidMessage) return err;
    throw err;
  }
  throw new Error('expected InvalidMessage, nothing was thrown');
}

describe('build fills the envelope', () => {
  it('an authn_resp answering Kamailio carries the request Msg-ID and the fixed names', () => {
    const req = kamailioAuthnReq();
    const msg = build(
      'authn_resp',
      { 'Msg-ID': req['Msg-ID'], 'Auth-Method': 'password', 'Auth-Password': 's3cret' },
      CTX,
    );
    expect(msg).toMatchObject({
      'Event-Category': 'directory',
      'Event-Name': 'authn_resp',
      'App-Name': CTX.appName,
      'App-Version': CTX.appVersion,
      Node: CTX.node,
      'Msg-ID': req['Msg-ID'],
    });
  });

  it('fills a fresh 32-hex Msg-ID when none (or an empty one) is given', () => {
    const a = build('reg_sync', {}, CTX);
    const b = build('reg_sync', { 'Msg-ID': '' }, CTX);
    expect(a['Msg-ID']).toMatch(/^[0-9a-f]{32}$/);
    expect(b['Msg-ID']).toMatch(/^[0-9a-f]{32}$/);
    expect(a['Msg-ID']).not.toBe(b['Msg-ID']);
  });

  it('keeps a Node and App-Name the caller gave', () => {
    const msg = build('reg_sync', { Node: 'other@node', 'App-Name': 'ecallmgr' }, CTX);
    expect(msg.Node).toBe('other@node');
    expect(msg['App-Name']).toBe('ecallmgr');
  });

  it('fills Application-Name of a dialplan command and playstop Insert-At now', () => {
    const play = build('dialplan.play', { 'Call-ID': 'c1', 'Media-Name': 'tone_stream://%(200,0,500)' }, CTX);
    expect(play['Event-Category']).toBe('call');
    expect(play['Event-Name']).toBe('command');
    expect(play['Application-Name']).toBe('play');
    expect(play['Insert-At']).toBeUndefined();
    expect(build('dialplan.playstop', { 'Call-ID': 'c1' }, CTX)['Insert-At']).toBe('now');
  });

  it('never guesses an enum header', () => {
    const err = thrown(() => build('route_resp', {}, CTX));
    expect(err.problems.map((p) => p.header)).toEqual(['Method']);
  });
});

describe('build refuses an invalid message with every problem in one error', () => {
  it('names each missing required header', () => {
    const err = thrown(() => build('authn_req', { 'Auth-User': 'alice' }, CTX));
    expect(err.id).toBe('authn_req');
    expect(err.problems.map((p) => p.header).sort()).toEqual(['Auth-Realm', 'From', 'To']);
    for (const h of ['Auth-Realm', 'From', 'To']) expect(err.message).toContain(h);
  });

  it('reports a wrong value, a wrong type and a missing header together', () => {
    const err = thrown(() =>
      build('authn_resp', { 'Auth-Method': 'plaintext', 'Custom-Channel-Vars': 'not-an-object' }, CTX),
    );
    const byHeader = Object.fromEntries(err.problems.map((p) => [p.header, p.kind]));
    expect(byHeader).toEqual({
      'Auth-Method': 'value',
      'Custom-Channel-Vars': 'type',
      'Auth-Password': 'missing',
    });
    expect(err.message).toMatch(/plaintext.*password, ip, a1-hash/);
  });

  it('counts an empty string or null as missing (they are stripped first)', () => {
    const err = thrown(() => build('route_win', { 'Call-ID': '', 'Control-Queue': null }, CTX));
    expect(err.problems.map((p) => p.header).sort()).toEqual(['Call-ID', 'Control-Queue']);
  });

  it('checks each bridge endpoint', () => {
    const err = thrown(() =>
      build(
        'dialplan.bridge',
        { 'Call-ID': 'c1', Endpoints: [{ 'Invite-Format': 'route', Route: 'sip:a@b' }, { Route: 'x' }, 7] },
        CTX,
      ),
    );
    expect(err.problems.map((p) => p.header)).toEqual(['Endpoints[1].Invite-Format', 'Endpoints[2]']);
  });
});

describe('build strips empty values', () => {
  it('recursively for most messages', () => {
    const msg = build(
      'authn_resp',
      {
        'Auth-Method': 'password',
        'Auth-Password': 'x',
        'Auth-Nonce': '',
        'Custom-Channel-Vars': { 'Owner-ID': '', 'Account-ID': 'a1', X: null },
      },
      CTX,
    );
    expect('Auth-Nonce' in msg).toBe(false);
    expect(msg['Custom-Channel-Vars']).toEqual({ 'Account-ID': 'a1' });
  });

  it('only at the top level for route_req', () => {
    const msg = build(
      'route_req',
      {
        'Call-ID': 'c1',
        From: 'alice@sip.example.com',
        To: '1000@sip.example.com',
        Request: '1000@sip.example.com',
        'Caller-ID-Name': '',
        'Custom-Channel-Vars': { 'Account-ID': '', 'Fetch-ID': 'f1' },
      },
      CTX,
    );
    expect('Caller-ID-Name' in msg).toBe(false);
    expect(msg['Custom-Channel-Vars']).toEqual({ 'Account-ID': '', 'Fetch-ID': 'f1' });
  });

  it('keeps an empty Server-ID (a cast that expects no reply)', () => {
    expect(build('reg_sync', { 'Server-ID': '' }, CTX)['Server-ID']).toBe('');
  });
});

describe('build whitelists, as Kazoo does', () => {
  it('drops headers the message does not define, and says which', () => {
    const fields: Record<string, unknown> = { ...kamailioAuthnReq(), 'Media-Server': 'fs1', 'X-Custom': 1 };
    const { msg, dropped } = prepare('authn_req', fields, CTX);
    expect([...dropped].sort()).toEqual(['Media-Server', 'X-Custom']);
    expect('Media-Server' in msg).toBe(false);
    expect(msg['Auth-Nonce']).toBe(fields['Auth-Nonce']);
    expect(msg['Server-ID']).toBe(fields['Server-ID']);
  });

  it('keeps the optional envelope headers', () => {
    const msg = build(
      'authn_err',
      { 'Defer-Response': 'true', 'Account-ID': 'a1', 'Msg-Reply-ID': 'm0', 'Not-Here': 'x' },
      CTX,
    );
    expect(msg).toMatchObject({ 'Defer-Response': 'true', 'Account-ID': 'a1', 'Msg-Reply-ID': 'm0' });
    expect('Not-Here' in msg).toBe(false);
  });

  it('a built message validates', () => {
    const msg = build('authn_req', kamailioAuthnReq(), CTX);
    expect(validate(JSON.parse(JSON.stringify(msg))).ok).toBe(true);
  });
});

describe('a required entry may be a list: at least one of', () => {
  const def: MessageDef = {
    id: 'test_one_of',
    category: 'test',
    name: 'one_of',
    doc: 'test entry',
    required: ['Call-ID', ['Username', 'Realm']],
    optional: [],
    route: { exchange: 'targeted', kind: 'queue' },
  };

  it('accepts any one of them', () => {
    expect(buildWith(def, { 'Call-ID': 'c', Realm: 'r' }, CTX).Realm).toBe('r');
    expect(buildWith(def, { 'Call-ID': 'c', Username: 'u' }, CTX).Username).toBe('u');
  });

  it('refuses none of them, naming the alternatives', () => {
    const err = thrown(() => buildWith(def, { 'Call-ID': 'c' }, CTX));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain('at least one of Username, Realm');
  });
});
