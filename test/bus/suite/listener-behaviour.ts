/**
 * Behaviour suite, part 2: the listener core (gen_listener's heart), on both backends.
 * Grouped by the clauses of src/bus/listener-core.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJson, type Envelope } from '../../../src/bus/envelope.ts';
import { ListenerCore, type ListenerOptions } from '../../../src/bus/listener-core.ts';
import type { RecoveringTransport } from '../../../src/bus/recovering-transport.ts';
import type { BusEnv } from '../support/bus-env.ts';
import { nextEvent, sink } from '../support/sink.ts';

export const msg = (category: string, name: string, extra: Envelope = {}): Envelope => ({
  'Event-Category': category,
  'Event-Name': name,
  'App-Name': 'fife-test',
  'App-Version': '0.0.0',
  ...extra,
});

/** A latch: `wait()` resolves once `hit()` was called `n` times. */
function latch(n: number): { hit(): void; wait: Promise<void> } {
  let resolve!: () => void;
  const wait = new Promise<void>((r) => (resolve = r));
  let seen = 0;
  return {
    hit() {
      if (++seen === n) resolve();
    },
    wait,
  };
}

/** `p`'s value, or 'still pending' if it has not settled within `ms` (a hang made visible). */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still pending'>((r) => (timer = setTimeout(() => r('still pending'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function listenerBehaviour(env: () => BusEnv): void {
  const listeners: ListenerCore[] = [];
  const exchanges: Array<[RecoveringTransport, string]> = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop()));
    for (const [t, x] of exchanges.splice(0)) await t.deleteExchange(x).catch(() => undefined);
    await env().closeAll();
  });

  async function topic(t: RecoveringTransport): Promise<string> {
    const x = `${env().prefix()}-evt`;
    await t.assertExchange({ name: x, type: 'topic' });
    exchanges.push([t, x]);
    return x;
  }

  function listener(t: RecoveringTransport, opts: Partial<ListenerOptions>): ListenerCore {
    const l = new ListenerCore({ transport: t, logger: env().logger, ...opts });
    listeners.push(l);
    return l;
  }

  describe('start', () => {
    it('declares its queue with Kazoo defaults, binds itself to targeted, and says created_queue then consuming', async () => {
      const t = await env().transport();
      const got = latch(1);
      const l = listener(t, {
        responders: [{ category: 'directory', name: 'authn_req', handler: () => got.hit() }],
      });
      const events: string[] = [];
      l.on('created_queue', () => events.push('created_queue'));
      l.on('consuming', () => events.push('consuming'));
      await l.start();
      expect(events).toEqual(['created_queue', 'consuming']);
      expect(l.isConsuming).toBe(true);
      expect(t.topology.queues.get(l.queue!)).toEqual({
        durable: false,
        exclusive: false,
        autoDelete: true,
        maxLength: 100,
        messageTtl: 60_000,
      });
      await t.publish('targeted', l.queue!, encodeJson(msg('directory', 'authn_req')));
      await got.wait;
    });
  });

  describe('start failure', () => {
    it('a binding to a missing exchange fails start with NOT_FOUND and leaves no queue behind', async () => {
      const t = await env().transport();
      const l = listener(t, { bindings: [{ exchange: `${env().prefix()}-missing`, routingKey: '#' }] });
      const queue = new Promise<string>((r) => l.once('created_queue', r));
      await expect(l.start()).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      await expect(t.checkQueue(await queue)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      expect(t.topology.consumers.size).toBe(0);
    });

    // The hang this guards against: stop() waited for start() to settle while the failed
    // start waited for stop() to undo its work. Bounded so a regression fails, not hangs.
    for (const takeOver of [false, true])
      it(`a stop() while a start() is under way settles both when that start fails (takeOver: ${takeOver})`, async () => {
        const t = await env().transport();
        const queue = takeOver ? `${env().prefix()}-ctl` : '';
        const l = listener(t, {
          queue,
          takeOver,
          bindings: [{ exchange: `${env().prefix()}-missing`, routingKey: '#' }],
        });
        const declared = new Promise<string>((r) => l.once('created_queue', r));
        const start = l.start();
        const stop = l.stop();
        const outcome = await settledWithin(Promise.allSettled([start, stop]), 5000);
        expect(outcome).not.toBe('still pending');
        const [started, stopped] = outcome as PromiseSettledResult<void>[];
        expect(started).toMatchObject({ status: 'rejected', reason: { reason: 'NOT_FOUND' } });
        expect(stopped.status).toBe('fulfilled');
        expect(t.topology.consumers.size).toBe(0);
        if (takeOver) {
          await ListenerCore.released(t, queue);
          await t.deleteQueue(await declared);
        } else await expect(t.checkQueue(await declared)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
      });
  });

  describe('responders', () => {
    it('runs every responder matching category/name, wildcards included, and counts the unmatched', async () => {
      const t = await env().transport();
      const x = await topic(t);
      const seen: string[] = [];
      const done = latch(4);
      const rec =
        (tag: string) =>
        (m: Envelope): void => {
          seen.push(`${tag}:${String(m['Event-Name'])}`);
          done.hit();
        };
      const l = listener(t, {
        bindings: [{ exchange: x, routingKey: 'call.#' }],
        responders: [
          { category: 'call_event', name: 'CHANNEL_ANSWER', handler: rec('exact') },
          { category: 'call_event', name: '*', handler: rec('anyname') },
          { category: '*', name: '*', handler: rec('any') },
        ],
      });
      await l.start();
      await t.publish(x, 'call.CHANNEL_ANSWER.a', encodeJson(msg('call_event', 'CHANNEL_ANSWER')));
      await t.publish(x, 'call.other.a', encodeJson(msg('dialplan', 'route_req')));
      await done.wait;
      expect(seen.sort()).toEqual([
        'any:CHANNEL_ANSWER',
        'any:route_req',
        'anyname:CHANNEL_ANSWER',
        'exact:CHANNEL_ANSWER',
      ]);
      l.removeResponder('*', '*');
      const after = latch(1);
      l.addResponder('call_event', 'CHANNEL_HANGUP', () => after.hit());
      await t.publish(x, 'call.x.a', encodeJson(msg('nobody', 'listens')));
      await t.publish(x, 'call.CHANNEL_HANGUP.a', encodeJson(msg('call_event', 'CHANNEL_HANGUP')));
      await after.wait;
      expect(l.counters.snapshot().unhandled).toBe(1);
    });

    it('a responder that throws or rejects is logged and counted; the listener keeps handling', async () => {
      const e = env();
      const t = await e.transport();
      const ok = latch(1);
      const errors: string[] = [];
      const l = listener(t, {
        responders: [
          {
            category: 'test',
            name: 'throw',
            handler: () => {
              throw new Error('sync bug');
            },
          },
          {
            category: 'test',
            name: 'reject',
            handler: async () => {
              throw new Error('async bug');
            },
          },
          { category: 'test', name: 'ok', handler: () => ok.hit() },
        ],
      });
      l.on('handler_error', ({ name }) => errors.push(name));
      await l.start();
      for (const name of ['throw', 'reject', 'ok'])
        await t.publish('targeted', l.queue!, encodeJson(msg('test', name)));
      await ok.wait;
      await expect.poll(() => l.counters.snapshot().handlerErrors).toBe(2);
      expect(errors.sort()).toEqual(['reject', 'throw']);
      expect(
        e.lines
          .filter((x) => x.msg === 'listener: responder failed; message skipped, listener carries on')
          .map((x) => x.name)
          .sort(),
      ).toEqual(['reject', 'throw']);
      expect(l.isConsuming).toBe(true);
    });

    it('runs handlers with bounded concurrency, without blocking deliveries', async () => {
      const t = await env().transport();
      let running = 0;
      let peak = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const twoRunning = latch(2);
      const finished = latch(5);
      const l = listener(t, {
        concurrency: 2,
        responders: [
          {
            category: 'test',
            name: 'slow',
            handler: async () => {
              running++;
              peak = Math.max(peak, running);
              twoRunning.hit();
              await gate;
              running--;
              finished.hit();
            },
          },
        ],
      });
      await l.start();
      for (let i = 0; i < 5; i++) await t.publish('targeted', l.queue!, encodeJson(msg('test', 'slow')));
      await twoRunning.wait;
      await expect.poll(() => l.counters.received).toBe(5);
      expect(running).toBe(2);
      release();
      await finished.wait;
      expect(peak).toBe(2);
    });

    it("handleEvent sees each message first; 'ignore' skips the responders, a throw does not", async () => {
      const t = await env().transport();
      const seen: string[] = [];
      const handled: string[] = [];
      const done = latch(2);
      const l = listener(t, {
        handleEvent: (m) => {
          const n = String(m['Event-Name']);
          seen.push(n);
          if (n === 'skip') return 'ignore';
          if (n === 'bomb') throw new Error('module bug');
        },
        responders: [
          {
            category: 'test',
            name: '*',
            handler: (m) => {
              handled.push(String(m['Event-Name']));
              done.hit();
            },
          },
        ],
      });
      await l.start();
      for (const n of ['skip', 'bomb', 'plain'])
        await t.publish('targeted', l.queue!, encodeJson(msg('test', n)));
      await done.wait;
      expect(seen).toEqual(['skip', 'bomb', 'plain']);
      expect(handled.sort()).toEqual(['bomb', 'plain']);
    });

    it("runs a handler inside the message's Call-ID log context, after an await too", async () => {
      const e = env();
      const t = await e.transport();
      const done = latch(1);
      const l = listener(t, {
        responders: [
          {
            category: 'call_event',
            name: '*',
            handler: async (_m, ctx) => {
              ctx.log.info('handling');
              await new Promise((r) => setTimeout(r, 1));
              ctx.log.info('after an await');
              done.hit();
            },
          },
        ],
      });
      await l.start();
      await t.publish(
        'targeted',
        l.queue!,
        encodeJson(msg('call_event', 'CHANNEL_CREATE', { 'Call-ID': 'call-42@host' })),
      );
      await done.wait;
      expect(e.lines.find((x) => x.msg === 'handling')?.call_id).toBe('call-42@host');
      expect(e.lines.find((x) => x.msg === 'after an await')?.call_id).toBe('call-42@host');
    });
  });

  describe('bindings at runtime', () => {
    it('addBinding starts and removeBinding stops the flow, and the listener remembers its bindings', async () => {
      const t = await env().transport();
      const x = await topic(t);
      const names: string[] = [];
      let next = latch(1);
      const l = listener(t, {
        responders: [
          {
            category: 'test',
            name: '*',
            handler: (m) => {
              names.push(String(m['Event-Name']));
              next.hit();
            },
          },
        ],
      });
      await l.start();
      await l.addBinding({ exchange: x, routingKey: 'a.*' });
      await t.publish(x, 'a.one', encodeJson(msg('test', 'first')));
      await next.wait;
      next = latch(1);
      await l.removeBinding({ exchange: x, routingKey: 'a.*' });
      await l.addBinding({ exchange: x, routingKey: 'b.*' });
      await t.publish(x, 'a.two', encodeJson(msg('test', 'unbound')));
      await t.publish(x, 'b.two', encodeJson(msg('test', 'second')));
      await next.wait;
      expect(names).toEqual(['first', 'second']);
      expect(l.listBindings().map((b) => b.routingKey)).toEqual([l.queue, 'b.*']);
    });
  });

  describe('invalid messages', () => {
    it('counts and logs each reason, drops the message and carries on', async () => {
      const e = env();
      const t = await e.transport();
      const ok = latch(1);
      const reasons: string[] = [];
      const l = listener(t, {
        maxMessageBytes: 1000,
        responders: [{ category: 'test', name: 'ok', handler: () => ok.hit() }],
      });
      l.on('invalid', (i) => reasons.push(i.reason));
      await l.start();
      const q = l.queue!;
      await t.publish('targeted', q, 'this is not json');
      await t.publish('targeted', q, '[1,2,3]');
      await t.publish('targeted', q, JSON.stringify({ 'Event-Category': 'test' }));
      await t.publish('targeted', q, encodeJson(msg('test', 'big', { pad: 'x'.repeat(2000) })));
      await t.publish('targeted', q, encodeJson(msg('test', 'ok')));
      await ok.wait;
      expect(reasons).toEqual(['not_json', 'not_object', 'missing_headers', 'too_big']);
      expect(l.counters.snapshot().invalid).toEqual({
        not_json: 1,
        not_object: 1,
        missing_headers: 1,
        too_big: 1,
      });
      expect(
        e.lines.filter((x) => x.msg === 'listener: invalid message dropped').map((x) => x.reason),
      ).toEqual(reasons);
    });

    it('a catalogue validator or decoder that throws counts the message invalid; the listener carries on', async () => {
      const t = await env().transport();
      const ok = latch(1);
      const l = listener(t, {
        validate: (m) => {
          if (m['Event-Name'] === 'bomb') throw new Error('validator bug');
          return undefined;
        },
        responders: [{ category: 'test', name: '*', handler: () => ok.hit() }],
      });
      await l.start();
      await t.publish('targeted', l.queue!, encodeJson(msg('test', 'bomb')));
      await t.publish('targeted', l.queue!, encodeJson(msg('test', 'fine')));
      await ok.wait;
      expect(l.counters.snapshot().invalid).toEqual({ validator_threw: 1 });
    });

    it('answers an invalid message that has a Server-ID with the error reply from the catalogue', async () => {
      const t = await env().transport();
      const l = listener(t, {
        validate: (m) => (typeof m['Auth-Realm'] === 'string' ? undefined : 'Auth-Realm missing'),
        errorReply: (req, reason) =>
          msg('error', 'authn_req', { 'Error-Message': reason, 'Msg-ID': req['Msg-ID'] }),
        responders: [{ category: 'directory', name: 'authn_req', handler: () => undefined }],
      });
      await l.start();
      const replyQ = await t.assertQueue('', { exclusive: true });
      await t.bindQueue(replyQ, 'targeted', replyQ);
      const s = await sink(t, replyQ);
      await t.publish(
        'targeted',
        l.queue!,
        encodeJson(msg('directory', 'authn_req', { 'Server-ID': replyQ, 'Msg-ID': 'm-1' })),
      );
      await s.count(1);
      expect(JSON.parse(s.bodies()[0])).toMatchObject({
        'Event-Category': 'error',
        'Error-Message': 'Auth-Realm missing',
        'Msg-ID': 'm-1',
      });
      expect(l.counters.snapshot().errorReplies).toBe(1);
    });
  });

  describe('ack modes', () => {
    it("'manual': a responder's nack requeues and the message comes back redelivered", async () => {
      const t = await env().transport();
      const seen: boolean[] = [];
      const twice = latch(2);
      const l = listener(t, {
        ackMode: 'manual',
        responders: [
          {
            category: 'test',
            name: 'retry',
            handler: (_m, ctx) => {
              seen.push(ctx.delivery.redelivered);
              if (seen.length === 1) ctx.delivery.nack(true);
              else ctx.delivery.ack();
              twice.hit();
            },
          },
        ],
      });
      await l.start();
      await t.publish('targeted', l.queue!, encodeJson(msg('test', 'retry')));
      await twice.wait;
      expect(seen).toEqual([false, true]);
    });
  });

  describe('ack modes (after-handlers)', () => {
    it("'after-handlers': a message is acked only when its responders finished, so prefetch bounds the work in flight", async () => {
      const t = await env().transport();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const started = latch(1);
      const all = latch(3);
      const l = listener(t, {
        ackMode: 'after-handlers',
        prefetch: 1,
        concurrency: 5,
        responders: [
          {
            category: 'test',
            name: 'work',
            handler: async () => {
              started.hit();
              await gate;
              all.hit();
            },
          },
        ],
      });
      await l.start();
      for (let i = 0; i < 3; i++)
        await t.publishConfirmed('targeted', l.queue!, encodeJson(msg('test', 'work')));
      await started.wait;
      expect((await t.checkQueue(l.queue!)).messageCount).toBe(2);
      expect(l.counters.received).toBe(1);
      release();
      await all.wait;
      await expect.poll(async () => (await t.checkQueue(l.queue!)).messageCount).toBe(0);
    });
  });

  describe('reconnect', () => {
    it('after a lost connection it consumes again with the same queue, bindings, responders and counters', async () => {
      const t = await env().transport();
      const x = await topic(t);
      let got = latch(1);
      const l = listener(t, {
        bindings: [{ exchange: x, routingKey: 'reg.#' }],
        responders: [{ category: 'directory', name: 'reg_success', handler: () => got.hit() }],
      });
      await l.start();
      const queue = l.queue;
      await t.publish(x, 'reg.one', encodeJson(msg('directory', 'reg_success')));
      await got.wait;
      got = latch(2);
      const back = nextEvent<[{ recovered: boolean }]>(l, 'consuming');
      t.sever('test');
      const [info] = await back;
      expect(info.recovered).toBe(true);
      expect(l.queue).toBe(queue);
      await t.publish(x, 'reg.two', encodeJson(msg('directory', 'reg_success')));
      await t.publish('targeted', queue!, encodeJson(msg('directory', 'reg_success')));
      await got.wait;
      expect(l.counters.received).toBe(3);
    });
  });

  describe('many listeners on one transport (one per call)', () => {
    it('no leak warning past ten of them, every one consumes again after a lost connection, and a stopped one does not', async () => {
      const t = await env().transport();
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
      process.on('warning', onWarning);
      try {
        const ls = Array.from({ length: 12 }, () => listener(t, {}));
        for (const l of ls) await l.start();
        const gone = ls.pop()!;
        await gone.stop();
        let goneBack = false;
        gone.on('consuming', () => (goneBack = true));
        const back = ls.map((l) => nextEvent<[{ recovered: boolean }]>(l, 'consuming'));
        t.sever('test');
        for (const [info] of await Promise.all(back)) expect(info.recovered).toBe(true);
        expect(ls.every((l) => l.isConsuming)).toBe(true);
        expect(goneBack).toBe(false);
        // a warning is emitted on the next tick
        await new Promise<void>((r) => setImmediate(r));
        expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    });
  });

  describe('stop', () => {
    it('cancels, waits for running handlers, deletes its anonymous queue; twice is fine', async () => {
      const t = await env().transport();
      let finished = false;
      const started = latch(1);
      const l = listener(t, {
        responders: [
          {
            category: 'test',
            name: '*',
            handler: async () => {
              started.hit();
              await new Promise<void>((r) => setImmediate(r));
              finished = true;
            },
          },
        ],
      });
      await l.start();
      await t.publish('targeted', l.queue!, encodeJson(msg('test', 'x')));
      await started.wait;
      await Promise.all([l.stop(), l.stop()]);
      expect(finished).toBe(true);
      await expect(t.checkQueue(l.queue!)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    });

    it('a stop the connection is severed under completes (a call executor ending as its node loses the bus)', async () => {
      const t = await env().transport();
      // The cut lands at a different point of the stop each round (before, during or after
      // the cancel); every stop must settle, and the listener be gone from the transport.
      for (let i = 0; i < 20; i++) {
        const l = listener(t, {});
        await l.start();
        const stopped = l.stop();
        await new Promise((r) => setTimeout(r, i % 10));
        if (t.state === 'connected') t.sever('test', { reconnectAfterMs: 50 });
        await stopped;
        while (t.state !== 'connected') await new Promise((r) => setTimeout(r, 10));
      }
    });
  });

  describe('park and take-over (a restart in an upgrade)', () => {
    /** Responders that record which listener handled which message (its Msg-ID). */
    const recording = (who: string, log: string[], each?: () => void) => [
      {
        category: 'test',
        name: 'n',
        handler: (m: Envelope) => {
          log.push(`${who}:${String(m['Msg-ID'])}`);
          each?.();
        },
      },
    ];
    const send = (t: RecoveringTransport, queue: string, ids: string[]) =>
      Promise.all(
        ids.map((id) =>
          t.publishConfirmed('targeted', queue, encodeJson(msg('test', 'n', { 'Msg-ID': id }))),
        ),
      );

    it('parked, it takes nothing more; its successor keeps the generated queue, takes its consumer and what waited, in order', async () => {
      const t = await env().transport();
      const log: string[] = [];
      let got = latch(1);
      const old = listener(t, { responders: recording('old', log, () => got.hit()) });
      await old.start();
      await send(t, old.queue!, ['1']);
      await got.wait;
      const parked = old.park()!;
      expect(parked.queue).toBe(old.queue);
      await old.stop();
      await send(t, old.queue!, ['2', '3']);
      expect(log).toEqual(['old:1']);
      got = latch(3);
      const next = listener(t, { handedOver: parked, responders: recording('new', log, () => got.hit()) });
      await next.start();
      expect(next.queue).toBe(old.queue);
      expect(parked.pending()).toBe(false);
      await send(t, next.queue!, ['4']);
      await got.wait;
      expect(log).toEqual(['old:1', 'new:2', 'new:3', 'new:4']);
      expect((await t.checkQueue(next.queue!)).consumerCount).toBe(1);
      await next.stop();
      await expect(t.checkQueue(next.queue!)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    });

    it('released (nobody took it over): its own responders get what waited, then it stops as stop() does', async () => {
      const t = await env().transport();
      const log: string[] = [];
      const got = latch(2);
      const old = listener(t, { responders: recording('old', log, () => got.hit()) });
      await old.start();
      const parked = old.park()!;
      await send(t, old.queue!, ['1', '2']);
      // (delivered to the parked consumer, so they wait in the listener)
      await expect.poll(async () => (await t.checkQueue(old.queue!)).messageCount).toBe(0);
      expect(log).toEqual([]);
      await parked.release();
      await got.wait;
      expect(log).toEqual(['old:1', 'old:2']);
      await expect(t.checkQueue(old.queue!)).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    });

    it('a successor with another ack mode consumes on its own; the auto-delete named queue is never left without a consumer', async () => {
      const t = await env().transport();
      const queue = `${env().prefix()}-handover`;
      const log: string[] = [];
      const got = latch(4);
      const old = listener(t, {
        queue,
        selfBinding: true,
        responders: recording('old', log, () => got.hit()),
      });
      await old.start();
      const parked = old.park()!;
      await send(t, queue, ['1', '2']);
      const next = listener(t, {
        queue,
        selfBinding: true,
        ackMode: 'after-handlers',
        handedOver: parked,
        responders: recording('new', log, () => got.hit()),
      });
      await next.start();
      await send(t, queue, ['3', '4']);
      await got.wait;
      // each message once: what waited on the old consumer to its own responders, the rest to the successor
      expect(log.map((x) => x.split(':')[1]).sort()).toEqual(['1', '2', '3', '4']);
      expect(log.filter((x) => x.startsWith('new:'))).toEqual(expect.arrayContaining(['new:3', 'new:4']));
      expect((await t.checkQueue(queue)).consumerCount).toBe(1);
    });

    it('a takeOver successor on the named queue starts at once: a parked predecessor no longer holds the queue', async () => {
      const t = await env().transport();
      const queue = `${env().prefix()}-takeover-handover`;
      const log: string[] = [];
      const got = latch(2);
      const old = listener(t, {
        queue,
        selfBinding: true,
        takeOver: true,
        responders: recording('old', log),
      });
      await old.start();
      const parked = old.park()!;
      await send(t, queue, ['1']);
      const next = listener(t, {
        queue,
        selfBinding: true,
        takeOver: true,
        handedOver: parked,
        responders: recording('new', log, () => got.hit()),
      });
      expect(await settledWithin(next.start(), 5000)).toBeUndefined();
      await send(t, queue, ['2']);
      await got.wait;
      expect(log).toEqual(['new:1', 'new:2']);
      await next.stop();
      await settledWithin(ListenerCore.released(t, queue), 5000).then((r) => expect(r).toBeUndefined());
    });
  });
}
