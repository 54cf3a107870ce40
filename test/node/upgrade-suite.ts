/**
 * Upgrading a plugin in a running node, run on the embedded bus (upgrade.test.ts) and on
 * RabbitMQ (upgrade.rabbitmq.test.ts): the node runs test/node/fixtures/upgrade-counter-v1
 * (a gen_listener on a named queue counting authn_req messages); the admin endpoint's
 * `POST /apps/upgrade_counter/upgrade` moves it to another version while messages flow.
 * - to v2 (codeChange takes the count over): every message published before, during and
 *   after is counted exactly once, and v2's responders handle those after;
 * - to a v2 whose codeChange throws, or to a module that cannot be imported: refused with
 *   the reason, and v1 goes on counting from where it was.
 */
import { afterEach, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpDir } from '../support/tmp-dirs.ts';
import { startNode, type FifeNode, type NodeServices } from '../../src/node/node.ts';
import type { AppDefinition } from '../../src/kernel/index.ts';
import { loadConfig } from '../../src/node/config.ts';
import { build } from '../../src/api/index.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const V1 = join(FIXTURES, 'upgrade-counter-v1');
const V2 = join(FIXTURES, 'upgrade-counter-v2');
const REFUSES = join(FIXTURES, 'upgrade-counter-v2-refuses');
const BROKEN = join(FIXTURES, 'upgrade-counter-broken');
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

  async function boot() {
    const tag = Math.random().toString(36).slice(2, 10);
    const exchange = `upgrade-counter-${tag}`;
    const dataDir = tmpDir('fife-upgrade-');
    const file = join(dataDir, 'fife.json');
    writeFileSync(
      file,
      JSON.stringify({ settings: { upgrade_counter: { exchange, queue: `upgrade_counter_${tag}` } } }),
    );
    const config = loadConfig({
      file,
      env: {
        FIFE_DATA_DIR: dataDir,
        FIFE_NODE: 'upgrade@localhost',
        FIFE_APPS: 'upgrade_counter,upgrade_probe',
        FIFE_PLUGINS: V1,
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
    const count = async (): Promise<Count> =>
      (await post('/apps/upgrade_counter/ops/count', {})).body.result as Count;
    const version = async () =>
      ((await (await fetch(`${url}/apps`)).json()) as Array<{ name: string; version?: string }>).find(
        (a) => a.name === 'upgrade_counter',
      )?.version;
    let seq = 0;
    const publish = (n: number) => {
      const tasks: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const id = ++seq;
        const msg = build(
          'authn_req',
          { 'Auth-User': `u${id}`, 'Auth-Realm': 'r.example', From: 'a@r', To: 'a@r', 'Msg-ID': `m-${id}` },
          CTX,
        );
        tasks.push(
          services!.bus.publish(exchange, `count.${id}`, JSON.stringify(msg), {
            contentType: 'application/json',
          }),
        );
      }
      return Promise.all(tasks).then(() => undefined);
    };
    return { node, post, count, version, publish, lines, published: () => seq };
  }

  it('a plugin upgraded under load loses no message; codeChange carries the count over and the new code counts after', async () => {
    const { post, count, version, publish, published, lines } = await boot();
    expect(await version()).toBe('1.0.0');
    await publish(300);
    // publishing goes on while the upgrade runs
    let upgrading = true;
    const load = (async () => {
      while (upgrading) {
        await publish(20);
        // (the embedded bus may publish without an event-loop turn: give the upgrade its turns)
        await new Promise((r) => setImmediate(r));
      }
    })();
    const r = await post('/apps/upgrade_counter/upgrade', { from: V2 });
    upgrading = false;
    await load;
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
}
