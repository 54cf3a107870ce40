/**
 * Behaviour suite, part 3: the request/reply helper (Requester) against listeners, on both
 * backends. Grouped by the clauses of src/bus/requester.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CollectTimeoutError, RequestRejectedError, RequestTimeoutError } from '../../../src/bus/errors.ts';
import { decodeJson, type Decoder, type Envelope } from '../../../src/bus/envelope.ts';
import { ListenerCore, type Handler } from '../../../src/bus/listener-core.ts';
import type { RecoveringTransport } from '../../../src/bus/recovering-transport.ts';
import { Requester } from '../../../src/bus/requester.ts';
import type { BusEnv } from '../support/bus-env.ts';
import { nextEvent } from '../support/sink.ts';
import { msg } from './listener-behaviour.ts';

export function requestReplyBehaviour(env: () => BusEnv): void {
  const stoppers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stoppers.splice(0).map((s) => s()));
    await env().closeAll();
  });

  async function requester(t: RecoveringTransport, timeoutMs = 2_000): Promise<Requester> {
    const r = new Requester({ transport: t, logger: env().logger, timeoutMs });
    stoppers.push(() => r.stop());
    await r.start();
    return r;
  }

  /** A listener on a shared topic exchange answering `category/name` with handler. */
  async function responder(
    t: RecoveringTransport,
    x: string,
    rk: string,
    handler: Handler,
  ): Promise<ListenerCore> {
    const l = new ListenerCore({
      transport: t,
      logger: env().logger,
      exchanges: [{ name: x, type: 'topic' }],
      bindings: [{ exchange: x, routingKey: rk }],
      responders: [{ category: 'directory', name: 'authn_req', handler }],
    });
    stoppers.push(() => l.stop());
    await l.start();
    return l;
  }

  async function exchange(t: RecoveringTransport): Promise<string> {
    const x = `${env().prefix()}-callmgr`;
    await t.assertExchange({ name: x, type: 'topic' });
    stoppers.push(() => t.deleteExchange(x).catch(() => undefined));
    return x;
  }

  const req = (extra: Envelope = {}): Envelope =>
    msg('directory', 'authn_req', { 'Auth-Realm': 'example.com', ...extra });
  const answer =
    (name: string, extra: Envelope = {}): Handler =>
    (m, ctx) =>
      ctx.reply(msg('directory', name, { 'Msg-ID': m['Msg-ID'], ...extra }));

  describe('call', () => {
    it('returns the reply, sent to its Server-ID and matched on Msg-ID, across two connections', async () => {
      const tReq = await env().transport();
      const tResp = await env().transport();
      const x = await exchange(tResp);
      let seen: Envelope | undefined;
      await responder(tResp, x, 'authn.req.*', (m, ctx) => {
        seen = m;
        return ctx.reply(
          msg('directory', 'authn_resp', { 'Msg-ID': m['Msg-ID'], 'Auth-Password': 'secret' }),
        );
      });
      const r = await requester(tReq);
      const reply = await r.call(req({ 'Server-ID': 'someone-else' }), {
        exchange: x,
        routingKey: 'authn.req.example%2Ecom',
      });
      expect(reply['Event-Name']).toBe('authn_resp');
      expect(reply['Msg-ID']).toBe(seen?.['Msg-ID']);
      expect(seen?.['Server-ID']).toBe(r.serverId);
      expect(seen?.['Server-Queue-ID']).toBe('someone-else');
      expect(String(seen?.['Msg-ID'])).toMatch(/^[0-9a-f]{32}$/);
    });

    it('the first valid reply wins over an earlier error reply', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(t, x, 'authn.req.*', (m, ctx) =>
        ctx.reply(msg('error', 'authn_req', { 'Msg-ID': m['Msg-ID'], 'Error-Message': 'no such user' })),
      );
      let release!: () => void;
      const afterError = new Promise<void>((r) => (release = r));
      const r = await requester(t);
      await responder(t, x, 'authn.req.*', async (m, ctx) => {
        await afterError;
        await ctx.reply(msg('directory', 'authn_resp', { 'Msg-ID': m['Msg-ID'] }));
      });
      const p = r.call(req(), { exchange: x, routingKey: 'authn.req.a' });
      await expect.poll(() => r.counters.snapshot().handled).toBe(1);
      release();
      expect((await p)['Event-Name']).toBe('authn_resp');
    });

    it('with only error replies it rejects RequestRejectedError carrying the reply', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(t, x, 'authn.req.*', (m, ctx) =>
        ctx.reply(msg('error', 'authn_req', { 'Msg-ID': m['Msg-ID'], 'Error-Message': 'no such user' })),
      );
      const r = await requester(t, 300);
      const err = await r.call(req(), { exchange: x, routingKey: 'authn.req.a' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestRejectedError);
      expect((err as RequestRejectedError).reply['Error-Message']).toBe('no such user');
      expect((err as Error).message).toMatch(/no such user/);
    });

    it('with no reply it rejects RequestTimeoutError naming the request', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      const r = await requester(t);
      const err = await r
        .call(
          req({ 'Msg-ID': 'msg-timeout-1' }),
          { exchange: x, routingKey: 'authn.req.nobody' },
          { timeoutMs: 200 },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestTimeoutError);
      expect(err).toMatchObject({
        code: 'REQUEST_TIMEOUT',
        msgId: 'msg-timeout-1',
        timeoutMs: 200,
        repliesSeen: 0,
      });
      expect((err as Error).message).toBe(
        'no valid reply to directory/authn_req (Msg-ID msg-timeout-1) within 200 ms; 0 reply(ies) seen',
      );
    });

    it('holds a Defer-Response reply until the timeout, and prefers a later direct one', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(
        t,
        x,
        'authn.req.*',
        answer('authn_resp', { 'Defer-Response': 'true', From: 'deferred' }),
      );
      await responder(t, x, 'authn.req.b', answer('authn_resp', { From: 'direct' }));
      const r = await requester(t, 300);
      const onlyDeferred = await r.call(req(), { exchange: x, routingKey: 'authn.req.a' });
      expect(onlyDeferred.From).toBe('deferred');
      const both = await r.call(req(), { exchange: x, routingKey: 'authn.req.b' });
      expect(both.From).toBe('direct');
    });

    it('matches replies on Msg-Reply-ID when the request carries one', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(t, x, 'authn.req.*', (m, ctx) =>
        ctx.reply(msg('directory', 'authn_resp', { 'Msg-ID': m['Msg-Reply-ID'] })),
      );
      const r = await requester(t);
      const reply = await r.call(req({ 'Msg-Reply-ID': 'route-win-7' }), {
        exchange: x,
        routingKey: 'authn.req.a',
      });
      expect(reply['Msg-ID']).toBe('route-win-7');
    });

    it('a burst of 1000 calls at once, answered faster than the asker reads, is answered in full, each once', async () => {
      // Kazoo's amqp worker has one request in flight on its reply queue; a Requester
      // multiplexes every call of its process on one. The asker here is busy (1 ms per
      // reply read) while 8 KB replies pour in, so they wait in its queue on the broker.
      const tReq = await env().transport();
      const tResp = await env().transport();
      const x = await exchange(tResp);
      // The answering side is a named queue (as the registrar's): anonymous ones hold 100.
      const l = new ListenerCore({
        transport: tResp,
        logger: env().logger,
        queue: `${env().prefix()}-burst`,
        exchanges: [{ name: x, type: 'topic' }],
        bindings: [{ exchange: x, routingKey: 'authn.req.*' }],
        responders: [
          {
            category: 'directory',
            name: 'authn_req',
            handler: answer('authn_resp', { Pad: 'x'.repeat(8000) }),
          },
        ],
      });
      stoppers.push(() => l.stop());
      await l.start();
      const busy: Decoder = (body, props) => {
        const until = Date.now() + 1;
        while (Date.now() < until);
        return decodeJson(body, props);
      };
      const r = new Requester({ transport: tReq, logger: env().logger, timeoutMs: 25_000, decode: busy });
      stoppers.push(() => r.stop());
      await r.start();
      const t0 = Date.now();
      const took = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          r.call(req({ N: i }), { exchange: x, routingKey: 'authn.req.a' }).then(
            (a) => (a['Event-Name'] === 'authn_resp' ? Date.now() - t0 : 'wrong answer'),
            (err: Error) => err.message,
          ),
        ),
      );
      const failed = took.filter((v) => typeof v === 'string');
      expect({ failed: failed.length, first: failed[0] }).toEqual({ failed: 0, first: undefined });
      expect(r.counters).toMatchObject({ received: 1000, handled: 1000, lateReplies: 0 });
      const ms = (took as number[]).sort((a, b) => a - b);
      console.log(`1000 calls at once: median ${ms[500]} ms, last answered after ${ms[999]} ms`);
    }, 60_000);

    it('a publish that fails rejects the call with that error', async () => {
      const t = await env().transport();
      const r = await requester(t);
      await expect(
        r.call(req(), { exchange: `${env().prefix()}-missing`, routingKey: 'x' }),
      ).rejects.toMatchObject({ reason: 'NOT_FOUND' });
    });

    it('keeps its Server-ID across a lost connection and calls work after recovery', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(t, x, 'authn.req.*', answer('authn_resp'));
      const r = await requester(t);
      const id = r.serverId;
      const back = nextEvent(t, 'ready');
      t.sever('test');
      await back;
      expect(r.serverId).toBe(id);
      expect((await r.call(req(), { exchange: x, routingKey: 'authn.req.a' }))['Event-Name']).toBe(
        'authn_resp',
      );
    });
  });

  describe('callCollect', () => {
    it('resolves as soon as `until` says done', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      for (const n of [1, 2, 3]) await responder(t, x, 'authn.req.*', answer('authn_resp', { N: n }));
      const r = await requester(t, 10_000);
      const replies = await r.callCollect(
        req(),
        { exchange: x, routingKey: 'authn.req.a' },
        { until: (rs) => rs.length === 3 },
      );
      expect(replies.map((m) => m.N).sort()).toEqual([1, 2, 3]);
    });

    it('without `until` it returns every reply at the timeout', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      for (const n of [1, 2]) await responder(t, x, 'authn.req.*', answer('authn_resp', { N: n }));
      const r = await requester(t);
      const replies = await r.callCollect(
        req(),
        { exchange: x, routingKey: 'authn.req.a' },
        { timeoutMs: 300 },
      );
      expect(replies).toHaveLength(2);
    });

    it('rejects CollectTimeoutError carrying what it collected when `until` is never satisfied', async () => {
      const t = await env().transport();
      const x = await exchange(t);
      await responder(t, x, 'authn.req.*', answer('authn_resp'));
      const r = await requester(t);
      const err = await r
        .callCollect(
          req(),
          { exchange: x, routingKey: 'authn.req.a' },
          { timeoutMs: 300, until: (rs) => rs.length === 2 },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CollectTimeoutError);
      expect((err as CollectTimeoutError).replies).toHaveLength(1);
    });
  });
}
