/** ecallmgr originate's pure parts: endpoint dial strings, channel variables, actions, event keys. */
import { describe, expect, it } from 'vitest';
import {
  channelVars,
  contactTarget,
  endpointDial,
  needsContact,
  originateAction,
} from '../../../apps/ecallmgr/originate-dial.ts';
import { eventRoutingCallId } from '../../../apps/ecallmgr/originate-routing.ts';

describe('originate dial strings', () => {
  it('a username endpoint needs the registrar contact and is dialled through sofia at it', () => {
    const ep = { 'Invite-Format': 'username', 'To-Username': '1000', 'To-Realm': 'a.com' };
    expect(needsContact(ep)).toEqual({ realm: 'a.com', user: '1000' });
    expect(endpointDial(ep, '<sip:1000@10.0.0.1:5060;transport=udp>')).toEqual({
      dial: 'sofia/sipinterface_1/1000@10.0.0.1:5060',
    });
    expect(endpointDial(ep)).toEqual({ error: 'USER_NOT_REGISTERED' });
    expect(contactTarget('sip:2000@host')).toBe('2000@host');
  });

  it('route, loopback and Endpoint-URI endpoints need no look-up', () => {
    expect(endpointDial({ 'Invite-Format': 'route', Route: 'user/1000' })).toEqual({ dial: 'user/1000' });
    expect(endpointDial({ 'Invite-Format': 'loopback', 'To-DID': '2000' })).toEqual({
      dial: 'loopback/2000',
    });
    expect(endpointDial({ 'Invite-Format': 'npan', 'Endpoint-URI': 'sofia/gw/x' })).toEqual({
      dial: 'sofia/gw/x',
    });
    expect(endpointDial({ 'Invite-Format': 'e164' })).toHaveProperty('error');
  });

  it('channel variables: origination_uuid, CCVs as ecallmgr_*, Origination-Call-ID, escaped values', () => {
    const v = channelVars(
      { 'Custom-Channel-Vars': { 'Account-ID': 'a,b' }, 'Origination-Call-ID': 'p1', Timeout: 20 },
      'u1',
      { 'Fetch-ID': 'f1' },
    );
    expect(v).toBe(
      '{origination_uuid=u1,ecallmgr_Account-ID=a\\,b,ecallmgr_Fetch-ID=f1,sip_origination_call_uuid=p1,originate_timeout=20}',
    );
  });

  it('park, and bridge to an existing call, are the actions this ecallmgr runs', () => {
    expect(originateAction({ 'Application-Name': 'park' })).toEqual({ action: '&park()' });
    expect(originateAction({ 'Application-Name': 'bridge', 'Existing-Call-ID': 'c1' })).toEqual({
      action: '&park()',
    });
    expect(originateAction({ 'Application-Name': 'eavesdrop' })).toHaveProperty('error');
  });

  it("call events are keyed on Origination-Call-ID before Call-ID, except a loopback's", () => {
    expect(eventRoutingCallId({ 'Call-ID': 'c', 'Origination-Call-ID': 'o' })).toBe('o');
    expect(eventRoutingCallId({ 'Call-ID': 'c' })).toBe('c');
    expect(
      eventRoutingCallId({ 'Call-ID': 'c', 'Origination-Call-ID': 'o', 'Channel-Is-Loopback': true }),
    ).toBe('c');
  });
});
