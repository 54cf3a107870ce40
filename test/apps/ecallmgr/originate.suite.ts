/**
 * ecallmgr originate (Kazoo's ecallmgr_originate): an app publishes originate_req on
 * `callmgr` / `originate.resource.req`; ecallmgr asks the real registrar (reg_query) for
 * the device's contact, rings it on the simulator, answers the requester on `targeted`,
 * and the new leg is controlled and reported like any call. Run on the embedded bus
 * (originate.test.ts) and on RabbitMQ (originate.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Supervisor, type Pid } from '../../../src/kernel/index.ts';
import {
  ORIGINATE_REQ_KEY,
  build,
  callEventKey,
  regQueryKey,
  regSuccessKey,
} from '../../../src/api/index.ts';
import {
  ListenerCore,
  Requester,
  encodeJson,
  jsonProperties,
  type Envelope,
} from '../../../src/bus/index.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { registrarTree } from '../../../supervisors/registrar.sup.ts';
import { names } from '../../../apps/ecallmgr/context.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { until } from '../registrar/support.ts';
import { header, type Harness } from './harness.ts';

const REALM = 'example.com';
const CTX = { appName: 'test-acdc', appVersion: '4.3.0', node: 'test-app@localhost' };

export function originateSuite(start: () => Promise<Harness>): void {
  let h: Harness;
  let store: EmbeddedStore;
  let registrar: Pid;
  let requester: Requester;
  beforeEach(async () => {
    h = await start();
    requester = new Requester({ transport: h.bus, logger: h.rt.log, timeoutMs: 3000 });
    await requester.start();
    store = new EmbeddedStore({ dir: tmpDir('fife-ecm-originate-'), logger: h.rt.log });
    const r = await Supervisor.start(
      h.rt,
      registrarTree({
        store,
        bus: h.bus,
        config: { settings: { registrar: { queue: `registrar_${randomBytes(4).toString('hex')}` } } },
      }),
    );
    if (r.type !== 'ok') throw new Error(`registrar failed to start: ${JSON.stringify(r)}`);
    registrar = r.pid;
  });
  afterEach(async () => {
    const exited = h.rt.awaitExit(registrar);
    h.rt.exit(registrar, 'shutdown');
    await exited;
    await requester.stop();
    await h.close();
    await store.close();
  });

  /** A device registers with the registrar (reg_success, as Kamailio sends it). */
  async function register(user: string): Promise<void> {
    const msg = build(
      'reg_success',
      {
        Status: 'Registered',
        'Event-Timestamp': Math.floor(Date.now() / 1000),
        Expires: 3600,
        Contact: `<sip:${user}@10.1.2.3:5060;transport=udp>`,
        'Call-ID': `reg-${user}-${randomBytes(3).toString('hex')}`,
        Realm: REALM,
        Username: user,
      },
      { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@proxy.test' },
    );
    await h.bus.publish(
      'registrar',
      regSuccessKey(REALM, user),
      encodeJson(msg as Envelope),
      jsonProperties(),
    );
    const q = build('reg_query', { Realm: REALM, Username: user }, CTX) as unknown as Envelope;
    await until(async () => {
      const rs = await requester.callCollect(
        q,
        { exchange: 'registrar', routingKey: regQueryKey(REALM, user) },
        { until: (r) => r.length > 0, timeoutMs: 3000, validate: () => true },
      );
      return rs[0]?.['Event-Name'] === 'reg_query_resp';
    }, `registration of ${user}`);
  }

  async function originate(fields: Record<string, unknown>): Promise<Envelope> {
    const msg = build(
      'originate_req',
      { 'Server-ID': h.app.queue, 'Application-Name': 'park', ...fields },
      CTX,
    ) as unknown as Envelope;
    await h.bus.publish('callmgr', ORIGINATE_REQ_KEY, encodeJson(msg), jsonProperties());
    return msg;
  }

  const endpoint = (user: string): Record<string, unknown> => ({
    'Invite-Format': 'username',
    'To-Username': user,
    'To-Realm': REALM,
  });

  const reply = (req: Envelope, name: string): Promise<Envelope> =>
    h.app.waitFor(
      (m) => m['Event-Name'] === name && m['Msg-ID'] === req['Msg-ID'],
      `${name} of the originate`,
    );

  const originates = async (): Promise<number> =>
    (await Supervisor.whichChildren(h.rt, names.originates)).length;

  it('a registered device is rung, answers, and the requester gets originate_started and originate_resp; the leg is driven and reported like any call', async () => {
    h.sw.registerEndpoint('1000', { mode: 'manual' });
    await register('1000');
    const before = h.rt.processCount;
    const req = await originate({
      Endpoints: [endpoint('1000')],
      'Originate-Immediate': true,
      'Custom-Channel-Vars': { 'Account-ID': 'acct1' },
    });
    const started = await reply(req, 'originate_started');
    const callId = String(started['Call-ID']);
    const ringing = await h.waitSwitch((e) => e.uuid === callId && e.name === 'CHANNEL_CREATE', 'the leg');
    expect(header(ringing, 'Caller-Destination-Number')).toBe('1000');
    expect(header(ringing, 'variable_ecallmgr_Account-ID')).toBe('acct1');
    h.sw.answer(callId);
    const resp = await reply(req, 'originate_resp');
    expect(resp).toMatchObject({
      'Event-Category': 'resource',
      'App-Name': 'ecallmgr',
      'Call-ID': callId,
      'Application-Response': 'SUCCESS',
      'Control-Queue': started['Control-Queue'],
    });
    const answer = await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect((answer['Custom-Channel-Vars'] as Record<string, unknown>)['Account-ID']).toBe('acct1');
    // The requester drives the leg on its control queue; no route_req was made for it.
    await h.app.command(String(resp['Control-Queue']), callId, 'hangup');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(h.app.seen.some((m) => m['Event-Name'] === 'route_req' || m['Event-Name'] === 'route_win')).toBe(
      false,
    );
    expect(h.executed(callId)).toContain('hangup');
    await until(
      () =>
        h.rt.whereis(names.events(callId)) === undefined && h.rt.whereis(names.control(callId)) === undefined,
      'the leg processes to end',
    );
    expect(await originates()).toBe(0);
    expect(h.rt.processCount).toBe(before);
  });

  it('originate_uuid then originate_ready: nothing rings until originate_execute comes', async () => {
    h.sw.registerEndpoint('1001', { mode: 'auto' });
    await register('1001');
    const req = await originate({ Endpoints: [endpoint('1001')], 'Outbound-Call-ID': 'agent-leg-1' });
    const uuid = await reply(req, 'originate_uuid');
    expect(uuid['Outbound-Call-ID']).toBe('agent-leg-1');
    expect(String(uuid['Outbound-Call-Control-Queue'])).toContain('agent-leg-1');
    const ready = await reply(req, 'originate_ready');
    expect(ready).toMatchObject({ 'Event-Category': 'dialplan', 'Call-ID': 'agent-leg-1' });
    expect(h.sw.hasChannel('agent-leg-1')).toBe(false);
    const exec = build(
      'originate_execute',
      { 'Call-ID': 'agent-leg-1', 'Msg-ID': req['Msg-ID'], 'Server-ID': h.app.queue },
      CTX,
    ) as unknown as Envelope;
    await h.bus.publish('targeted', String(ready['Server-ID']), encodeJson(exec), jsonProperties());
    const resp = await reply(req, 'originate_resp');
    expect(resp['Call-ID']).toBe('agent-leg-1');
    await h.app.waitEvent('agent-leg-1', 'CHANNEL_ANSWER');
    h.sw.hangup('agent-leg-1');
    await h.app.waitEvent('agent-leg-1', 'CHANNEL_DESTROY');
  });

  it('an unregistered device gets an error reply naming the cause, and nothing is left of the originate', async () => {
    const before = h.rt.processCount;
    const req = await originate({ Endpoints: [endpoint('1999')], 'Originate-Immediate': true });
    const err = await reply(req, 'originate_resp');
    expect(err).toMatchObject({ 'Event-Category': 'error', 'Error-Message': 'USER_NOT_REGISTERED' });
    await until(() => h.rt.processCount === before, 'the originate to end');
    expect(await originates()).toBe(0);
  });

  it('a device the switch cannot reach gets the switch cause', async () => {
    await register('1002'); // registered, but the switch has no such device
    h.sw.registerEndpoint('1003', { mode: 'reject', rejectCause: 'CALL_REJECTED' });
    await register('1003');
    const before = h.rt.processCount;
    const req = await originate({ Endpoints: [endpoint('1003')], 'Originate-Immediate': true });
    const err = await reply(req, 'originate_resp');
    expect(err).toMatchObject({ 'Event-Category': 'error', 'Error-Message': 'CALL_REJECTED' });
    expect(typeof err['Call-ID']).toBe('string');
    await h.app.waitEvent(String(err['Call-ID']), 'CHANNEL_DESTROY');
    await until(() => h.rt.processCount === before, 'the originate and the leg processes to end');
    expect(await originates()).toBe(0);
  });

  it('Application-Name bridge with Existing-Call-ID: the answered leg is bridged to that call', async () => {
    const { callId: caller } = await h.placeRoutedCall('1005', '2000');
    h.sw.registerEndpoint('1006', { mode: 'auto' });
    await register('1006');
    const req = await originate({
      'Application-Name': 'bridge',
      'Existing-Call-ID': caller,
      Endpoints: [endpoint('1006')],
    });
    const resp = await reply(req, 'originate_resp');
    const leg = String(resp['Call-ID']);
    const bridged = await h.app.waitEvent(leg, 'CHANNEL_BRIDGE');
    expect(bridged['Other-Leg-Call-ID']).toBe(caller);
    h.sw.hangup(caller);
    await h.app.waitEvent(leg, 'CHANNEL_DESTROY');
    // The caller is a call of its own, not just the leg's other side: its processes get its
    // events, and its CHANNEL_DESTROY is the switch's, not one made up when ecallmgr finds
    // the channel gone.
    const destroyed = await h.app.waitEvent(caller, 'CHANNEL_DESTROY');
    expect(destroyed).toMatchObject({ 'Hangup-Cause': 'NORMAL_CLEARING' });
    expect(destroyed['Disposition']).not.toBe('channel_gone');
  });

  it('two legs for one caller answered in the same instant: one is bridged to it, the other hung up with the error', async () => {
    const { callId: caller } = await h.placeRoutedCall('1010', '2000');
    for (const user of ['1011', '1012']) {
      h.sw.registerEndpoint(user, { mode: 'manual' });
      await register(user);
    }
    const legs = ['leg-1011', 'leg-1012'];
    const reqs = await Promise.all(
      ['1011', '1012'].map((user, i) =>
        originate({
          'Application-Name': 'bridge',
          'Existing-Call-ID': caller,
          'Outbound-Call-ID': legs[i],
          'Originate-Immediate': true,
          Endpoints: [endpoint(user)],
        }),
      ),
    );
    await until(() => legs.every((l) => h.sw.hasChannel(l)), 'both legs ringing');
    for (const l of legs) h.sw.answer(l);
    const resps = await Promise.all(reqs.map((r) => reply(r, 'originate_resp')));
    const won = resps.filter((r) => r['Application-Response'] === 'SUCCESS');
    const lost = resps.filter((r) => r['Event-Category'] === 'error');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!['Error-Message']).toBe('existing call already bridged');
    const [winner, loser] = [String(won[0]!['Call-ID']), String(lost[0]!['Call-ID'])];
    await until(() => !h.sw.hasChannel(loser), 'the other leg hung up');
    expect(h.sw.getVar(caller, 'bridge_uuid')).toBe(winner);
    expect(h.sw.hasChannel(winner)).toBe(true);
    h.sw.hangup(caller);
    await h.app.waitEvent(winner, 'CHANNEL_DESTROY');
  });

  it('an invalid originate_req gets a clear error reply and a log line', async () => {
    const bad = {
      ...(build(
        'originate_req',
        { 'Server-ID': h.app.queue, 'Application-Name': 'park', Endpoints: [] },
        CTX,
      ) as Record<string, unknown>),
    };
    bad['Application-Name'] = 'dance';
    bad.Endpoints = [{ 'To-User': '1000' }];
    await h.bus.publish('callmgr', ORIGINATE_REQ_KEY, encodeJson(bad as Envelope), jsonProperties());
    const err = await reply(bad as Envelope, 'originate_resp');
    expect(err['Event-Category']).toBe('error');
    expect(String(err['Error-Message'])).toMatch(/Application-Name/);
    expect(String(err['Error-Message'])).toMatch(/Invite-Format/);
    expect(h.lines.some((l) => l.msg === 'listener: invalid message dropped')).toBe(true);
    expect(await originates()).toBe(0);
  });

  it('a leg placed for another call (Origination-Call-ID) has its events keyed on that call, as Kazoo keys them', async () => {
    h.sw.registerEndpoint('1004', { mode: 'auto' });
    await register('1004');
    const heard: Envelope[] = [];
    const parent = `parent-${randomBytes(3).toString('hex')}`;
    const watcher = new ListenerCore({
      transport: h.bus,
      logger: h.rt.log,
      bindings: [{ exchange: 'callevt', routingKey: callEventKey('*', parent) }],
      handleEvent: (m) => void heard.push(m),
    });
    await watcher.start();
    try {
      const req = await originate({
        Endpoints: [endpoint('1004')],
        'Originate-Immediate': true,
        'Origination-Call-ID': parent,
      });
      const resp = await reply(req, 'originate_resp');
      const callId = String(resp['Call-ID']);
      await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
      await until(
        () => heard.some((m) => m['Event-Name'] === 'CHANNEL_ANSWER'),
        'the answer keyed on the parent',
      );
      const answer = heard.find((m) => m['Event-Name'] === 'CHANNEL_ANSWER')!;
      expect(answer).toMatchObject({ 'Call-ID': callId, 'Origination-Call-ID': parent });
      h.sw.hangup(callId);
      await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    } finally {
      await watcher.stop();
    }
  });

  it('no originate_execute after originate_ready: the requester is told, nothing rang and nothing is left', async () => {
    h.sw.registerEndpoint('1007', { mode: 'auto' });
    await register('1007');
    const before = h.rt.processCount;
    const req = await originate({ Endpoints: [endpoint('1007')] });
    const ready = await reply(req, 'originate_ready');
    const err = await reply(req, 'originate_resp');
    expect(err).toMatchObject({
      'Event-Category': 'error',
      'Call-ID': ready['Call-ID'],
      'Error-Message': 'Failed to receive valid originate_execute in time',
    });
    expect(h.sw.hasChannel(String(ready['Call-ID']))).toBe(false);
    await until(() => h.rt.processCount === before, 'the originate and the leg processes to end');
  });
}
