/**
 * What the end-to-end registrar tests (a `fife start` node, Kamailio, SIPp, RabbitMQ) set
 * up and tear down alike:
 * - `provision(env, storeDir, realm, users, a1Every)`: an account made by the operator's
 *   command (`fife account add`, in its own process), and one device per SIPp user written
 *   straight into the node's embedded store; every `a1Every`-th device keeps only its A1
 *   hash. Resolves with the account id.
 * - `stopE2E(kamailio, node, amqpUrl, queue)`: stops the proxy and the node (SIGTERM,
 *   waiting for its exit) and deletes the registrar's two named queues.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import amqp from 'amqplib';
import { FIFE_BIN, type FifeProcess } from './fife-process.ts';
import type { Kamailio } from './kamailio.ts';
import type { SippUser } from './sipp.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { accountDbName, EmbeddedStore } from '../../src/store/index.ts';

export async function provision(
  env: NodeJS.ProcessEnv,
  storeDir: string,
  realm: string,
  users: SippUser[],
  a1Every: number,
): Promise<string> {
  const accountId = spawnSync(
    process.execPath,
    [FIFE_BIN, 'account', 'add', '--name', 'E2E', '--realm', realm],
    { env, encoding: 'utf8' },
  ).stdout.trim();
  if (!/^[0-9a-f]{32}$/.test(accountId))
    throw new Error(`fife account add did not print an account id: '${accountId}'`);
  const { logger } = memoryLogger();
  // This process's store is closed before the node opens it (EmbeddedStore.close() leaves
  // view indexes locked in the process that opened it, hence the account from the CLI).
  const store = new EmbeddedStore({ dir: storeDir, logger });
  await store.bulkSave(
    accountDbName(accountId),
    users.map((u, i) => ({
      _id: `dev${i}`,
      pvt_type: 'device',
      enabled: true,
      owner_id: `owner${i}`,
      sip:
        i % a1Every === 0
          ? {
              username: u.user,
              a1_hash: createHash('md5').update(`${u.user}:${realm}:${u.password}`).digest('hex'),
            }
          : { username: u.user, password: u.password },
    })),
  );
  await store.close();
  return accountId;
}

export async function stopE2E(
  kamailio: Kamailio | undefined,
  node: FifeProcess | undefined,
  amqpUrl: string,
  queue: string,
): Promise<void> {
  await kamailio?.stop();
  if (node && node.child.exitCode === null) {
    node.child.kill('SIGTERM');
    await node.exited;
  }
  const c = await amqp.connect(amqpUrl).catch(() => undefined);
  if (!c) return;
  const ch = await c.createChannel();
  await ch.deleteQueue(queue).catch(() => undefined);
  await ch.deleteQueue(`${queue}_reg_success`).catch(() => undefined);
  await c.close().catch(() => undefined);
}
