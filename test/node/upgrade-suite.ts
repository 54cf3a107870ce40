/**
 * Upgrading a plugin in a running node, run on the embedded bus (upgrade.test.ts) and on
 * RabbitMQ (upgrade.rabbitmq.test.ts): the node runs test/node/fixtures/upgrade-counter-v1
 * (a gen_listener on a named queue counting authn_req messages); the admin endpoint's
 * `POST /apps/upgrade_counter/upgrade` moves it to another version while messages flow.
 * - to v2 (codeChange takes the count over): every message published before, during and
 *   after is counted exactly once, and v2's responders handle those after;
 * - to a v2 whose codeChange throws, or to a module that cannot be imported: refused with
 *   the reason, and v1 goes on counting from where it was.
 * - test/node/fixtures/upgrade-relay-v1 to v2 (no codeChange anywhere: the listeners, on
 *   an auto-delete named queue and on a generated-name queue, and a plain gen_server are
 *   restarted): every message published before, during and after is handled once and
 *   only once, the listeners keep their queues, the gen_server starts afresh.
 */
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import type { AppDefinition } from '../../src/kernel/index.ts';
import { loadConfig } from '../../src/node/config.ts';
import { build } from '../../src/api/index.ts';
import type { Tally } from './fixtures/upgrade-relay-v1/app.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const V1 = join(FIXTURES, 'upgrade-counter-v1');
const V2 = join(FIXTURES, 'upgrade-counter-v2');
const REFUSES = join(FIXTURES, 'upgrade-counter-v2-refuses');
const BROKEN = join(FIXTURES, 'upgrade-counter-broken');
const RELAY_V1 = join(FIXTURES, 'upgrade-relay-v1');
const RELAY_V2 = join(FIXTURES, 'upgrade-relay-v2');
const RELAY_V2_FAILS = join(FIXTURES, 'upgrade-relay-v2-fails');
const CTX = { appName: 'fife-test', appVersion: '0.1.0', node: 'upgrade@localhost' };

interface Count {
  version: string;
  total: number;
  fromV1?: number;
  byV2?: number;
}

export function upgradeSuite(busUrl: string): void {
  const nodes: FifeNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  async function boot(plugin = V1, app = 'upgrade_counter') {
    const tag = Math.random().toString(36).slice(2, 10);
    const exchange = `${app}-${tag}`;
    const dataDir = tmpDir('fife-upgrade-');
    const file = join(dataDir, 'fife.json');
    writeFileSync(file, JSON.stringify({ settings: { [app]: { exchange, queue: `${app}_${tag}` } } }));
    const config = loadConfig({
      file,
      env: {
        FIFE_DATA_DIR: dataDir,
        FIFE_NODE: 'upgrade@localhost',
        FIFE_APPS: `${app},upgrade_probe`,
        FIFE_PLUGINS: plugin,
        FIFE_BUS_URL: busUrl,
        FIFE_LOG_LEVEL: 'info',
      },
    });
    const lines: Array<Record<string, unknown>> = [];
    // an app with no children that hands the test the node's services (its bus)
    let services: NodeServices | undefined;
    const probe: AppDefinition<NodeServices> = {
      name: 'upgrade_probe',
      tree: (env) => {
        services = env;
        return { children: [] };
      },
    };
    const node = await startNode({
      config,
      extraApps: [probe],
      logDestination: {
        write: (l: string) => {
          lines.push(JSON.parse(l) as Record<string, unknown>);
          return true;
        },
      },
    });
    nodes.push(node);
    const url = node.adminUrl!;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const op = async <T>(name: string): Promise<T> =>
      (await post(`/apps/${app}/ops/${name}`, {})).body.result as T;
    const count = () => op<Count>('count');
    const version = async () =>
      ((await (await fetch(`${url}/apps`)).json()) as Array<{ name: string; version?: string }>).find(
        (a) => a.name === app,
      )?.version;
    let seq = 0;
    const publish = (n: number, keys: readonly string[] = ['count']) => {
      const tasks: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const id = ++seq;
        const msg = build(
          'authn_req',
          { 'Auth-User': `u${id}`, 'Auth-Realm': 'r.example', From: 'a@r', To: 'a@r', 'Msg-ID': `m-${id}` },
          CTX,
        );
        tasks.push(
          services!.bus.publish(exchange, `${keys[id % keys.length]}.${id}`, JSON.stringify(msg), {
            contentType: 'application/json',
          }),
        );
      }
      return Promise.all(tasks).then(() => undefined);
    };
    return { node, post, op, count, version, publish, lines, published: () => seq };
  }

  /** Publishes 20 messages at a time until `done` settles (the upgrade running meanwhile). */
  async function publishDuring<T>(publish: (n: number) => Promise<void>, done: Promise<T>): Promise<T> {
    let running = true;
    const load = (async () => {
      while (running) {
        await publish(20);
        // (the embedded bus may publish without an event-loop turn: give the upgrade its turns)
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      return await done;
    } finally {
      running = false;
      await load;
    }
  }

  it('a plugin upgraded under load loses no message; codeChange carries the count over and the new code counts after', async () => {
    const { post, count, version, publish, published, lines } = await boot();
    expect(await version()).toBe('1.0.0');
    await publish(300);
    // all 300 counted by version 1 before the upgrade (a publish the broker confirmed may
    // still be on its way to the listener on RabbitMQ: then it is counted after the upgrade)
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(300);
    // publishing goes on while the upgrade runs
    const r = await publishDuring(publish, post('/apps/upgrade_counter/upgrade', { from: V2 }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ type: 'ok', from: '1.0.0', to: '2.0.0', changed: ['counter'] });
    await publish(200);
    const total = published();
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(total);
    const after = await count();
    expect(after).toMatchObject({ version: '2.0.0', total });
    expect(after.fromV1).toBeGreaterThanOrEqual(300);
    // the last 200 (at least) went through v2's responder
    expect(after.byV2).toBeGreaterThanOrEqual(200);
    expect(after.fromV1! + after.byV2!).toBeLessThanOrEqual(total);
    expect(await version()).toBe('2.0.0');
    expect(lines.find((l) => l.msg === 'app upgraded')).toMatchObject({
      app: 'upgrade_counter',
      from: '1.0.0',
      to: '2.0.0',
    });
  });

  it('an upgrade whose codeChange throws is refused with the reason; the old version serves on with its state', async () => {
    const { post, count, version, publish, lines } = await boot();
    await publish(100);
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(100);
    const r = await post('/apps/upgrade_counter/upgrade', { from: REFUSES });
    expect(r.status).toBe(409);
    expect(String(r.body.reason)).toContain('cannot take this state over');
    expect(lines.find((l) => l.msg === 'app upgrade failed: the old version runs on')).toMatchObject({
      app: 'upgrade_counter',
    });
    await publish(50);
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(150);
    expect(await count()).toEqual({ version: '1.0.0', total: 150 });
    expect(await version()).toBe('1.0.0');
  });

  it('a new version that cannot be imported is refused with the reason; the old version serves on', async () => {
    const { post, count, version, publish } = await boot();
    await publish(40);
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(40);
    const r = await post('/apps/upgrade_counter/upgrade', { from: BROKEN });
    expect(r.status).toBe(409);
    expect(String(r.body.reason)).toMatch(/cannot load plugin .*not-there/);
    const none = await post('/apps/upgrade_counter/upgrade', { from: join(FIXTURES, 'no-such-plugin') });
    expect(none.status).toBe(409);
    expect(String(none.body.reason)).toContain('plugin not found');
    const other = await post('/apps/nope/upgrade', { from: V2 });
    expect(other.status).toBe(409);
    expect(String(other.body.reason)).toContain('upgrade_counter');
    await publish(10);
    await expect.poll(async () => (await count()).total, { timeout: 20_000 }).toBe(50);
    expect(await version()).toBe('1.0.0');
  });

  it('listeners without codeChange are restarted on their queues (auto-delete named, generated name) and lose no message; a plain gen_server restarts with a fresh state', async () => {
    const { post, op, version, publish, published } = await boot(RELAY_V1, 'upgrade_relay');
    const keys = ['named', 'anon'];
    const send = (n: number) => publish(n, keys);
    const queues = await op<{ named: string; anon: string }>('queues');
    expect(await op('session')).toEqual({ version: '1.0.0', served: 1 });
    expect(await op('session')).toEqual({ version: '1.0.0', served: 2 });
    await send(200);
    // (an anonymous queue holds 100 messages at most, Kazoo's x-max-length: let them be taken)
    await expect.poll(async () => (await op<Tally>('tally')).distinct, { timeout: 20_000 }).toBe(200);
    const r = await publishDuring(send, post('/apps/upgrade_relay/upgrade', { from: RELAY_V2 }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ type: 'ok', from: '1.0.0', to: '2.0.0', changed: [] });
    expect([...(r.body.restarted as string[])].sort()).toEqual(['anon', 'named', 'session']);
    await send(200);
    const total = published();
    await expect.poll(async () => (await op<Tally>('tally')).distinct, { timeout: 20_000 }).toBe(total);
    const tally = await op<Tally>('tally');
    // every message handled exactly once, the last 200 (at least) by version 2
    expect(tally.repeated).toBe(0);
    expect((tally.by['named@2.0.0'] ?? 0) + (tally.by['anon@2.0.0'] ?? 0)).toBeGreaterThanOrEqual(200);
    // the restarted listeners are on the same queues: the generated name (its Server-ID) kept
    expect(await op('queues')).toEqual(queues);
    // the session server was restarted: its state starts again, on the new code
    expect(await op('session')).toEqual({ version: '2.0.0', served: 1 });
    expect(await version()).toBe('2.0.0');
  });

  it('an upgrade undone because a restarted listener cannot start loses no message: the old version serves on its queues', async () => {
    const { post, op, version, publish, published } = await boot(RELAY_V1, 'upgrade_relay');
    const send = (n: number) => publish(n, ['named', 'anon']);
    const queues = await op<{ named: string; anon: string }>('queues');
    await send(200);
    await expect.poll(async () => (await op<Tally>('tally')).distinct, { timeout: 20_000 }).toBe(200);
    const r = await publishDuring(send, post('/apps/upgrade_relay/upgrade', { from: RELAY_V2_FAILS }));
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body.reason)).toContain('anon@2.0.0 cannot start');
    await send(200);
    const total = published();
    await expect.poll(async () => (await op<Tally>('tally')).distinct, { timeout: 20_000 }).toBe(total);
    const tally = await op<Tally>('tally');
    expect(tally.repeated).toBe(0);
    expect(tally.by['anon@2.0.0']).toBeUndefined();
    expect(await op('queues')).toEqual(queues);
    expect(await version()).toBe('1.0.0');
  });
}
