/**
 * Behaviour suite, part 4: gen_listener (the gen_server around the listener core), on
 * both backends: catalogue validation at the edge, responders that never take the
 * process down, handle_event in order, runtime bindings, supervision.
 */
import { afterEach, expect, it } from 'vitest';
import {
  Runtime,
  GenServer,
  Supervisor,
  ok,
  noreply,
  reply,
  unexpected,
  describeTree,
  type Pid,
} from '../../../src/kernel/index.ts';
import {
  GenListener,
  type GenListenerBehaviour,
  type GenListenerEvent,
} from '../../../src/bus/gen-listener.ts';
import { Requester } from '../../../src/bus/requester.ts';
import { build, authnReqKey } from '../../../src/api/index.ts';
import type { Envelope } from '../../../src/bus/envelope.ts';
import type { BusEnv } from '../support/bus-env.ts';
import type { BusTransport } from '../../../src/bus/types.ts';

const CTX = { appName: 'fife-test', appVersion: '0.1.0', node: 'test@localhost' };

interface St {
  seen: string[];
  events: string[];
}
interface Args {
  realmKey: string;
  events: GenListenerEvent[];
  /** A topic exchange of the test's own: a shared broker may hold other listeners bound to callmgr's authn.req.* */
  exchange: string;
}

const Authn: GenListenerBehaviour<St, Args, 'seen'> = {
  name: 'test_authn_listener',
  init: () => ok({ seen: [], events: [] }),
  listen: (a) => ({
    exchanges: [{ name: a.exchange, type: 'topic' }],
    bindings: [{ exchange: a.exchange, routingKey: a.realmKey }],
    responders: [
      {
        category: 'directory',
        name: 'authn_req',
        handler: async (m, ctx) => {
          if (m['Auth-User'] === 'explode') throw new Error('responder bug');
          await ctx.reply(
            build(
              'authn_resp',
              {
                'Msg-ID': m['Msg-ID'],
                'Auth-Method': 'password',
                'Auth-Password': `pw-of-${String(m['Auth-User'])}`,
              },
              CTX,
            ) as Envelope,
          );
        },
      },
    ],
  }),
  handleEvent: (m, s) => ({ ...s, seen: [...s.seen, String(m['Auth-User'])] }),
  handleCall: (_r, _f, s) => reply(s.seen, s),
  handleInfo: (m, s) => {
    if ((m as GenListenerEvent).type === 'gen_listener')
      return noreply({ ...s, events: [...s.events, (m as GenListenerEvent).event] });
    return unexpected(m, s);
  },
};

const authnReq = (user: string, realm: string): Envelope =>
  build(
    'authn_req',
    {
      'Auth-User': user,
      'Auth-Realm': realm,
      From: `${user}@${realm}`,
      To: `${user}@${realm}`,
      'Msg-ID': `m-${user}-${Math.random()}`,
    },
    CTX,
  ) as Envelope;

/** Resolves true once `queue` no longer exists (the crashed listener's cleanup is asynchronous). */
async function waitUntilGone(t: BusTransport, queue: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (
      !(await t.checkQueue(queue).then(
        () => true,
        () => false,
      ))
    )
      return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

export function genListenerBehaviour(env: () => BusEnv): void {
  const runtimes: Runtime[] = [];
  const requesters: Requester[] = [];
  const exchanges: Array<[BusTransport, string]> = [];
  afterEach(async () => {
    for (const r of requesters.splice(0)) await r.stop();
    for (const rt of runtimes.splice(0)) {
      for (const p of rt.processes()) {
        const exited = rt.awaitExit(p);
        rt.exit(p, 'shutdown');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      await rt.shutdown();
    }
    for (const [t, x] of exchanges.splice(0)) await t.deleteExchange(x).catch(() => undefined);
    await env().closeAll();
  });

  async function setup(realm: string) {
    const t = await env().transport();
    const rt = new Runtime({ node: 'test@localhost', logger: env().logger });
    runtimes.push(rt);
    const req = new Requester({ transport: t, logger: env().logger, timeoutMs: 3000 });
    requesters.push(req);
    await req.start();
    const x = `${env().prefix()}-callmgr`;
    exchanges.push([t, x]);
    return {
      t,
      rt,
      req,
      key: authnReqKey(realm),
      x,
      args: { realmKey: authnReqKey(realm), events: [], exchange: x } as Args,
    };
  }

  it('answers a catalogue-valid request through a responder; handle_event sees every message in order', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, req, key, x, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    const r1 = await req.call(authnReq('alice', realm), { exchange: x, routingKey: key });
    const r2 = await req.call(authnReq('bob', realm), { exchange: x, routingKey: key });
    expect(r1['Auth-Password']).toBe('pw-of-alice');
    expect(r2['Auth-Password']).toBe('pw-of-bob');
    expect(await GenServer.call(rt, pid, 'seen')).toEqual(['alice', 'bob']);
  });

  it('an invalid request is answered with the error message and never reaches the module; the listener lives on', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, req, key, x, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    const bad = authnReq('carol', realm);
    delete bad['Auth-User'];
    const err = (await req
      .call(bad, { exchange: x, routingKey: key }, { timeoutMs: 500 })
      .catch((e: unknown) => e)) as { reply?: Envelope };
    expect(err.reply?.['Event-Category']).toBe('error');
    expect(String(err.reply?.['Error-Message'])).toContain('Auth-User');
    expect(rt.isAlive(pid)).toBe(true);
    expect(await GenServer.call(rt, pid, 'seen')).toEqual([]);
    expect((await GenListener.counters(rt, pid)) as Record<string, unknown>).toBeDefined();
  });

  it('a responder that throws is logged; the listener process keeps serving', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, req, key, x, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    await req
      .call(authnReq('explode', realm), { exchange: x, routingKey: key }, { timeoutMs: 300 })
      .catch(() => undefined);
    expect((await req.call(authnReq('dave', realm), { exchange: x, routingKey: key }))['Auth-Password']).toBe(
      'pw-of-dave',
    );
    expect(rt.isAlive(pid)).toBe(true);
    expect(
      env().lines.some((l) => String(l.msg).includes('responder') || String(l.err).includes('responder bug')),
    ).toBe(true);
    // the failure is counted for this listener in the tree view (fife tree --json)
    expect(describeTree(rt, pid)?.counters).toMatchObject({ handlerErrors: 1 });
  });

  it("an unexpected info message is the kernel's: logged at warn with its type, counted in the tree view; the listener lives on", async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    rt.send(pid, { type: 'stray_event', body: 'not for the log' });
    expect(await GenServer.call(rt, pid, 'seen')).toEqual([]);
    expect(describeTree(rt, pid)?.unexpectedMessages).toBe(1);
    const line = env().lines.find(
      (l) => l.msg === 'unexpected message dropped' && l.server === 'test_authn_listener',
    );
    expect(line).toMatchObject({ level: 40, msg_type: 'stray_event' });
    expect(JSON.stringify(line)).not.toContain('not for the log');
  });

  it('after a severed connection it comes back on the same queue, re-bound, with its state intact', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, req, key, x, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    await req.call(authnReq('gina', realm), { exchange: x, routingKey: key });
    const queue = await GenListener.queue(rt, pid);
    const back = new Promise<void>((resolve) => t.once('ready', () => resolve()));
    t.sever('test: cut the connection');
    await back;
    expect((await req.call(authnReq('hank', realm), { exchange: x, routingKey: key }))['Auth-Password']).toBe(
      'pw-of-hank',
    );
    expect(await GenListener.queue(rt, pid)).toBe(queue);
    expect(await GenServer.call(rt, pid, 'seen')).toEqual(['gina', 'hank']);
  });

  it('bindings added at runtime start deliveries; removed ones stop them', async () => {
    const realm = `${env().prefix()}.example.com`;
    const other = `${env().prefix()}.other.org`;
    const { t, rt, req, x, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    const otherKey = authnReqKey(other);
    await expect(
      req.call(authnReq('erin', other), { exchange: x, routingKey: otherKey }, { timeoutMs: 300 }),
    ).rejects.toThrow();
    await GenListener.addBinding(rt, pid, { exchange: x, routingKey: otherKey });
    expect(
      (await req.call(authnReq('erin', other), { exchange: x, routingKey: otherKey }))['Auth-Password'],
    ).toBe('pw-of-erin');
    await GenListener.removeBinding(rt, pid, { exchange: x, routingKey: otherKey });
    await expect(
      req.call(authnReq('erin', other), { exchange: x, routingKey: otherKey }, { timeoutMs: 300 }),
    ).rejects.toThrow();
  });

  it('under a supervisor: a killed listener is restarted with a fresh queue and serves again', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, req, key, x, args } = await setup(realm);
    const sup = (
      (await Supervisor.start(rt, {
        flags: { intensity: 5 },
        children: [GenListener.childSpec('authn', Authn, args, { transport: t })],
      })) as { pid: Pid }
    ).pid;
    const first = (await Supervisor.whichChildren(rt, sup))[0]!.pid!;
    const firstQueue = await GenListener.queue(rt, first);
    const restarted = rt.events.waitFor('supervisor', (e) => e.kind === 'child_restarted');
    rt.crash(first, 'injected');
    await restarted;
    const second = (await Supervisor.whichChildren(rt, sup))[0]!.pid!;
    expect(second).not.toBe(first);
    expect(await GenListener.queue(rt, second)).not.toBe(firstQueue);
    await expect(waitUntilGone(t, firstQueue)).resolves.toBe(true);
    expect(
      (await req.call(authnReq('frank', realm), { exchange: x, routingKey: key }))['Auth-Password'],
    ).toBe('pw-of-frank');
  });

  it('stopping the listener runs terminate, cancels the consumer and removes its anonymous queue', async () => {
    const realm = `${env().prefix()}.example.com`;
    const { t, rt, args } = await setup(realm);
    const pid = ((await GenListener.start(rt, Authn, args, { transport: t })) as { pid: Pid }).pid;
    const queue = await GenListener.queue(rt, pid);
    await GenServer.stop(rt, pid, 'shutdown');
    await expect(t.checkQueue(queue)).rejects.toThrow();
  });
}

/** A listener on a named queue of the test's choosing that records what it receives. */
interface NamedArgs {
  queue: string;
  exchange: string;
  got: string[];
  onGot?: () => void;
}
const Named: GenListenerBehaviour<null, NamedArgs> = {
  name: 'test_named_listener',
  init: () => ok(null),
  listen: (a) => ({
    queue: a.queue,
    takeOver: true,
    exchanges: [{ name: a.exchange, type: 'topic' }],
    bindings: [{ exchange: a.exchange, routingKey: a.queue }],
    responders: [
      {
        category: '*',
        name: '*',
        handler: (m) => {
          a.got.push(String(m['Auth-User']));
          a.onGot?.();
        },
      },
    ],
  }),
};

export function genListenerTakeOverAndDeclarations(env: () => BusEnv): void {
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    for (const rt of runtimes.splice(0)) await rt.shutdown();
    await env().closeAll();
  });

  it('takeOver: a listener restarted on a named queue consumes it only once its killed predecessor has cancelled its consumer', async () => {
    const t = await env().transport();
    const rt = new Runtime({ node: 'test@localhost', logger: env().logger });
    runtimes.push(rt);
    const order: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // The transport both incarnations use: the predecessor's cancel is held at the gate.
    const held = new Proxy(t, {
      get(target, prop) {
        if (prop === 'cancel')
          return (tag: string) =>
            gate.then(() => target.cancel(tag)).then(() => void order.push('first cancelled'));
        if (prop === 'consume')
          return (...args: Parameters<BusTransport['consume']>) => {
            order.push('consume');
            return target.consume(...args);
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const x = `${env().prefix()}-x`;
    const queue = `${env().prefix()}-ctl`;
    const first: NamedArgs = { queue, exchange: x, got: [] };
    const second: NamedArgs = { queue, exchange: x, got: [] };
    const a = ((await GenListener.start(rt, Named, first, { transport: held })) as { pid: Pid }).pid;
    const exited = rt.awaitExit(a);
    rt.exit(a, 'kill');
    await exited;
    const started = GenListener.start(rt, Named, second, { transport: held });
    // Broker round trips, enough for a start that does not wait to consume.
    for (let i = 0; i < 20 && order.length < 2; i++) await t.checkQueue(queue);
    expect(order).toEqual(['consume']);
    open();
    const b = ((await started) as { pid: Pid }).pid;
    expect(order).toEqual(['consume', 'first cancelled', 'consume']);
    expect((await t.checkQueue(queue)).consumerCount).toBe(1);
    const got = new Promise<void>((r) => (second.onGot = r));
    await t.publish(x, queue, JSON.stringify(authnReq('ivy', 'example.com')), {
      contentType: 'application/json',
    });
    await got;
    expect(second.got).toEqual(['ivy']);
    expect(first.got).toEqual([]);
    await GenServer.stop(rt, b, 'shutdown');
    await GenListener.released(held, queue);
    await t.deleteQueue(queue).catch(() => undefined);
    await t.deleteExchange(x).catch(() => undefined);
  });

  it('a second listener start declares no exchange the connection already declared; a reconnect declares them again', async () => {
    const t = await env().transport();
    const rt = new Runtime({ node: 'test@localhost', logger: env().logger });
    runtimes.push(rt);
    const x = `${env().prefix()}-x`;
    const start = async (n: string) =>
      (
        (await GenListener.start(
          rt,
          Named,
          { queue: `${env().prefix()}-${n}`, exchange: x, got: [] },
          { transport: t },
        )) as { pid: Pid }
      ).pid;
    await start('one');
    const afterFirst = t.exchangesDeclared;
    expect(afterFirst).toBeGreaterThan(10); // Kazoo's exchanges and the test's own
    await start('two');
    expect(t.exchangesDeclared).toBe(afterFirst);
    const back = new Promise<void>((resolve) => t.once('ready', () => resolve()));
    t.sever('test: cut the connection');
    await back;
    const afterReconnect = t.exchangesDeclared;
    expect(afterReconnect - afterFirst).toBe(t.topology.exchanges.size);
    await start('three');
    expect(t.exchangesDeclared).toBe(afterReconnect);
    await t.deleteExchange(x).catch(() => undefined);
  });
}
