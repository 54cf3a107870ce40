/**
 * Routing-key segment encoding (Kazoo's `kz_amqp_util:encode/1`) and the key builders that use it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  authnEndpointReqKey,
  authnReqKey,
  callEventKey,
  decodeSegment,
  docKey,
  encodeSegment,
  regFlushKey,
  regQueryKey,
  regSuccessKey,
  routeReqKey,
} from '../../src/api/index.ts';

describe('encodeSegment: as kz_amqp_util:encode/1', () => {
  it.each([
    ['sip.example.com', 'sip%2Eexample%2Ecom'],
    ['1-4242@127.0.0.1', '1-4242%40127%2E0%2E0%2E1'],
    ['my realm', 'my+realm'],
    ['Az09-~_', 'Az09-~_'],
    ['a/b', 'a%2Fb'],
    ['100%', '100%25'],
    ['a+b', 'a%2Bb'],
    ['é', '%C3%A9'],
    ['*', '*'],
    ['#', '#'],
    ['', ''],
    ['a*', 'a%2A'],
  ])('%j -> %j', (input, expected) => {
    expect(encodeSegment(input)).toBe(expected);
  });

  it('never yields a dot, and only unreserved characters, + and %XX', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = encodeSegment(s);
        expect(e.includes('.')).toBe(false);
        if (s !== '*' && s !== '#') expect(e).toMatch(/^(?:[A-Za-z0-9\-~_+]|%[0-9A-F]{2})*$/);
      }),
    );
  });

  it('round-trips any well-formed string that is not a wildcard', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        fc.pre(s !== '*' && s !== '#');
        expect(decodeSegment(encodeSegment(s))).toBe(s);
      }),
    );
  });

  it('keeps distinct segments distinct', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        fc.pre(a !== b);
        expect(encodeSegment(a)).not.toBe(encodeSegment(b));
      }),
    );
  });
});

describe('key builders encode every variable word', () => {
  it('authn_req for a realm with dots', () => {
    expect(authnReqKey('sip.example.com')).toBe('authn.req.sip%2Eexample%2Ecom');
    expect(authnReqKey('*')).toBe('authn.req.*');
    expect(authnEndpointReqKey('sip.example.com')).toBe('authn.endpoint.req.sip%2Eexample%2Ecom');
  });

  it('reg_success for a user with @ and a realm with a space', () => {
    expect(regSuccessKey('my realm.net', 'bob@home')).toBe('registration.success.my+realm%2Enet.bob%40home');
  });

  it('reg_query and reg_flush', () => {
    expect(regQueryKey('sip.example.com', '*')).toBe('registration.query.sip%2Eexample%2Ecom.*');
    expect(regFlushKey('a.b')).toBe('registration.flush.a%2Eb');
  });

  it('route_req in account and realm/user forms', () => {
    expect(routeReqKey('audio', { accountId: '4fe6a3b2' })).toBe('route.req.audio.4fe6a3b2');
    expect(routeReqKey('audio', { realm: 'sip.example.com', user: '+1 555' })).toBe(
      'route.req.audio.sip%2Eexample%2Ecom.%2B1+555',
    );
    expect(routeReqKey('video', { realm: '*', user: '*' })).toBe('route.req.video.*.*');
  });

  it('call events keep the event name and encode the call-id', () => {
    expect(callEventKey('CHANNEL_DESTROY', 'abc@10.0.0.1')).toBe('call.CHANNEL_DESTROY.abc%4010%2E0%2E0%2E1');
    expect(callEventKey('*', 'x.y')).toBe('call.*.x%2Ey');
  });

  it('doc changes encode the id only (db and type verbatim, as Kazoo)', () => {
    expect(docKey('edited', 'account%2F4f%2Fe6%2Fa3b2', 'device', 'dev.1')).toBe(
      'doc_edited.account%2F4f%2Fe6%2Fa3b2.device.dev%2E1',
    );
    expect(docKey('*', '*', 'device', '*')).toBe('*.*.device.*');
  });

  it('a key built from arbitrary words always has the expected number of words', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (realm, user) => {
        expect(regSuccessKey(realm, user).split('.')).toHaveLength(4);
      }),
    );
  });
});
