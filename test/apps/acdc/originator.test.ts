/**
 * acdc_originator on its own, on the embedded bus, with a scripted ecallmgr: an agent's
 * leg whose end is published right behind the originate answer (the caller hung up the
 * moment it was bridged to the agent) still ends the agent's call, and ringing binds nothing
 * on the broker; a ring the agent gave up on whose originate answer never comes is
 * forgotten, not kept.
 */
import { afterEach, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Runtime, Supervisor } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import {
  createTransport,
  EmbeddedBroker,
  encodeJson,
  jsonProperties,
  type BusTransport,
} from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import { ORIGINATE_REQ_KEY, build, callEventKey } from '../../../src/api/index.ts';
import { ORIGINATOR, originateDevice, originatorChildSpec } from '../../../apps/acdc/originator.ts';
import { acdcSend, type AcdcEnv } from '../../../apps/acdc/send.ts';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** The originator under a supervisor on a fresh embedded bus. */
async function startOriginator(noAnswerSlackMs?: number) {
  const { logger, lines } = memoryLogger('acdc-originator-test@localhost', 'info');
  const bus = createTransport({
    url: 'embedded',
    logger,
    embeddedBroker: new EmbeddedBroker(),
    namePrefix: `fife-orig-${randomBytes(3).toString('hex')}`,
  });
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  const rt = new Runtime({ node: 'acdc-originator-test@localhost', logger });
  const env: AcdcEnv = {
    bus,
    ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: rt.node },
    accountId: randomBytes(16).toString('hex'),
  };
  const sup = await Supervisor.start(
    rt,
    { children: [originatorChildSpec({ env, noAnswerSlackMs })] },
    { name: 'originator_sup' },
  );
  if (sup.type !== 'ok') throw new Error(`originator failed to start: ${JSON.stringify(sup)}`);
  close = async () => {
    const exited = rt.awaitExit(sup.pid);
    rt.exit(sup.pid, 'shutdown');
    await exited;
    await rt.shutdown();
    await bus.close();
  };
  return { rt, bus, env, lines };
}

it("the agent leg's CHANNEL_DESTROY published right behind the originate answer ends the agent's call", async () => {
  const { rt, bus, env } = await startOriginator();
  // ecallmgr: the leg answers and is bridged; the caller hangs up at once, so the leg's
  // CHANNEL_DESTROY goes out right after the originate_resp.
  const reqs = await bus.assertQueue('', { exclusive: true, autoDelete: true });
  await bus.bindQueue(reqs, 'callmgr', ORIGINATE_REQ_KEY);
  await bus.consume(reqs, (d) => {
    const req = JSON.parse(d.body.toString()) as Record<string, unknown>;
    const leg = String(req['Outbound-Call-ID']);
    const destroy = build(
      'call_event',
      { 'Event-Name': 'CHANNEL_DESTROY', 'Call-ID': leg, 'Hangup-Cause': 'NORMAL_CLEARING' },
      env.ctx,
    );
    void acdcSend(
      env,
      'originate_resp',
      { 'Call-ID': leg, 'Application-Response': 'SUCCESS' },
      String(req['Server-ID']),
    ).then(() =>
      bus.publish('callevt', callEventKey('CHANNEL_DESTROY', leg), encodeJson(destroy), jsonProperties()),
    );
  });
  // No broker (un)binding per ring: the originator's queue hears every CHANNEL_DESTROY
  // from its start; a bind and unbind per leg, made inside this one process, queued every
  // ring behind them (with 100 agents rings timed out in its mailbox).
  const bindings: string[] = [];
  for (const op of ['bindQueue', 'unbindQueue'] as const) {
    const orig = bus[op].bind(bus);
    bus[op] = (q: string, x: string, key: string) => (bindings.push(`${op} ${key}`), orig(q, x, key));
  }
  const device = originateDevice('a', [
    { 'Invite-Format': 'username', 'To-Username': 'agent-a', 'To-Realm': 'x' },
  ]);
  const result = await device.ring(
    { agentId: 'a', queueId: 'support', callId: 'caller-1', ringTimeoutMs: 5000 },
    rt,
  );
  expect(result.answered).toBe(true);
  if (!result.answered) return;
  let ended = false;
  void result.ended.then(() => (ended = true));
  // Any later message through the originator's queue comes after the DESTROY: once a ring
  // of another call has been answered, the first call's end must have been seen.
  const second = await device.ring(
    { agentId: 'a', queueId: 'support', callId: 'caller-2', ringTimeoutMs: 5000 },
    rt,
  );
  expect(second.answered).toBe(true);
  await Promise.resolve();
  expect(ended).toBe(true);
  expect(bindings).toEqual([]);
});

it('a ring the agent gave up on, with no originate answer ever: forgotten after the Timeout and slack, the leg hung up', async () => {
  const { rt, bus, env, lines } = await startOriginator(200);
  const { control, hangups, legs } = await silentEcallmgr(bus, env);
  const device = originateDevice('a', [
    { 'Invite-Format': 'username', 'To-Username': 'agent-a', 'To-Realm': 'x' },
  ]);
  const described = () =>
    rt.resolve(ORIGINATOR)?.meta?.describe?.() as { queue: string; state: { pending: number } };
  const pending = () => described().state.pending;
  const ring = device.ring({ agentId: 'a', queueId: 'support', callId: 'caller-1', ringTimeoutMs: 300 }, rt);
  await until(() => legs.length === 1 && pending() === 1, 'the leg placed');
  // The agent gives up (its ring timeout): the ring ends at once, the leg is hung up.
  device.stop('caller-1', rt);
  expect(await ring).toEqual({ answered: false });
  await until(() => hangups.length === 1, 'the leg hung up');
  // No originate answer ever comes: the offer is forgotten, not held for good.
  await until(() => pending() === 0, 'the offer forgotten');
  expect(
    lines.some(
      (l) =>
        l.msg === 'acdc originator: no originate answer in time; the offer is forgotten' &&
        l.call_id === 'caller-1',
    ),
  ).toBe(true);
  // Answered after all: nobody follows that call, so it is hung up.
  await acdcSend(
    env,
    'originate_resp',
    { 'Call-ID': legs[0], 'Application-Response': 'SUCCESS', 'Control-Queue': control },
    described().queue,
  );
  await until(() => hangups.length >= 2, 'the late answered leg hung up');
  expect(hangups.every((h) => h === legs[0])).toBe(true);
});

/** A scripted ecallmgr that places each leg (originate_uuid with its control queue) and
 *  then says nothing more; it records the legs placed and the hang-ups sent to them. */
async function silentEcallmgr(bus: BusTransport, env: AcdcEnv) {
  const control = `ctl-${randomBytes(3).toString('hex')}`;
  const ctl = await bus.assertQueue(control, { exclusive: true, autoDelete: true });
  await bus.bindQueue(ctl, 'callctl', control);
  const hangups: string[] = [];
  await bus.consume(ctl, (d) => void hangups.push(String(JSON.parse(d.body.toString())['Call-ID'])));
  const reqs = await bus.assertQueue('', { exclusive: true, autoDelete: true });
  await bus.bindQueue(reqs, 'callmgr', ORIGINATE_REQ_KEY);
  const legs: string[] = [];
  await bus.consume(reqs, (d) => {
    const req = JSON.parse(d.body.toString()) as Record<string, unknown>;
    const leg = String(req['Outbound-Call-ID']);
    legs.push(leg);
    void acdcSend(
      env,
      'originate_uuid',
      { 'Outbound-Call-ID': leg, 'Outbound-Call-Control-Queue': control },
      String(req['Server-ID']),
    );
  });
  return { control, hangups, legs };
}

async function until(fn: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

it('a ring stopped by the agent right after it started: the ring ends unanswered and the leg placed meanwhile is hung up', async () => {
  const { rt, bus, env, lines } = await startOriginator(200);
  const { hangups, legs } = await silentEcallmgr(bus, env);
  const device = originateDevice('a', [
    { 'Invite-Format': 'username', 'To-Username': 'agent-a', 'To-Realm': 'x' },
  ]);
  // As an agent process that yields to a peer the moment after it began to ring.
  const ring = device.ring({ agentId: 'a', queueId: 'support', callId: 'caller-1', ringTimeoutMs: 300 }, rt);
  device.stop('caller-1', rt);
  expect(await ring).toEqual({ answered: false });
  // The stop was heard although it came before the leg's uuid: the leg is hung up once known.
  await until(() => hangups.length === 1, 'the placed leg hung up');
  expect(hangups).toEqual(legs);
  expect(lines.some((l) => l.msg === 'acdc originator: agent leg hung up' && l.leg === legs[0])).toBe(true);
});
