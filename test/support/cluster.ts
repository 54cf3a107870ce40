/**
 * A cluster of `fife start` nodes on one machine, as the cluster test and the soak bench
 * run one: each node its own OS process on a shared bus (RabbitMQ) and store
 * (CouchDB-protocol server).
 *
 * - `startClusterNode(c, name, extra)` starts one node of cluster `c` (config file, bus and
 *   store URLs, apps, heartbeat) and resolves once it logged `node started`, with its admin
 *   URL; `extra` env overrides the rest.
 * - `stopClusterNodes(nodes, killAfterMs?)` SIGTERMs each node still running and waits for
 *   its exit; with `killAfterMs`, a node still running then is SIGKILLed, and its name is in
 *   the list it resolves to.
 * - `nodeView(n)`: the node names `GET /nodes` lists (as `fife nodes`).
 * - `pollUntil(cond, what, limitMs)`: polls `cond` every 50 ms until it holds; throws
 *   naming `what` past the deadline (20 s by default).
 * - `regQuery(req, realm, user)`: a reg_query as Kamailio asks it (Contact field);
 *   `regQueryFound(answer, contact)`: the answer lists a Contact containing `contact`.
 * - `clusterServices(vhost)`: the shared engines a cluster test needs, RabbitMQ (on a vhost
 *   of its own) and a CouchDB-protocol server it starts; `gate` says whether both are there
 *   (a missing one fails under FIFE_REQUIRE_SERVICES=1).
 */
import { tmpDir } from './tmp-dirs.ts';
import { startFife, type FifeProcess } from './fife-process.ts';
import { build } from '../../src/api/index.ts';
import type { Envelope, Requester } from '../../src/bus/index.ts';
import { regQueryTarget } from '../apps/registrar/support.ts';
import amqp from 'amqplib';
import { serviceGate, type ServiceGate } from './services.ts';
import { isolatedAmqpUrl } from './rabbitmq-vhost.ts';
import { startCouchTestServer, type CouchTestServer } from './couchdb-server.ts';

export interface ClusterSpec {
  configFile: string;
  amqpUrl: string;
  storeUrl: string;
  apps: string;
  heartbeatMs: number;
  logLevel?: string;
}

export interface ClusterNode {
  name: string;
  proc: FifeProcess;
  admin: string;
}

export async function startClusterNode(
  c: ClusterSpec,
  name: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<ClusterNode> {
  const proc = await startFife({
    ...process.env,
    FIFE_CONFIG: c.configFile,
    FIFE_NODE: name,
    FIFE_DATA_DIR: tmpDir('fife-cluster-'),
    FIFE_APPS: c.apps,
    FIFE_BUS_URL: c.amqpUrl,
    FIFE_STORE_URL: c.storeUrl,
    FIFE_HEARTBEAT_MS: String(c.heartbeatMs),
    FIFE_LOG_LEVEL: c.logLevel ?? 'info',
    FIFE_LOG_PRETTY: '0',
    ...extra,
  });
  const started = proc.lines.find((l) => l.msg === 'node started')!;
  return { name, proc, admin: String(started.admin) };
}

export async function stopClusterNodes(nodes: ClusterNode[], killAfterMs?: number): Promise<string[]> {
  const killed: string[] = [];
  for (const n of nodes)
    if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) {
      n.proc.child.kill('SIGTERM');
      if (killAfterMs === undefined) await n.proc.exited;
      else {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), killAfterMs)));
        if ((await Promise.race([n.proc.exited, late])) === 'late') {
          killed.push(n.name);
          n.proc.child.kill('SIGKILL');
          await n.proc.exited;
        }
        clearTimeout(timer);
      }
    }
  return killed;
}

export const nodeView = async (n: ClusterNode): Promise<string[]> =>
  ((await (await fetch(`${n.admin}/nodes`)).json()) as { nodes: Array<{ node: string }> }).nodes.map(
    (x) => x.node,
  );

export async function pollUntil(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  limitMs = 20_000,
): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const regQuery = (req: Requester, realm: string, user: string, timeoutMs = 8000): Promise<Envelope> =>
  req.call(
    build(
      'reg_query',
      { Realm: realm, Username: user, Fields: ['Contact'] },
      { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@proxy.test' },
    ) as Envelope,
    regQueryTarget(realm, user),
    { timeoutMs, validate: () => true },
  );

export const regQueryFound = (a: Envelope, contact: string): boolean =>
  a['Event-Name'] === 'reg_query_resp' &&
  Array.isArray(a.Fields) &&
  (a.Fields as Array<{ Contact?: unknown }>).some((f) => String(f.Contact).includes(contact));

export interface ClusterServices {
  amqpUrl: string;
  gate: ServiceGate;
  /** The store server (there when `gate.available`). */
  couch: CouchTestServer | undefined;
}

export async function clusterServices(vhost: string): Promise<ClusterServices> {
  const amqpUrl = isolatedAmqpUrl(vhost);
  let couch: CouchTestServer | undefined;
  const gate = await serviceGate('RabbitMQ + CouchDB-protocol server', async () => {
    const c = await amqp.connect(amqpUrl, { timeout: 3000 });
    await c.close();
    couch = await startCouchTestServer();
  });
  return { amqpUrl, gate, couch };
}
