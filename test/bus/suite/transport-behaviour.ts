/**
 * Behaviour suite, part 1: the transport contract (src/bus/types.ts), run against the
 * embedded broker and RabbitMQ alike. Where the two differ, the test says so by `env.kind`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BusChannelError, BusNotConnectedError, PublishUnroutableError } from '../../../src/bus/errors.ts';
import type { RecoveringTransport } from '../../../src/bus/recovering-transport.ts';
import type { ExchangeType } from '../../../src/bus/types.ts';
import type { BusEnv } from '../support/bus-env.ts';
import { KAZOO_EXCHANGES } from '../support/kazoo-exchanges.ts';
import { nextEvent, sink } from '../support/sink.ts';

export function transportBehaviour(env: () => BusEnv): void {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await env().closeAll();
  });

  /** A test exchange that is deleted after the test. */
  async function exchange(
    t: RecoveringTransport,
    type: ExchangeType,
    prefix = env().prefix(),
  ): Promise<string> {
    const name = `${prefix}-${type}`;
    await t.assertExchange({ name, type });
    cleanups.push(() => t.deleteExchange(name));
    return name;
  }

  describe('exchanges', () => {
    it("DIFFERS: RabbitMQ's pre-declared amq.* exchanges exist only on RabbitMQ", async () => {
      const e = env();
      const t = await e.transport();
      const q = await t.assertQueue('', { exclusive: true });
      const bind = t.bindQueue(q, 'amq.topic', 'a.#');
      if (e.kind === 'rabbitmq') await expect(bind).resolves.toBeUndefined();
      else await expect(bind).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await expect(t.assertExchange({ name: 'amq.fife-test', type: 'topic' })).rejects.toMatchObject({
        reason: 'ACCESS_REFUSED',
      });
    });

    it("declares Kazoo's exchanges, and re-declaring them is idempotent", async () => {
      const t = await env().transport();
      await t.assertExchanges(KAZOO_EXCHANGES);
      await expect(t.assertExchanges(KAZOO_EXCHANGES)).resolves.toBeUndefined();
    });

    it('refuses a re-declare with another type (PRECONDITION_FAILED) and keeps working', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'topic');
      await expect(t.assertExchange({ name: x, type: 'direct' })).rejects.toMatchObject({
        reason: 'PRECONDITION_FAILED',
      });
      const q = await t.assertQueue('', { exclusive: true });
      await expect(t.bindQueue(q, x, 'a.b')).resolves.toBeUndefined();
    });
  });

  describe('routing', () => {
    it('topic: * matches one word, # zero or more, literal keys match exactly', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'topic');
      const patterns = {
        star: 'call.*.abc',
        hash: 'call.#',
        exact: 'call.CHANNEL_ANSWER.abc',
        mid: 'a.#.z',
        all: '#',
      };
      const sinks: Record<string, Awaited<ReturnType<typeof sink>>> = {};
      for (const [k, p] of Object.entries(patterns)) {
        const q = await t.assertQueue('', { exclusive: true });
        await t.bindQueue(q, x, p);
        sinks[k] = await sink(t, q);
      }
      for (const rk of [
        'call.CHANNEL_ANSWER.abc',
        'call.x.y.abc',
        'call',
        'a.z',
        'a.b.c.z',
        'other',
        'call.CHANNEL_ANSWER.abd',
      ])
        await t.publish(x, rk, rk);
      expect(await sinks.star.settle()).toEqual(['call.CHANNEL_ANSWER.abc']);
      expect(await sinks.hash.settle()).toEqual([
        'call.CHANNEL_ANSWER.abc',
        'call.x.y.abc',
        'call',
        'call.CHANNEL_ANSWER.abd',
      ]);
      expect(await sinks.exact.settle()).toEqual(['call.CHANNEL_ANSWER.abc']);
      expect(await sinks.mid.settle()).toEqual(['a.z', 'a.b.c.z']);
      expect(await sinks.all.settle()).toHaveLength(7);
    });

    it('topic: an empty routing key matches # but not *', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'topic');
      const qHash = await t.assertQueue('', { exclusive: true });
      const qStar = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(qHash, x, '#');
      await t.bindQueue(qStar, x, '*');
      const [h, s] = [await sink(t, qHash), await sink(t, qStar)];
      await t.publish(x, '', 'empty');
      expect(await h.settle()).toEqual(['empty']);
      expect(await s.settle()).toEqual([]);
    });

    it('direct routes on the exact key; fanout ignores the key; a queue bound twice gets one copy', async () => {
      const t = await env().transport();
      const d = await exchange(t, 'direct');
      const f = await exchange(t, 'fanout');
      const q1 = await t.assertQueue('', { exclusive: true });
      const q2 = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(q1, d, 'k1');
      await t.bindQueue(q2, d, 'k2');
      await t.bindQueue(q1, f, '');
      await t.bindQueue(q2, f, 'anything');
      await t.bindQueue(q2, f, 'again');
      const [s1, s2] = [await sink(t, q1), await sink(t, q2)];
      await t.publish(d, 'k1', 'd1');
      await t.publish(d, 'k2', 'd2');
      await t.publish(d, 'k3', 'nobody');
      await t.publish(f, 'whatever', 'fan');
      expect(await s1.settle()).toEqual(['d1', 'fan']);
      expect(await s2.settle()).toEqual(['d2', 'fan']);
    });

    it('binding to a missing exchange or consuming a missing queue is NOT_FOUND, and the transport keeps working', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true });
      const missing = `${env().prefix()}-missing`;
      await expect(t.bindQueue(q, missing, 'x')).rejects.toBeInstanceOf(BusChannelError);
      await expect(t.bindQueue(q, missing, 'x')).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await expect(t.consume(missing, () => undefined)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await expect(t.checkQueue(missing)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      const s = await sink(t, q);
      await t.publish('', q, 'still-fine');
      expect(await s.settle()).toEqual(['still-fine']);
      expect(t.topology.bindings.size).toBe(0);
    });

    it('publishConfirmed resolves once stored, and rejects NOT_FOUND for a missing exchange', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'direct');
      const q = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(q, x, 'k');
      await t.publishConfirmed(x, 'k', 'one');
      await expect(t.publishConfirmed(`${env().prefix()}-nope`, 'k', 'lost')).rejects.toMatchObject({
        reason: 'NOT_FOUND',
      });
      await t.publishConfirmed(x, 'k', 'two');
      expect((await t.checkQueue(q)).messageCount).toBe(2);
    });

    it('a mandatory publishConfirmed that no queue takes rejects PublishUnroutableError (basic.return); routed ones resolve', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'direct');
      const q = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(q, x, 'k');
      const gone = await t.assertQueue('', { exclusive: true });
      await t.deleteQueue(gone);
      await t.publishConfirmed(x, 'k', 'routed', { mandatory: true });
      const lost = t.publishConfirmed('', gone, 'to a gone queue', { mandatory: true });
      const lostX = t.publishConfirmed(x, 'nobody', 'to an unbound key', { mandatory: true });
      const after = t.publishConfirmed('', q, 'after', { mandatory: true });
      await expect(lost).rejects.toBeInstanceOf(PublishUnroutableError);
      await expect(lostX).rejects.toMatchObject({
        code: 'PUBLISH_UNROUTABLE',
        exchange: x,
        routingKey: 'nobody',
      });
      await after;
      // Without mandatory the broker drops it, as AMQP says.
      await t.publishConfirmed('', gone, 'dropped');
      expect((await t.checkQueue(q)).messageCount).toBe(2);
    });

    it('a fire-and-forget publish to a missing exchange rejects NOT_FOUND, and publishes around it go through in order', async () => {
      const e = env();
      const t = await e.transport();
      const q = await t.assertQueue('', { exclusive: true });
      const s = await sink(t, q);
      const before = t.publish('', q, 'before');
      const lost = t.publish(`${e.prefix()}-nope`, 'k', 'lost');
      const after = t.publish('', q, 'after');
      await expect(lost).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await Promise.all([before, after]);
      expect(await s.settle()).toEqual(['before', 'after']);
    });
  });

  describe('queues', () => {
    it("'' makes a client-generated name with the transport's prefix", async () => {
      const t = await env().transport({ namePrefix: 'fife-test-node1' });
      const q = await t.assertQueue('', { exclusive: true });
      expect(q).toMatch(/^fife-test-node1-q\d+-[0-9a-f]{8}$/);
    });

    it('re-declaring a queue with other arguments is PRECONDITION_FAILED', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true, maxLength: 10 });
      await expect(t.assertQueue(q, { exclusive: true, maxLength: 20 })).rejects.toMatchObject({
        reason: 'PRECONDITION_FAILED',
      });
      await expect(t.assertQueue(q, { exclusive: true, maxLength: 10 })).resolves.toBe(q);
    });

    it('an exclusive queue is locked to its connection and vanishes with it', async () => {
      const owner = await env().transport();
      const other = await env().transport();
      const q = await owner.assertQueue('', { exclusive: true });
      await expect(other.consume(q, () => undefined)).rejects.toMatchObject({ reason: 'RESOURCE_LOCKED' });
      await expect(other.assertQueue(q, { exclusive: true })).rejects.toMatchObject({
        reason: 'RESOURCE_LOCKED',
      });
      await owner.close();
      await expect(other.checkQueue(q)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    });

    it('an auto-delete queue is deleted when its last consumer is cancelled', async () => {
      const t = await env().transport();
      const q = await t.assertQueue(`${env().prefix()}-ad`, { autoDelete: true });
      const a = await t.consume(q, () => undefined);
      const b = await t.consume(q, () => undefined);
      await t.cancel(a);
      expect((await t.checkQueue(q)).consumerCount).toBe(1);
      await t.cancel(b);
      await expect(t.checkQueue(q)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      expect(t.topology.queues.has(q)).toBe(false);
    });

    it('x-max-length drops the oldest messages', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true, maxLength: 3 });
      for (const n of [1, 2, 3, 4, 5]) await t.publishConfirmed('', q, `m${n}`);
      expect((await t.checkQueue(q)).messageCount).toBe(3);
      const s = await sink(t, q);
      await s.count(3);
      expect(s.bodies()).toEqual(['m3', 'm4', 'm5']);
    });

    it('x-message-ttl 0 discards what cannot be delivered at once', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true, messageTtl: 0 });
      await t.publishConfirmed('', q, 'expired');
      expect((await t.checkQueue(q)).messageCount).toBe(0);
    });

    it('a message with its own expiration 0 is discarded at the head; the next is delivered', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true });
      await t.publishConfirmed('', q, 'gone', { expiration: '0' });
      await t.publishConfirmed('', q, 'kept');
      const s = await sink(t, q);
      await s.count(1);
      expect(await s.settle()).toEqual(['kept']);
    });

    it('x-max-priority: waiting messages are delivered highest priority first', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true, maxPriority: 10 });
      await t.publishConfirmed('', q, 'none');
      await t.publishConfirmed('', q, 'low', { priority: 1 });
      await t.publishConfirmed('', q, 'high', { priority: 9 });
      await t.publishConfirmed('', q, 'low2', { priority: 1 });
      const s = await sink(t, q);
      await s.count(4);
      expect(s.bodies()).toEqual(['high', 'low', 'low2', 'none']);
    });

    it('deleteQueue removes the queue and the transport forgets it', async () => {
      const t = await env().transport();
      const q = await t.assertQueue(`${env().prefix()}-del`, {});
      await t.deleteQueue(q);
      await expect(t.checkQueue(q)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      expect(t.topology.queues.has(q)).toBe(false);
    });
  });

  describe('consumers', () => {
    it('prefetch bounds unacked deliveries; ack releases more; nack requeues as redelivered', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true });
      for (const n of [1, 2, 3, 4, 5]) await t.publishConfirmed('', q, `m${n}`);
      const s = await sink(t, q, { noAck: false, prefetch: 2 });
      await s.count(2);
      expect((await t.checkQueue(q)).messageCount).toBe(3);
      s.deliveries[0].ack();
      await s.count(3);
      s.deliveries[1].nack(true);
      s.deliveries[2].ack();
      await s.count(5);
      const redelivered = s.deliveries.filter((d) => d.redelivered).map((d) => d.body.toString());
      expect(redelivered).toEqual(['m2']);
    });

    it('settling a delivery twice, or a noAck delivery, is refused and logged; the consumer carries on', async () => {
      const e = env();
      const mark = e.lines.length;
      const t = await e.transport();
      const q = await t.assertQueue('', { exclusive: true });
      const s = await sink(t, q, { noAck: false, prefetch: 10 });
      const q2 = await t.assertQueue('', { exclusive: true });
      const auto = await sink(t, q2, { noAck: true });
      await t.publish('', q, 'm1');
      await t.publish('', q2, 'auto1');
      await Promise.all([s.count(1), auto.count(1)]);
      s.deliveries[0].ack();
      s.deliveries[0].ack();
      s.deliveries[0].nack();
      auto.deliveries[0].ack();
      await t.publish('', q, 'm2');
      await s.count(2);
      s.deliveries[1].ack();
      expect(await s.settle()).toEqual(['m1', 'm2']);
      const lines = e.lines.slice(mark);
      expect(
        lines.filter(
          (l) => l.msg === 'bus: ack of a delivery already settled (or consumed with noAck) ignored',
        ),
      ).toHaveLength(2);
      expect(
        lines.some(
          (l) => l.msg === 'bus: nack of a delivery already settled (or consumed with noAck) ignored',
        ),
      ).toBe(true);
      expect(lines.some((l) => l.msg === 'bus: connection lost; reconnecting')).toBe(false);
    });

    it('a consumer whose queue another connection deletes is cancelled, reported, and not restored', async () => {
      const t = await env().transport();
      const other = await env().transport();
      const q = await t.assertQueue(`${env().prefix()}-shared`, {});
      const tag = await t.consume(q, () => undefined);
      const cancelled = nextEvent<[{ consumerTag: string; queue: string }]>(t, 'cancelled');
      await other.deleteQueue(q);
      const [info] = await cancelled;
      expect(info).toEqual({ consumerTag: tag, queue: q });
      expect(t.topology.consumers.has(tag)).toBe(false);
      cleanups.push(() => t.deleteQueue(q));
    });

    it('an exclusive consumer locks the queue against other consumers (ACCESS_REFUSED)', async () => {
      const t = await env().transport();
      const other = await env().transport();
      const q = await t.assertQueue(`${env().prefix()}-excl`, { autoDelete: true });
      await t.consume(q, () => undefined, { exclusive: true });
      await expect(other.consume(q, () => undefined)).rejects.toMatchObject({ reason: 'ACCESS_REFUSED' });
      await expect(t.consume(q, () => undefined)).rejects.toMatchObject({ reason: 'ACCESS_REFUSED' });
    });

    it('competing consumers share a queue round-robin', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true });
      const a = await sink(t, q);
      const b = await sink(t, q);
      for (let n = 0; n < 10; n++) await t.publish('', q, `m${n}`);
      await Promise.all([a.count(5), b.count(5)]);
      expect([...a.bodies(), ...b.bodies()].sort()).toHaveLength(10);
    });

    it('a throwing consumer handler is logged and the consumer keeps receiving', async () => {
      const e = env();
      const t = await e.transport();
      const q = await t.assertQueue('', { exclusive: true });
      const got: string[] = [];
      const second = new Promise<void>((resolve) => {
        void t.consume(q, (d) => {
          got.push(d.body.toString());
          if (got.length === 1) throw new Error('handler bug');
          resolve();
        });
      });
      await t.publish('', q, 'boom');
      await t.publish('', q, 'ok');
      await second;
      expect(got).toEqual(['boom', 'ok']);
      expect(e.lines.some((l) => l.msg === 'bus: consumer handler threw; delivery skipped')).toBe(true);
    });
  });

  describe('connection loss', () => {
    it('after sever(), queues, bindings and consumers come back by themselves, with the same queue name', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'topic');
      const q = await t.assertQueue('', { autoDelete: true, maxLength: 100, messageTtl: 60_000 });
      await t.bindQueue(q, x, 'call.*.abc');
      const s = await sink(t, q);
      await t.publish(x, 'call.A.abc', 'before');
      await s.count(1);
      const lost = nextEvent(t, 'lost');
      const ready = nextEvent<[{ recovered: boolean }]>(t, 'ready');
      t.sever('test');
      await lost;
      expect(t.state).toBe('reconnecting');
      const [info] = await ready;
      expect(info.recovered).toBe(true);
      await t.publish(x, 'call.B.abc', 'after');
      await s.count(2);
      expect(s.bodies()).toEqual(['before', 'after']);
      expect((await t.checkQueue(q)).consumerCount).toBe(1);
    });

    it('a binding removed before a lost connection stays removed after recovery', async () => {
      const t = await env().transport();
      const x = await exchange(t, 'topic');
      const q = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(q, x, 'kept.*');
      await t.bindQueue(q, x, 'removed.*');
      await t.unbindQueue(q, x, 'removed.*');
      const s = await sink(t, q);
      const lost = nextEvent(t, 'lost');
      const ready = nextEvent<[{ recovered: boolean }]>(t, 'ready');
      t.sever('test');
      await lost;
      const [info] = await ready;
      expect(info.recovered).toBe(true);
      await t.publish(x, 'removed.a', 'via the removed binding');
      await t.publish(x, 'kept.a', 'via the kept binding');
      await s.count(1);
      expect(await s.settle()).toEqual(['via the kept binding']);
    });

    it('a publish made while reconnecting waits for the connection and is delivered', async () => {
      const t = await env().transport();
      const q = await t.assertQueue('', { exclusive: true });
      const s = await sink(t, q);
      const lost = nextEvent(t, 'lost');
      t.sever('test');
      await lost;
      expect(t.state).not.toBe('connected');
      await t.publish('', q, 'waited');
      await t.publishConfirmed('', q, 'waited-confirmed');
      await s.count(2);
      // Two channels (plain and confirm): no order between them, on RabbitMQ as in AMQP.
      expect(s.bodies().sort()).toEqual(['waited', 'waited-confirmed']);
    });

    it('a confirmed publish cut off by a lost connection is published again after recovery (at least once)', async () => {
      const e = env();
      const t = await e.transport();
      const q = await t.assertQueue(`${e.prefix()}-keep`, {});
      cleanups.push(() => t.deleteQueue(q));
      const s = await sink(t, q);
      const lost = nextEvent(t, 'lost');
      // Cut first, publish in the same turn: the transport has not noticed the loss yet, so
      // the publish goes to the dead connection and can never reach the broker that way
      // (on the embedded broker a publish on a live connection is confirmed at once, so
      // publishing first would never be cut). It arrives only if it is published again.
      t.sever('test: cut a confirmed publish');
      const p = t.publishConfirmed('', q, 'must-arrive');
      await lost;
      await p;
      await s.count(1);
      expect(new Set(s.bodies())).toEqual(new Set(['must-arrive']));
      expect(
        e.lines.some(
          (l) =>
            l.msg === 'bus: confirmed publish interrupted by a lost connection; republishing after recovery',
        ),
      ).toBe(true);
    });

    it('with no broker, start, declarations and publishes fail with BusNotConnectedError after the bounded wait', async () => {
      const t = env().unreachable({ publishTimeoutMs: 200, startTimeoutMs: 200 });
      await expect(t.start()).rejects.toBeInstanceOf(BusNotConnectedError);
      await expect(t.publish('x', 'k', 'lost')).rejects.toBeInstanceOf(BusNotConnectedError);
      await expect(t.publishConfirmed('x', 'k', 'lost')).rejects.toThrow(
        /bus not connected: publishConfirmed x\/k gave up after waiting \d+ ms/,
      );
      await expect(t.assertQueue('q')).rejects.toBeInstanceOf(BusNotConnectedError);
      expect(t.topology.queues.size).toBe(0);
      await t.close();
      await expect(t.publish('x', 'k', 'after close')).rejects.toMatchObject({ code: 'BUS_CLOSED' });
    });
  });
}
