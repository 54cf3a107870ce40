/**
 * `fife acdc queues|agents|login|pause|resume|logout` as an operator runs them against a
 * started node (the acdc app with a queue and an agent in settings.acdc): the commands go
 * through the node's admin endpoint to the queue manager and the agent process on its
 * bus; the agent's state read back after each action; `--json`; an unknown agent or
 * account fails with the reason and a non-zero exit. Then with the queue and agent as
 * documents of the account database (store mode): names listed, the agent steered by
 * its username.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { addAccount } from '../../../apps/registrar/provisioning.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { loadConfig, nodeDir } from '../../../src/node/config.ts';
import { accountDbName, newDocId, openStore } from '../../../src/store/index.ts';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIFE = join(ROOT, 'bin/fife.js');
const run = promisify(execFile);

const nodes: FifeNode[] = [];
afterAll(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

describe('fife acdc', () => {
  it('lists queues and agents and logs an agent in, pauses, resumes and logs it out', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-acdc-cli-'),
      FIFE_NODE: 'acdccli@localhost',
      FIFE_APPS: 'acdc',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const config = loadConfig({ env });
    config.settings.acdc = {
      account_id: 'center',
      queues: [{ id: 'sales', collect_timeout: 0.3, retry_interval: 0.3 }],
      agents: [{ id: 'agent-1', queues: ['sales'] }],
    };
    nodes.push(await startNode({ config, logDestination: { write: () => undefined } }));
    const fife = async (...args: string[]) => (await run(process.execPath, [FIFE, ...args], { env })).stdout;
    const fails = (...args: string[]) =>
      run(process.execPath, [FIFE, ...args], { env }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );

    const queues = await fife('acdc', 'queues');
    expect(queues).toMatch(/^sales round_robin waiting=0 answered=0 abandoned=0 .*agents_logged_in=0/m);
    const asJson = JSON.parse(await fife('acdc', 'queues', '--json', '--account', 'center'));
    expect(asJson).toMatchObject({
      account_id: 'center',
      queues: [{ id: 'sales', stats: { waiting: 0, answered: 0, agents_logged_in: 0 } }],
    });

    const agentState = async () =>
      (JSON.parse(await fife('acdc', 'agents', '--json')) as { agents: Array<{ status: string }> }).agents[0]!
        .status;
    const until = async (want: string) => {
      for (const end = Date.now() + 15_000; (await agentState()) !== want;)
        if (Date.now() > end) throw new Error(`agent never ${want}`);
    };
    expect(await fife('acdc', 'agents')).toMatch(/^agent-1 logged_out queues=sales calls=0 misses=0$/m);
    for (const [cmd, state] of [
      ['login', 'ready'],
      ['pause', 'paused'],
      ['resume', 'ready'],
      ['logout', 'logged_out'],
    ] as const) {
      expect(await fife('acdc', cmd, 'agent-1')).toMatch(new RegExp(`^agent-1: ${cmd} sent`, 'm'));
      await until(state);
    }
    await fife('acdc', 'login', 'agent-1');
    await until('ready');
    expect(await fife('acdc', 'queues')).toMatch(/^sales .*agents_logged_in=1 agents_available=1/m);

    const unknown = await fails('acdc', 'login', 'nobody');
    expect(unknown?.code).not.toBe(0);
    expect(unknown?.stderr).toMatch(/no agent "nobody"/);
    const otherAccount = await fails('acdc', 'queues', '--account', 'no-such-account');
    expect(otherAccount?.code).not.toBe(0);
  }, 90_000);

  it('store mode: queue and user documents listed with their names; an agent steered by its username', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-acdc-cli-store-'),
      FIFE_NODE: 'acdcstore@localhost',
      FIFE_APPS: 'acdc',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const config = loadConfig({ env });
    // The documents crossbar would write, written before the node holds its store.
    const store = openStore(config.store, { dataDir: nodeDir(config), logger: memoryLogger().logger });
    const accountId = await addAccount(store, { name: 'Center', realm: 'sip.center.test' });
    const db = accountDbName(accountId, 'encoded');
    const queueId = newDocId();
    await store.save(db, { _id: queueId, pvt_type: 'queue', name: 'Sales', strategy: 'most_idle' });
    const userId = newDocId();
    await store.save(db, {
      _id: userId,
      pvt_type: 'user',
      username: 'ada',
      first_name: 'Ada',
      last_name: 'Agent',
      queues: [queueId],
    });
    await store.close();
    config.settings.acdc = { account_id: accountId };
    nodes.push(await startNode({ config, logDestination: { write: () => undefined } }));
    const fife = async (...args: string[]) => (await run(process.execPath, [FIFE, ...args], { env })).stdout;

    const until = async (args: string[], want: RegExp) => {
      for (const end = Date.now() + 15_000; ;) {
        const got = await fife(...args);
        if (want.test(got)) return;
        if (Date.now() > end) throw new Error(`never ${String(want)}: ${got}`);
      }
    };
    // The directory starts the queue once it read the database: its manager answers.
    await until(['acdc', 'queues'], new RegExp(`^${queueId} most_idle waiting=0 .* name="Sales"$`, 'm'));
    await until(
      ['acdc', 'agents'],
      new RegExp(`^${userId} logged_out queues=${queueId} .* name="Ada Agent"$`, 'm'),
    );
    expect(await fife('acdc', 'login', 'ada')).toMatch(new RegExp(`^${userId}: login sent`, 'm'));
    await until(['acdc', 'agents'], new RegExp(`^${userId} ready `, 'm'));
  }, 90_000);
  it('login --queue / logout --queue: an agent logged in to one of its queues, then out of it', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-acdc-cli-queue-'),
      FIFE_NODE: 'acdccliq@localhost',
      FIFE_APPS: 'acdc',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const config = loadConfig({ env });
    config.settings.acdc = {
      account_id: 'center-q', // the other nodes of this file share the embedded bus
      queues: [
        { id: 'sales', collect_timeout: 0.3, retry_interval: 0.3 },
        { id: 'support', collect_timeout: 0.3, retry_interval: 0.3 },
      ],
      agents: [{ id: 'agent-q', queues: ['sales', 'support'] }],
    };
    nodes.push(await startNode({ config, logDestination: { write: () => undefined } }));
    const fife = async (...args: string[]) => (await run(process.execPath, [FIFE, ...args], { env })).stdout;
    const until = async (want: RegExp) => {
      for (const end = Date.now() + 15_000; ;) {
        const got = await fife('acdc', 'agents');
        if (want.test(got)) return;
        if (Date.now() > end) throw new Error(`never ${String(want)}: ${got}`);
      }
    };
    expect(await fife('acdc', 'login', 'agent-q', '--queue', 'support')).toMatch(
      /^agent-q: login sent \(queue support\)$/m,
    );
    await until(/^agent-q ready queues=sales,support logged_in=support calls=0 misses=0$/m);
    expect(await fife('acdc', 'queues')).toMatch(/^support .*agents_logged_in=1 agents_available=1/m);
    expect(await fife('acdc', 'queues')).toMatch(/^sales .*agents_logged_in=0/m);
    await fife('acdc', 'logout', 'agent-q', '--queue', 'support');
    await until(/^agent-q logged_out queues=sales,support calls=0 misses=0$/m);
    const notIn = await run(process.execPath, [FIFE, 'acdc', 'login', 'agent-q', '--queue', 'billing'], {
      env,
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(notIn?.code).not.toBe(0);
    expect(notIn?.stderr).toMatch(/not in queue "billing"/);
  }, 90_000);
});
