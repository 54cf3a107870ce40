/**
 * /metrics, /health and /ready of a real node, run on the embedded bus (metrics.test.ts)
 * and on RabbitMQ (metrics.rabbitmq.test.ts): a scraper reads the Prometheus text and
 * sees the numbers move when a process is killed, messages flow through a listener, the
 * bus reconnects, the store answers, the registrar takes a registration, and an app fails; /ready says 503 while it is
 * failed and 200 once started again; the probes need no token, /metrics does.
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
  type GenServerBehaviour,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build, regSuccessKey } from '../../src/api/index.ts';
import { StoreCache } from '../../src/store/index.ts';

const TOKEN = 'metrics-tok-71c2';
const CTX = { appName: 'fife-test', appVersion: '0.1.0', node: 'probe@localhost' };

/** A listener on the test's own exchange: authn_req answered by nothing, 'explode' throws. */
const ProbeListener: GenListenerBehaviour<null, { exchange: string }> = {
  name: 'metrics_probe_listener',
  init: () => ok(null),
  listen: (a) => ({
    exchanges: [{ name: a.exchange, type: 'topic' }],
    bindings: [{ exchange: a.exchange, routingKey: 'probe.#' }],
    responders: [
      {
        category: 'directory',
        name: 'authn_req',
        handler: (m) => {
          if (m['Auth-User'] === 'explode') throw new Error('probe responder fails on purpose');
        },
      },
    ],
  }),
  handleInfo: (_m, s) => noreply(s),
};

/** Holds its mailbox while a 'block' message waits on `gate` (mailbox lengths). */
let release: () => void = () => undefined;
const BlockedWorker: GenServerBehaviour<null, void> = {
  name: 'metrics_probe_blocked',
  init: () => ok(null),
  async handleInfo(m, s) {
    if (m === 'block') await new Promise<void>((r) => (release = r));
    return noreply(s);
  },
};

/** A plain worker to kill. */
const ProbeWorker: GenServerBehaviour<null, void> = {
  name: 'metrics_probe_worker',
  init: () => ok(null),
  handleInfo: (_m, s) => noreply(s),
};

export function metricsSuite(busUrl: string): void {
  const nodes: FifeNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  async function boot(moreApps: string[] = []) {
    const exchange = `metrics-probe-${Math.random().toString(36).slice(2, 10)}`;
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
                flags: { strategy: 'one_for_one', intensity: 5, period: 60 },
                children: [
                  GenServer.childSpec('worker', ProbeWorker, undefined, { name: 'metrics_probe_worker' }),
                  GenListener.childSpec('listener', ProbeListener, { exchange }, { transport: env.bus }),
                ],
              },
              { name: 'metrics_probe_sup' },
            ),
            GenServer.childSpec('blocked', BlockedWorker, undefined, { name: 'metrics_probe_blocked' }),
          ],
        };
      },
    };
    // Fails for good at its first crash (no restart left), until started again.
    const flaky: AppDefinition<NodeServices> = {
      name: 'flaky',
      maxRestarts: { intensity: 0, period: 60 },
      tree: () => ({
        flags: { strategy: 'one_for_one', intensity: 0, period: 60 },
        children: [GenServer.childSpec('w', ProbeWorkerless, undefined, { name: 'flaky_worker' })],
      }),
    };
    const config = loadConfig({
      env: {
        FIFE_DATA_DIR: tmpDir('fife-metrics-'),
        FIFE_NODE: 'metrics@localhost',
        FIFE_APPS: ['probe', 'flaky', ...moreApps].join(','),
        FIFE_BUS_URL: busUrl,
        FIFE_ADMIN_TOKEN: TOKEN,
        FIFE_LOG_LEVEL: 'error',
      },
    });
    const node = await startNode({
      config,
      extraApps: [probe, flaky],
      logDestination: { write: () => true },
    });
    nodes.push(node);
    const url = node.adminUrl!;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const scrape = async (): Promise<Sample[]> => {
      const res = await fetch(`${url}/metrics`, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseExposition(await res.text());
    };
    const value = async (name: string, labels: Record<string, string> = {}): Promise<number> =>
      sum(await scrape(), name, labels);
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    return { node, url, auth, scrape, value, post, exchange, services: services! };
  }

  it('/health and /ready answer without the token; /metrics needs it and is the Prometheus text format', async () => {
    const { url, auth, scrape } = await boot();
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ node: 'metrics@localhost' });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });

    const none = await fetch(`${url}/metrics`);
    expect(none.status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: auth })).status).toBe(200);

    const samples = await scrape();
    expect(sum(samples, 'fife_processes')).toBeGreaterThan(5);
    expect(sum(samples, 'fife_bus_connected')).toBe(1);
    expect(sum(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sum(samples, 'fife_app_state', { app: 'probe', state: 'running' })).toBe(1);
    expect(sum(samples, 'fife_app_state', { app: 'flaky', state: 'failed' })).toBe(0);
    expect(sum(samples, 'fife_supervisor_children', { supervisor: 'metrics_probe_sup' })).toBe(2);
    // every series of Fife's own carries the node
    expect(
      samples.filter((s) => s.name.startsWith('fife_')).every((s) => s.labels.node === 'metrics@localhost'),
    ).toBe(true);
  });

  it('a killed process counts as a restart of its supervisor', async () => {
    const { node, value, post } = await boot();
    const before = await value('fife_supervisor_restarts_total', { supervisor: 'metrics_probe_sup' });
    expect(before).toBe(0);
    const sup = node.runtime.whereis('metrics_probe_sup');
    const restarted = node.runtime.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.supervisor.id === sup?.id,
    );
    expect((await post('/kill', { name: 'metrics_probe_worker' })).status).toBe(200);
    await restarted;
    expect(await value('fife_supervisor_restarts_total', { supervisor: 'metrics_probe_sup' })).toBe(1);
  });

  it('messages through a listener are counted by outcome, failing responders as errors; publishes and store requests are timed', async () => {
    const { value, scrape, services, exchange } = await boot();
    const msg = (user: string) =>
      JSON.stringify(
        build(
          'authn_req',
          { 'Auth-User': user, 'Auth-Realm': 'r.example', From: 'a@r', To: 'a@r', 'Msg-ID': `m-${user}` },
          CTX,
        ),
      );
    const published0 = await value('fife_bus_publish_seconds_count', { kind: 'publish', result: 'ok' });
    for (const user of ['alice', 'bob', 'explode'])
      await services.bus.publish(exchange, `probe.${user}`, msg(user), { contentType: 'application/json' });
    await services.bus.publish(exchange, 'probe.junk', 'not json', { contentType: 'application/json' });
    await expect
      .poll(() =>
        value('fife_listener_messages_total', { listener: 'metrics_probe_listener', outcome: 'handled' }),
      )
      .toBe(3);
    await expect
      .poll(() => value('fife_listener_errors_total', { listener: 'metrics_probe_listener' }))
      .toBe(1);
    expect(
      await value('fife_listener_messages_total', { listener: 'metrics_probe_listener', outcome: 'invalid' }),
    ).toBe(1);
    expect(
      await value('fife_bus_publish_seconds_count', { kind: 'publish', result: 'ok' }),
    ).toBeGreaterThanOrEqual(published0 + 4);

    const gets0 = await value('fife_store_request_seconds_count', { op: 'get' });
    const notFound0 = await value('fife_store_errors_total', { op: 'get', code: 'not_found' });
    await services.store.createDb('metrics_probe');
    await expect(services.store.get('metrics_probe', 'missing')).rejects.toMatchObject({ code: 'not_found' });
    expect(await value('fife_store_request_seconds_count', { op: 'get' })).toBe(gets0 + 1);
    expect(await value('fife_store_errors_total', { op: 'get', code: 'not_found' })).toBe(notFound0 + 1);

    const cache = new StoreCache();
    const misses0 = await value('fife_cache_misses_total');
    const hits0 = await value('fife_cache_hits_total');
    cache.store('k', 1);
    cache.get('k');
    cache.get('absent');
    cache.close();
    expect(await value('fife_cache_hits_total')).toBe(hits0 + 1);
    expect(await value('fife_cache_misses_total')).toBe(misses0 + 1);
    const one = await scrape();
    const [hits, misses] = [sum(one, 'fife_cache_hits_total'), sum(one, 'fife_cache_misses_total')];
    expect(sum(one, 'fife_cache_hit_ratio')).toBeCloseTo(hits / (hits + misses), 6);
  });

  it('a process that falls behind shows its mailbox length, and none once it caught up', async () => {
    const { node, value } = await boot();
    const rt = node.runtime;
    rt.send('metrics_probe_blocked', 'block');
    for (let i = 0; i < 5; i++) rt.send('metrics_probe_blocked', `m${i}`);
    await expect.poll(() => value('fife_mailbox_length', { process: 'metrics_probe_blocked' })).toBe(5);
    expect(await value('fife_mailbox_messages')).toBeGreaterThanOrEqual(5);
    release();
    await expect.poll(() => value('fife_mailbox_length', { process: 'metrics_probe_blocked' })).toBe(0);
  });

  it('a phone registered through the registrar shows in fife_registrations', async () => {
    const { value, services } = await boot(['registrar']);
    // A shared RabbitMQ may carry other registrars' reg_success (Kazoo broadcasts them): exact on the embedded bus only.
    const exact = busUrl === 'embedded';
    const before = await value('fife_registrations');
    if (exact) expect(before).toBe(0);
    const realm = `metrics-${Math.random().toString(36).slice(2, 8)}.example.com`;
    await services.bus.publish(
      'registrar',
      regSuccessKey(realm, 'alice'),
      JSON.stringify(
        build(
          'reg_success',
          {
            Status: 'Registered',
            'Event-Timestamp': Math.floor(Date.now() / 1000),
            Expires: 3600,
            'First-Registration': true,
            Contact: `<sip:alice@10.0.0.7:5060>`,
            'Call-ID': `reg-alice-${realm}`,
            Realm: realm,
            Username: 'alice',
            'From-User': 'alice',
            'From-Host': realm,
            'To-User': 'alice',
            'To-Host': realm,
            'User-Agent': 'SIPp/3.6',
            'Source-IP': '127.0.0.1',
            'Source-Port': '5070',
          },
          CTX,
        ),
      ),
    );
    await expect.poll(() => value('fife_registrations')).toBeGreaterThan(before);
    if (exact) expect(await value('fife_registrations')).toBe(1);
  });

  it('a bus connection lost and recovered counts a reconnect', async () => {
    const { value, services } = await boot();
    expect(await value('fife_bus_reconnects_total')).toBe(0);
    const recovered = new Promise<void>((resolve) =>
      services.bus.on('ready', (e) => {
        if (e.recovered) resolve();
      }),
    );
    services.bus.sever('metrics test');
    await recovered;
    expect(await value('fife_bus_reconnects_total')).toBe(1);
    expect(await value('fife_bus_connection_lost_total')).toBe(1);
    expect(await value('fife_bus_connected')).toBe(1);
  });

  it('/ready answers 503 naming a failed app, and 200 once it is started again', async () => {
    const { node, url, value, post } = await boot();
    const gaveUp = node.runtime.events.waitFor('app', (e) => e.kind === 'gave_up' && e.app === 'flaky');
    expect((await post('/kill', { name: 'flaky_worker', reason: 'boom' })).status).toBe(200);
    await gaveUp;
    const notReady = await fetch(`${url}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reasons: ['app flaky failed'] });
    expect(await value('fife_app_state', { app: 'flaky', state: 'failed' })).toBe(1);
    expect(await value('fife_app_state', { app: 'flaky', state: 'running' })).toBe(0);
    expect((await fetch(`${url}/health`)).status).toBe(200);

    expect((await post('/apps/flaky/start', {})).status).toBe(200);
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await value('fife_app_state', { app: 'flaky', state: 'running' })).toBe(1);
  });
}

const ProbeWorkerless: GenServerBehaviour<null, void> = {
  name: 'flaky_worker',
  init: () => ok(null),
  handleInfo: (_m, s) => noreply(s),
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped, label values unescaped). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `labels` (0 when none). */
function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}
