/**
 * Messages shaped as Kamailio 5.6's kazoo module sends them (its `kz_amqp` / `kazoo` scripts): every
 * authn_req value a string; reg_success with numeric Expires/Event-Timestamp, boolean
 * First-Registration, string Proxy-Port, and the Custom-Channel-Vars of the authn_resp
 * echoed back. The module appends App-Name, App-Version, Node, Msg-ID and Server-ID.
 */

export function kamailioAuthnReq(): Record<string, unknown> {
  return {
    'Event-Category': 'directory',
    'Event-Name': 'authn_req',
    Method: 'REGISTER',
    'Auth-Nonce': 'Wv2Bf1r9bM2jvGkqfOQ7dTpxCkN0p6ar',
    'Auth-Realm': 'sip.example.com',
    'Auth-User': 'alice',
    From: 'sip:alice@sip.example.com',
    To: 'sip:alice@sip.example.com',
    'Orig-IP': '127.0.0.1',
    'Orig-Port': '5070',
    'User-Agent': 'SIPp/3.6',
    Contact: '<sip:alice@127.0.0.1:5070>',
    'Call-ID': '1-4242@127.0.0.1',
    Expires: '3600',
    'App-Name': 'kamailio',
    'App-Version': '5.6.3',
    Node: 'kamailio@proxy1.example.com',
    'Msg-ID': '8b0c6d1e-5b1f-4a3e-9d3a-1f2e3d4c5b6a',
    'Server-ID': 'kamailio@proxy1.example.com-<0.1.0>-targeted-3',
  };
}

export function kamailioRegSuccess(): Record<string, unknown> {
  return {
    'Event-Category': 'directory',
    'Event-Name': 'reg_success',
    Status: 'Registered',
    'Event-Timestamp': 1763905200,
    Expires: 300,
    'First-Registration': true,
    Contact: '<sip:alice@127.0.0.1:5070;transport=udp>;expires=300',
    'Call-ID': '1-4242@127.0.0.1',
    Realm: 'sip.example.com',
    Username: 'alice',
    'From-User': 'alice',
    'From-Host': 'sip.example.com',
    'To-User': 'alice',
    'To-Host': 'sip.example.com',
    'User-Agent': 'SIPp/3.6',
    'Custom-Channel-Vars': {
      'Account-ID': '4fe6a3b2c1d0e9f8a7b6c5d4e3f2a1b0',
      'Authorizing-ID': 'dev1',
      'Authorizing-Type': 'device',
    },
    'Proxy-Path': 'sip:127.0.0.1:5060',
    'Proxy-Protocol': 'udp',
    'Proxy-IP': '127.0.0.1',
    'Proxy-Port': '5060',
    'Source-IP': '127.0.0.1',
    'Source-Port': '5070',
    'Original-Contact': '<sip:alice@127.0.0.1:5070;transport=udp>',
    RUID: 'uloc-5f1e-3a2b-1',
    'Registrar-Node': 'kamailio@proxy1.example.com',
    'App-Name': 'kamailio',
    'App-Version': '5.6.3',
    Node: 'kamailio@proxy1.example.com',
    'Msg-ID': 'c3d2e1f0-aaaa-bbbb-cccc-ddddeeeeffff',
  };
}

export const CTX = { appName: 'registrar', appVersion: '4.0.0', node: 'fife@host1.example.com' } as const;
