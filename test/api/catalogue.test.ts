/**
 * The catalogue as data: exchanges, entries, destinations, and the load-time checks that
 * keep "adding a message = adding one entry" safe.
 */
import { describe, expect, it } from 'vitest';
import {
  build,
  Catalogue,
  catalogue,
  destination,
  EXCHANGES,
  exchange,
  type ExchangeName,
  type MessageDef,
} from '../../src/api/index.ts';
import { build as buildWith } from '../../src/api/build.ts';
import { validateWith } from '../../src/api/validate.ts';
import { matchTopic } from '../../src/bus/index.ts';
import { CTX, kamailioAuthnReq, kamailioRegSuccess } from './kamailio-fixtures.ts';
import { sampleFields } from './samples.ts';

describe('exchanges', () => {
  it("has Kazoo's exchanges (kz_amqp.hrl) with their types", () => {
    const types = Object.fromEntries(EXCHANGES.map((e) => [e.name, e.type]));
    expect(types).toMatchObject({
      targeted: 'direct',
      callctl: 'direct',
      callevt: 'topic',
      callmgr: 'topic',
      resources: 'topic',
      conference: 'topic',
      monitor: 'topic',
      configuration: 'topic',
      kapps: 'topic',
      nodes: 'fanout',
      registrar: 'topic',
    });
  });

  it("declares every one with Kazoo's flags (a re-declare with others is refused by RabbitMQ)", () => {
    for (const e of EXCHANGES)
      expect(e.options).toEqual({ durable: false, autoDelete: false, internal: false });
  });

  it('every catalogue entry publishes to a declared exchange', () => {
    const names = new Set(EXCHANGES.map((e) => e.name));
    for (const def of catalogue.all()) expect(names.has(def.route.exchange), def.id).toBe(true);
  });

  it('an unknown exchange name throws', () => {
    expect(() => exchange('nope' as ExchangeName)).toThrow(/unknown exchange 'nope'/);
  });
});

describe('the first messages are all there', () => {
  it.each([
    'authn_req',
    'authn_resp',
    'authn_err',
    'reg_success',
    'reg_query',
    'reg_query_resp',
    'reg_query_error',
    'route_req',
    'route_resp',
    'route_win',
    'call_event',
    'nodes_advertise',
    'doc_created',
    'doc_edited',
    'doc_deleted',
    'error',
    'dialplan.answer',
    'dialplan.hangup',
    'dialplan.play',
    'dialplan.tts',
    'dialplan.record',
    'dialplan.record_call',
    'dialplan.park',
    'dialplan.noop',
    'dialplan.queue',
    'dialplan.bridge',
  ])('%s', (id) => {
    expect(catalogue.has(id)).toBe(true);
  });
});

describe('destination', () => {
  it("ACDC agent keys are Kazoo's (kapi_acdc_agent): actions by name, sync_req without acdc., stats_req per agent", () => {
    const ids = { 'Account-ID': 'acct1', 'Agent-ID': 'ag1' };
    expect(destination('agent_pause', build('agent_pause', ids, CTX))).toMatchObject({
      exchange: 'kapps',
      routingKey: 'acdc.agent.action.pause.acct1.ag1',
    });
    expect(destination('agent_sync_req', build('agent_sync_req', ids, CTX)).routingKey).toBe(
      'agent.sync_req.acct1.ag1',
    );
    expect(destination('agent_stats_req', build('agent_stats_req', ids, CTX)).routingKey).toBe(
      'acdc.agent.stats_req.acct1.ag1',
    );
    expect(
      destination('agent_stats_req', build('agent_stats_req', { 'Account-ID': 'acct1' }, CTX)).routingKey,
    ).toBe('acdc.agent.stats_req.acct1');
  });

  it('authn_req from Kamailio: callmgr, realm lower-cased and encoded', () => {
    const msg = build('authn_req', { ...kamailioAuthnReq(), 'Auth-Realm': 'SIP.Example.com' }, CTX);
    expect(destination('authn_req', msg)).toEqual({
      exchange: 'callmgr',
      routingKey: 'authn.req.sip%2Eexample%2Ecom',
      headers: {},
    });
  });

  it('authn_req with an IP realm routes by the host of To', () => {
    const msg = build(
      'authn_req',
      { ...kamailioAuthnReq(), 'Auth-Realm': '10.0.0.1', To: 'alice@Corp.Example' },
      CTX,
    );
    expect(destination('authn_req', msg).routingKey).toBe('authn.req.corp%2Eexample');
  });

  it('authn_req also arrives on registrar as authn.endpoint.req.* (Kazoo-5-era Kamailio)', () => {
    expect(catalogue.get('authn_req').alsoArrivesOn).toEqual([
      expect.objectContaining({ exchange: 'registrar', bindKey: 'authn.endpoint.req.*' }),
    ]);
  });

  it('reg_success from Kamailio: registrar, realm and user encoded', () => {
    const msg = build('reg_success', { ...kamailioRegSuccess(), Username: 'bob smith' }, CTX);
    expect(destination('reg_success', msg)).toEqual({
      exchange: 'registrar',
      routingKey: 'registration.success.sip%2Eexample%2Ecom.bob+smith',
      headers: {},
    });
  });

  it('replies go to targeted at the queue given', () => {
    const msg = build('authn_err', { 'Defer-Response': 'true' }, CTX);
    const queue = String(kamailioAuthnReq()['Server-ID']);
    expect(destination('authn_err', msg, queue)).toEqual({
      exchange: 'targeted',
      routingKey: queue,
      headers: {},
    });
    expect(() => destination('authn_err', msg)).toThrow(/pass the queue/);
  });

  it('a master pid:// address becomes the queue plus Deliver-To-PID', () => {
    const msg = build('route_win', { 'Call-ID': 'c1', 'Control-Queue': 'q1' }, CTX);
    expect(destination('route_win', msg, 'pid://<0.1234.0>/callflow-q')).toEqual({
      exchange: 'targeted',
      routingKey: 'callflow-q',
      headers: { 'Deliver-To-PID': '<0.1234.0>' },
    });
  });

  it('route_req: account form from CCVs, else realm/user from From', () => {
    const base = {
      'Call-ID': 'c1',
      From: 'alice@sip.example.com',
      To: '1000@sip.example.com',
      Request: '1000@sip.example.com',
    };
    const noAccount = build('route_req', base, CTX);
    expect(destination('route_req', noAccount).routingKey).toBe('route.req.audio.sip%2Eexample%2Ecom.alice');
    const withAccount = build(
      'route_req',
      { ...base, 'Resource-Type': 'video', 'Custom-Channel-Vars': { 'Account-ID': 'acc1' } },
      CTX,
    );
    expect(destination('route_req', withAccount)).toEqual({
      exchange: 'callmgr',
      routingKey: 'route.req.video.acc1',
      headers: {},
    });
  });

  it('call events: callevt, call.<EVENT>.<call-id>, AMQP header call-id', () => {
    const ev = build('call_event', { 'Event-Name': 'CHANNEL_ANSWER', 'Call-ID': 'abc@10.0.0.1' }, CTX);
    expect(destination('call_event', ev)).toEqual({
      exchange: 'callevt',
      routingKey: 'call.CHANNEL_ANSWER.abc%4010%2E0%2E0%2E1',
      headers: { 'call-id': 'abc@10.0.0.1' },
    });
  });

  it("dialplan commands: callctl to the call's control queue", () => {
    const cmd = build('dialplan.hangup', { 'Call-ID': 'c1' }, CTX);
    expect(destination('dialplan.hangup', cmd, 'ctl-q')).toEqual({
      exchange: 'callctl',
      routingKey: 'ctl-q',
      headers: {},
    });
  });

  it('node heartbeat: nodes fanout, empty key', () => {
    const hb = build(
      'nodes_advertise',
      { Expires: 5000, WhApps: { registrar: { Startup: 63900000000 } } },
      CTX,
    );
    expect(destination('nodes_advertise', hb)).toEqual({ exchange: 'nodes', routingKey: '', headers: {} });
  });

  it('doc change: configuration, doc_<action>.<db>.<type>.<id>', () => {
    const d = build(
      'doc_edited',
      { ID: 'dev1', Database: 'account%2F4f%2Fe6%2Fa3b2', Type: 'device', Rev: '2-x' },
      CTX,
    );
    expect(destination('doc_edited', d)).toEqual({
      exchange: 'configuration',
      routingKey: 'doc_edited.account%2F4f%2Fe6%2Fa3b2.device.dev1',
      headers: {},
    });
    const noType = build('doc_deleted', { ID: 'dev1', Database: 'db' }, CTX);
    expect(() => destination('doc_deleted', noType)).toThrow(/Type/);
  });
});

describe('routing-key patterns (what docs/messages.md says)', () => {
  // A `<word>` of a pattern is one routing-key word; the key of a sample message must match
  // one of the pattern's forms, so the documented key cannot drift from the computed one.
  const asBinding = (form: string): string => form.replace(/<[^>]+>/g, '*');
  for (const def of catalogue.all()) {
    if (def.route.kind !== 'key') continue;
    const { pattern } = def.route;
    it(`${def.id}: ${pattern === '' ? '(empty)' : pattern}`, () => {
      const key = destination(def.id, build(def.id, sampleFields(def), CTX)).routingKey;
      const forms = pattern.split(' or ');
      expect(
        forms.some((f) => (f === '' ? key === '' : matchTopic(asBinding(f), key))),
        `key ${key}`,
      ).toBe(true);
    });
  }
});

describe('the catalogue refuses inconsistent entries at load', () => {
  const base: MessageDef = {
    id: 'x',
    category: 'test',
    name: 'x',
    doc: 'test',
    required: ['A'],
    optional: [],
    route: { exchange: 'targeted', kind: 'queue' },
  };

  it('a duplicate id', () => {
    expect(() => new Catalogue([base, { ...base, name: 'y' }])).toThrow(/'x' is defined twice/);
  });

  it('two entries on one category/name without a discriminator', () => {
    expect(() => new Catalogue([base, { ...base, id: 'y' }])).toThrow(/share test\/x.*discriminator/);
  });

  it('a discriminator without a fixed value', () => {
    expect(() => new Catalogue([{ ...base, discriminator: 'Kind' }])).toThrow(
      /discriminator 'Kind' must have a fixed value/,
    );
  });

  it('a header both required and optional', () => {
    expect(() => new Catalogue([{ ...base, optional: ['A'] }])).toThrow(/A both required and optional/);
  });

  it('an exchange that is not declared', () => {
    expect(
      () => new Catalogue([{ ...base, route: { exchange: 'nowhere' as ExchangeName, kind: 'queue' } }]),
    ).toThrow(/exchange 'nowhere'/);
  });

  it('a new message is one entry: it builds, validates and is found', () => {
    const extra: MessageDef = {
      ...base,
      id: 'test_ping',
      name: 'ping',
      required: ['Target'],
      types: { Target: 'string' },
    };
    const cat = new Catalogue([...catalogue.all(), extra]);
    expect(cat.lookup('test', 'ping')?.id).toBe('test_ping');
    const msg = buildWith(cat.get('test_ping'), { Target: 'node1', Junk: 1 }, CTX);
    expect(msg).toMatchObject({ 'Event-Category': 'test', 'Event-Name': 'ping', Target: 'node1' });
    expect(validateWith(cat, msg).ok).toBe(true);
    const r = validateWith(cat, { ...msg, Target: 7 });
    expect(r.ok ? '' : r.reason).toContain('Target: expected string');
  });
});

describe('adapters in the shapes src/bus plugs in', () => {
  it('busDecoder and busValidator wrap decode and validate', async () => {
    const { busDecoder, busValidator } = await import('../../src/api/bus-adapters.ts');
    const dec = busDecoder({ maxBytes: 1024 });
    const good = dec(Buffer.from(JSON.stringify(kamailioAuthnReq())), { contentType: 'application/json' });
    expect(good.ok && busValidator(good.message)).toBeUndefined();
    expect(good.ok).toBe(true);
    const bad = dec(Buffer.from('[1]'), {});
    expect(bad.ok ? '' : bad.reason).toContain('expected an object');
    expect(busValidator({ ...kamailioAuthnReq(), From: 3 })).toContain('From: expected string');
  });

  it('busExchangeSpecs flattens the options', async () => {
    const { busExchangeSpecs } = await import('../../src/api/bus-adapters.ts');
    expect(busExchangeSpecs()).toContainEqual({
      name: 'nodes',
      type: 'fanout',
      durable: false,
      autoDelete: false,
    });
    expect(busExchangeSpecs()).toHaveLength(EXCHANGES.length);
  });
});
