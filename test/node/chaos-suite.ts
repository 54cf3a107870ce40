/**
 * Fault injection on a running node, over its admin endpoint (POST /chaos, GET /events,
 * /metrics), run on the embedded bus (chaos.test.ts) and on RabbitMQ
 * (chaos.rabbitmq.test.ts). Each kind shows its effect and the recovery a user checks:
 * a killed or crashed process is restarted; a severed bus comes back and the listener
 * consumes again; an unreachable store fails with StoreError 'unavailable', then
 * answers; lost or delayed deliveries; a schedule repeats from its seed; the event
 * stream carries the fault and the restart that follows; the metrics count them.
 */
import { afterEach, expect, it } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import {
  GenServer,
  Supervisor,
  ok,
  noreply,
  type AppDefinition,
  type FaultEvent,
  type GenServerBehaviour,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build } from '../../src/api/index.ts';
import { StoreError } from '../../src/store/index.ts';
import { candidatesIn, planSchedule } from '../../src/node/chaos.ts';

const TOKEN = 'chaos-tok-5e1a';
const CTX = { appName: 'fife-test', appVersion: '0.1.0', node: 'chaos-probe@localhost' };

/** Counts the authn_req it handles, by Auth-User. */
const handled: string[] = [];
const ChaosListener: GenListenerBehaviour<null, { exchange: string }> = {
  name: 'chaos_probe_listener',
  init: () => ok(null),
  listen: (a) => ({
    exchanges: [{ name: a.exchange, type: 'topic' }],
    bindings: [{ exchange: a.exchange, routingKey: 'probe.#' }],
    responders: [
      { category: 'directory', name: 'authn_req', handler: (m) => void handled.push(String(m['Auth-User'])) },
    ],
  }),
  handleInfo: (_m, s) => noreply(s),
};

const Worker: GenServerBehaviour<null, void> = {
  name: 'chaos_probe_worker',
  init: () => ok(null),
  handleInfo: (_m, s) => noreply(s),
};

export function chaosSuite(busUrl: string): void {
  const nodes: FifeNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    handled.length = 0;
  });

  async function boot(logLines?: Array<Record<string, unknown>>) {
    const exchange = `chaos-probe-${Math.random().toString(36).slice(2, 10)}`;
    let services: NodeServices | undefined;
    const probe: AppDefinition<NodeServices> = {
      name: 'probe',
      tree: (env) => {
        services = env;
        return {
          children: [
            Supervisor.childSpec(
              'sup',
              {
                flags: { strategy: 'one_for_one', intensity: 1000, period: 60 },
                children: [
                  GenServer.childSpec('w1', Worker, undefined, { name: 'chaos_w1' }),
                  GenServer.childSpec('w2', Worker, undefined),
                  GenServer.childSpec('w3', Worker, undefined, { name: 'chaos_w3' }),
                ],
              },
              { name: 'chaos_probe_sup' },
            ),
            GenListener.childSpec('listener', ChaosListener, { exchange }, { transport: env.bus }),
          ],
        };
      },
    };
    const config = loadConfig({
      env: {
        FIFE_DATA_DIR: tmpDir('fife-chaos-'),
        FIFE_NODE: 'chaos@localhost',
        FIFE_APPS: 'probe',
        FIFE_BUS_URL: busUrl,
        FIFE_ADMIN_TOKEN: TOKEN,
        FIFE_LOG_LEVEL: logLines === undefined ? 'error' : 'info',
      },
    });
    const node = await startNode({
      config,
      extraApps: [probe],
      logDestination: {
        write: (line: string) => {
          logLines?.push(JSON.parse(line) as Record<string, unknown>);
          return true;
        },
      },
    });
    nodes.push(node);
    const url = node.adminUrl!;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
      const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
      let total = 0;
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (m === null || m[1] !== name) continue;
        const have = Object.fromEntries(
          [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
      }
      return total;
    };
    const send = (user: string) =>
      services!.bus.publish(
        exchange,
        `probe.${user}`,
        JSON.stringify(
          build(
            'authn_req',
            { 'Auth-User': user, 'Auth-Realm': 'r', From: 'a@r', To: 'a@r', 'Msg-ID': `m-${user}` },
            CTX,
          ),
        ),
        { contentType: 'application/json' },
      );
    const fault = (match: (e: FaultEvent) => boolean) => node.runtime.events.waitFor('fault', match);
    return { node, url, auth, post, metric, send, fault, services: services! };
  }

  it('kill by name, by pid and at random in a subtree: the supervisor restarts it; crash carries its reason', async () => {
    const { node, post, metric } = await boot();
    const rt = node.runtime;
    const w1 = rt.whereis('chaos_w1')!;
    const restarted = rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === 'w1',
    );
    const r = await post('/chaos', { kind: 'kill', name: 'chaos_w1' });
    expect(r).toMatchObject({
      status: 200,
      body: { type: 'ok', kind: 'kill', target: 'chaos_w1', pid: String(w1) },
    });
    await restarted;
    expect(String(rt.whereis('chaos_w1'))).not.toBe(String(w1));

    const w3 = rt.whereis('chaos_w3')!;
    const exited = rt.events.waitFor('exit', (e) => String(e.pid) === String(w3));
    expect((await post('/chaos', { kind: 'crash', pid: String(w3), reason: 'db_timeout' })).status).toBe(200);
    expect((await exited).reason).toBe('db_timeout');

    const picks = candidatesIn(rt, 'chaos_probe_sup', 'kernel_sup').map((c) => c.target);
    expect(picks).toEqual(['chaos_w1', 'w2', 'chaos_w3']);
    // An app's root is started unnamed: random_in names it as the tree shows it (<app>_sup).
    expect(candidatesIn(rt, 'probe_sup', 'kernel_sup').map((c) => c.target)).toEqual([
      'chaos_probe_sup',
      'chaos_w1',
      'sup/w2',
      'chaos_w3',
      'listener',
    ]);
    const random = await post('/chaos', { kind: 'kill', random_in: 'chaos_probe_sup' });
    expect(random.status).toBe(200);
    expect(picks).toContain(random.body.target);
    await expect.poll(() => metric('fife_faults_injected_total', { kind: 'kill' })).toBe(2);
    expect(await metric('fife_faults_injected_total', { kind: 'crash' })).toBe(1);
    await expect
      .poll(() => metric('fife_supervisor_restarts_total', { supervisor: 'chaos_probe_sup' }))
      .toBe(3);
  });

  it('sever-bus: the connection is cut, comes back after the hold, and the listener consumes again', async () => {
    const { node, post, send, fault, services, metric } = await boot();
    await send('before');
    await expect.poll(() => handled).toEqual(['before']);
    const lost = new Promise((r) => services.bus.once('lost', r));
    const ready = new Promise<{ recovered: boolean }>((r) => services.bus.once('ready', r));
    const ended = fault((e) => e.kind === 'sever-bus' && e.phase === 'ended');
    const r = await post('/chaos', { kind: 'sever-bus', ms: 500 });
    expect(r).toMatchObject({ status: 200, body: { kind: 'sever-bus', target: 'bus', params: { ms: 500 } } });
    await lost;
    await ended;
    expect((await ready).recovered).toBe(true);
    // The listener's queue and consumer are restored with the topology.
    await send('after');
    await expect.poll(() => handled).toEqual(['before', 'after']);
    expect(await metric('fife_bus_reconnects_total')).toBe(1);
    expect(await metric('fife_faults_injected_total', { kind: 'sever-bus' })).toBe(1);
    expect(node.runtime.whereis('kernel_sup')).toBeDefined();
  });

  it('store-down: store calls fail with StoreError unavailable, then answer again', async () => {
    const { post, fault, services, metric } = await boot();
    await services.store.createDb('chaos_probe');
    await services.store.save('chaos_probe', { _id: 'a', n: 1 });
    const ended = fault((e) => e.kind === 'store-down' && e.phase === 'ended');
    expect((await post('/chaos', { kind: 'store-down', ms: 400 })).status).toBe(200);
    const err = await services.store.get('chaos_probe', 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'unavailable', op: 'get', database: 'chaos_probe' });
    await ended;
    expect(await services.store.get('chaos_probe', 'a')).toMatchObject({ n: 1 });
    expect(await metric('fife_store_errors_total', { op: 'get', code: 'unavailable' })).toBe(1);
  });

  it('drop-bus loses deliveries while on; delay-bus delivers them late but delivers them', async () => {
    const { post, send, fault } = await boot();
    let ended = fault((e) => e.kind === 'drop-bus' && e.phase === 'ended');
    expect((await post('/chaos', { kind: 'drop-bus', drop: 1, ms: 300 })).status).toBe(200);
    await send('lost');
    await ended;
    await send('kept');
    // 'lost' would have been handled before 'kept' (one queue, in order).
    await expect.poll(() => handled).toEqual(['kept']);

    ended = fault((e) => e.kind === 'delay-bus' && e.phase === 'ended');
    expect((await post('/chaos', { kind: 'delay-bus', delay_ms: 100, ms: 300 })).status).toBe(200);
    await send('late');
    await expect.poll(() => handled).toEqual(['kept', 'late']);
    await ended;
  });

  it('GET /events streams the fault as JSON, then the restart it caused', async () => {
    const { url, auth, post, node } = await boot();
    const ac = new AbortController();
    const res = await fetch(`${url}/events?types=fault,supervisor`, { headers: auth, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const events: Array<{ event: string; data: Record<string, unknown> }> = [];
    let buf = '';
    const until = async (match: (e: { event: string; data: Record<string, unknown> }) => boolean) => {
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += new TextDecoder().decode(value);
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    };
    // The stream is subscribed once its first comment arrived (headers written after subscribing).
    const pid = String(node.runtime.whereis('chaos_w1'));
    expect((await post('/chaos', { kind: 'kill', name: 'chaos_w1' })).status).toBe(200);
    const f = await until((e) => e.event === 'fault');
    expect(f.data).toMatchObject({
      type: 'fault',
      kind: 'kill',
      phase: 'injected',
      target: 'chaos_w1',
      params: { reason: 'killed', pid },
    });
    const restart = await until((e) => e.event === 'supervisor' && e.data.kind === 'child_restarted');
    expect(restart.data).toMatchObject({ type: 'supervisor', childId: 'w1' });
    expect(typeof restart.data.supervisor).toBe('string');
    expect(events.indexOf(f)).toBeLessThan(events.indexOf(restart));
    // A stream left open does not hold the node: stopping it ends the stream.
    void ac;
    await node.stop();
    // Read out whatever was sent before the end: the stream ends (or errors), never hangs.
    let more = true;
    while (more)
      more = await reader.read().then(
        (r) => !r.done,
        () => false,
      );
  });

  it('a schedule repeats exactly from its seed: same injections on the same targets, as planSchedule says', async () => {
    const { node, post } = await boot();
    const rt = node.runtime;
    const run = async (): Promise<Array<{ step?: number; kind: string; target?: string }>> => {
      const seen: FaultEvent[] = [];
      const on = (e: FaultEvent): void => void (e.seed === 42 && e.phase === 'injected' && seen.push(e));
      rt.events.on('fault', on);
      const last = rt.events.waitFor('fault', (e) => e.seed === 42 && e.step === 5 && e.phase !== 'ended');
      const r = await post('/chaos', {
        every_ms: 100,
        for_ms: 600,
        seed: 42,
        kinds: ['kill', 'store-down', 'delay-bus'],
        random_in: 'chaos_probe_sup',
        ms: 50,
        delay_ms: 10,
      });
      expect(r).toMatchObject({ status: 200, body: { seed: 42, steps: 6 } });
      await last;
      rt.events.off('fault', on);
      await expect
        .poll(async () =>
          (
            await fetch(`${node.adminUrl}/chaos/schedule`, { headers: { authorization: `Bearer ${TOKEN}` } })
          ).json(),
        )
        .toEqual({ running: false });
      return seen.map((e) => ({ step: e.step, kind: e.kind, target: e.target }));
    };
    const first = await run();
    const second = await run();
    expect(first).toHaveLength(6);
    expect(second).toEqual(first);
    const planned = planSchedule(42, 6, ['kill', 'store-down', 'delay-bus'], ['chaos_w1', 'w2', 'chaos_w3']);
    expect(first).toEqual(
      planned.map((p) => ({
        step: p.step,
        kind: p.kind,
        target: p.target ?? (p.kind === 'store-down' ? 'store' : 'bus'),
      })),
    );
  });

  it('POST /chaos refuses a bad body with 400 naming the field, and a missing target with 404', async () => {
    const { post } = await boot();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ kind: 'explode' }, 400, /body\/kind must be equal to one of the allowed values/],
      [{ kind: 'sever-bus', ms: -5 }, 400, /body\/ms must be >= 1/],
      [{ kind: 'drop-bus', drop: 1.5 }, 400, /body\/drop must be <= 1/],
      [{ kind: 'kill', name: 'x', colour: 'red' }, 400, /additional properties \('colour'\)/],
      [{ kind: 'kill' }, 400, /kill needs exactly one of name, pid or random_in/],
      [{ kind: 'delay-bus', ms: 100 }, 400, /delay_ms must be/],
      [{}, 400, /body needs kind/],
      [{ every_ms: 100 }, 400, /needs both every_ms and for_ms/],
      [{ every_ms: 100, for_ms: 1000, kinds: ['kill'] }, 400, /need random_in/],
      [{ kind: 'kill', name: 'no_such_process' }, 404, /no such process: no_such_process/],
      [{ kind: 'kill', random_in: 'chaos_w1' }, 400, /'chaos_w1' is not a supervisor/],
      [{ kind: 'drop-event-socket' }, 404, /no event socket on this node/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post('/chaos', body);
      expect({ body, status: r.status }).toEqual({ body, status });
      expect(String(r.body.error)).toMatch(message);
      expect(r.body.request_id).toMatch(/^adm-/);
    }
    // A schedule while one runs: 409.
    expect(
      (await post('/chaos', { every_ms: 1000, for_ms: 60_000, kinds: ['store-down'], ms: 1 })).status,
    ).toBe(200);
    expect((await post('/chaos', { every_ms: 1000, for_ms: 60_000, kinds: ['store-down'] })).status).toBe(
      409,
    );
    expect((await post('/chaos/stop', {})).body).toMatchObject({ type: 'ok', stopped: true });
  });

  it('each injection, its end and the restart it causes are one pino line each', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const { node, post, fault } = await boot(lines);
    const restarted = node.runtime.events.waitFor('supervisor', (e) => e.kind === 'child_restarted');
    expect((await post('/chaos', { kind: 'kill', name: 'chaos_w1' })).status).toBe(200);
    await restarted;
    const ended = fault((e) => e.kind === 'store-down' && e.phase === 'ended');
    expect((await post('/chaos', { kind: 'store-down', ms: 50 })).status).toBe(200);
    await ended;
    const of = (msg: string) => lines.filter((l) => l.msg === msg);
    expect(of('fault injected')).toEqual([
      expect.objectContaining({ level: 40, node: 'chaos@localhost', fault: 'kill', target: 'chaos_w1' }),
      expect.objectContaining({ level: 40, fault: 'store-down', target: 'store', params: { ms: 50 } }),
    ]);
    expect(of('fault ended')).toEqual([expect.objectContaining({ level: 30, fault: 'store-down' })]);
    expect(of('child restarted')).toEqual([expect.objectContaining({ child: 'w1' })]);
  });
}
