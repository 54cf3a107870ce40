/**
 * A cluster on one machine, as an operator runs one: three `fife start` nodes (separate OS
 * processes) running the registrar, sharing one RabbitMQ (a vhost of their own) and one
 * CouchDB-protocol store (pouchdb-server). The test plays the SIP proxy on the bus, as
 * Kamailio's kazoo module does (reg_success published, authn_req and reg_query asked,
 * answers on its own queue).
 *
 * - Every node sees the two others (`GET /nodes`, as `fife nodes`). A phone registered
 *   through one node is found by reg_query answered by each of the three (the named
 *   queue is shared: competing consumers; a node that did not take the reg_success finds
 *   it in the database). authn_req goes to the same shared queue, so each request is
 *   answered once, by one node, and the three nodes all take their share.
 * - One node is SIGKILLed while phones keep registering and authn_req keep coming: every
 *   phone registered is still found afterwards (an unacked reg_success goes back to the
 *   queue), asked all at once as a proxy would, each query answered once (the time to the
 *   median and the last answer is printed); every authn_req is answered (authn_ack), the
 *   dead node leaves each survivor's view, which logs `node expired` once, after 1.25
 *   heartbeats of silence (its deadline, `expires_ms`; never earlier); how long after the
 *   kill each survivor dropped it is printed, in heartbeats (a figure, not an assertion:
 *   the machine's load moves it).
 * - A node whose registrar is a permanent app (FIFE_APP_TYPES) and gives up for good
 *   (its root killed past the app's restart limit) exits 5, while the other nodes go on
 *   answering.
 * Heartbeats every 1000 ms. Under FIFE_REQUIRE_SERVICES=1 a missing RabbitMQ or
 * CouchDB-protocol server fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { tmpDir } from '../support/tmp-dirs.ts';
import { type FifeProcess, type LogLine } from '../support/fife-process.ts';
import {
  nodeView,
  pollUntil,
  regQuery,
  regQueryFound,
  startClusterNode,
  stopClusterNodes,
  type ClusterNode,
} from '../support/cluster.ts';
import { serviceGate } from '../support/services.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { startCouchTestServer, type CouchTestServer } from '../support/couchdb-server.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import { busExchangeSpecs } from '../../src/api/bus-adapters.ts';
import { CouchStore } from '../../src/store/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import { authnReq, authnTarget, regSuccess, regSuccessTarget } from '../apps/registrar/support.ts';

const VHOST = 'fife-cluster';
const HEARTBEAT_MS = 1000;
const REALM = 'cluster.fife.test';
const USERS = 10;
const QUEUE = 'registrar_listener';

const amqpUrl = isolatedAmqpUrl(VHOST);
let couch: CouchTestServer | undefined;
const gate = await serviceGate('RabbitMQ + CouchDB-protocol server', async () => {
  const c = await amqp.connect(amqpUrl, { timeout: 3000 });
  await c.close();
  couch = await startCouchTestServer();
});

const nodes: ClusterNode[] = [];
let bus: BusTransport;
let req: Requester;
const passwords = new Map<string, string>();
const configFile = join(tmpDir('fife-cluster-cfg-'), 'fife.json');

async function startNode(name: string, extra: NodeJS.ProcessEnv = {}): Promise<ClusterNode> {
  const n = await startClusterNode(
    { configFile, amqpUrl, storeUrl: couch!.url, apps: 'registrar', heartbeatMs: HEARTBEAT_MS },
    name,
    extra,
  );
  nodes.push(n);
  return n;
}

/** The first line matching `pred` that `p` logs from now on. */
const nextLine = (p: FifeProcess, pred: (l: LogLine) => boolean): Promise<LogLine> => {
  const from = p.lines.length;
  return p.waitFor((l) => p.lines.indexOf(l) >= from && pred(l));
};

const byName = (name: string): ClusterNode => nodes.find((n) => n.name === name)!;
const view = nodeView;
const until = pollUntil;

const askAuthn = (user: string): Promise<Envelope> =>
  req.call(authnReq(user, REALM), authnTarget(REALM), { timeoutMs: 8000, validate: () => true });

const askRegistered = (user: string): Promise<Envelope> => regQuery(req, REALM, user);

const register = (user: string, contact: string): Promise<void> => {
  const t = regSuccessTarget(REALM, user);
  return bus.publish(t.exchange, t.routingKey, JSON.stringify(regSuccess(user, REALM, contact, 3600)));
};

const found = regQueryFound;

const rightAnswer = (a: Envelope, user: string): boolean =>
  a['Event-Name'] === 'authn_resp' && a['Auth-Password'] === passwords.get(user);

describe.skipIf(!gate.available)(
  'a cluster of three registrar nodes on RabbitMQ and CouchDB',
  { timeout: 60_000 },
  () => {
    beforeAll(async () => {
      const { logger } = memoryLogger('cluster-test@localhost', 'warn');
      // Queues of an earlier run of this suite would hold its messages.
      const c = await amqp.connect(amqpUrl);
      const ch = await c.createChannel();
      await ch.deleteQueue(QUEUE);
      await ch.deleteQueue(`${QUEUE}_reg_success`);
      await c.close();
      const store = new CouchStore({ url: couch!.url, logger });
      await addAccount(store, { name: 'Cluster', realm: REALM });
      for (let i = 0; i < USERS; i++) {
        passwords.set(`user${i}`, `pw-${i}-${randomBytes(3).toString('hex')}`);
        await addDevice(store, { realm: REALM, username: `user${i}`, password: passwords.get(`user${i}`) });
      }
      await store.close();
      // authn_ack: an authn_req in flight in a node that dies goes back to the queue.
      writeFileSync(configFile, JSON.stringify({ settings: { registrar: { authn_ack: true } } }));
      // All three at once: making the databases and design documents from several nodes at
      // the same moment is part of what a cluster does.
      await Promise.all(['c1', 'c2', 'c3'].map((n) => startNode(`${n}@localhost`)));
      bus = createTransport({ url: amqpUrl, logger, connectionName: 'cluster-test-proxy' });
      await bus.start();
      await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
      req = new Requester({ transport: bus, logger, timeoutMs: 8000 });
      await req.start();
    });

    afterAll(async () => {
      if (process.env.FIFE_TEST_LOG_DIR)
        for (const n of nodes)
          writeFileSync(
            join(process.env.FIFE_TEST_LOG_DIR, `${n.name}.jsonl`),
            n.proc.lines.map((l) => JSON.stringify(l)).join('\n'),
          );
      await stopClusterNodes(nodes);
      await req?.stop();
      await bus?.close();
      await couch?.close();
    });

    it('every node sees the others; a phone registered through one is found by reg_query from every node; every node answers authn', async () => {
      const all = nodes.map((n) => n.name).sort();
      for (const n of nodes)
        await until(async () => (await view(n)).join() === all.join(), `${n.name}'s view`);

      const contact = '<sip:user0@10.20.0.1:5060>';
      await register('user0', contact);
      const answeredBy = new Set<string>();
      await until(async () => {
        const a = await askRegistered('user0');
        if (a['Event-Name'] === 'reg_query_resp') {
          expect(found(a, 'sip:user0@10.20.0.1:5060')).toBe(true);
          answeredBy.add(String(a.Node));
        }
        return answeredBy.size === nodes.length;
      }, 'reg_query answered with the phone by each node');
      expect([...answeredBy].sort()).toEqual(all);

      const authnBy = new Map<string, number>();
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) => `user${i % USERS}`).map(async (u) => ({
          u,
          a: await askAuthn(u),
        })),
      );
      for (const { u, a } of answers) {
        expect(rightAnswer(a, u)).toBe(true);
        authnBy.set(String(a.Node), (authnBy.get(String(a.Node)) ?? 0) + 1);
      }
      expect([...authnBy.keys()].sort()).toEqual(all);
    });

    it('SIGKILL of one node under load: no registration lost, every authn answered, it leaves the view after 1.25 heartbeats, each survivor logs it once', async () => {
      const [c1, c2, c3] = ['c1', 'c2', 'c3'].map((n) => byName(`${n}@localhost`)) as [
        ClusterNode,
        ClusterNode,
        ClusterNode,
      ];
      const survivors = [c1, c2];
      const registered = new Map<string, string>();
      const authn: Array<Promise<{ u: string; a: Envelope | Error }>> = [];
      let loading = true;
      let i = 0;
      const load = (async () => {
        while (loading) {
          const user = `load${i}`;
          const contact = `sip:${user}@10.30.${Math.floor(i / 250)}.${i % 250}:5060`;
          registered.set(user, contact);
          await register(user, `<${contact}>`);
          const u = `user${i % USERS}`;
          authn.push(
            askAuthn(u).then(
              (a) => ({ u, a }),
              (err: Error) => ({ u, a: err }),
            ),
          );
          i++;
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await until(() => i >= 100, 'load under way');

      const linesAtKill = survivors.map((s) => s.proc.lines.length);
      const departures = survivors.map((s) =>
        nextLine(s.proc, (l) => l.msg === 'node expired' && l.peer === c3.name),
      );
      const killAt = Date.now();
      c3.proc.child.kill('SIGKILL');
      const departed = await Promise.all(departures);
      const atDeparture = i;
      await until(() => i >= atDeparture + 20, 'load after the departure');
      loading = false;
      await load;

      for (const [k, s] of survivors.entries()) {
        const d = departed[k]!;
        expect(d).toMatchObject({ level: 40, expires_ms: 1.25 * HEARTBEAT_MS });
        expect(Number(d.silent_ms)).toBeGreaterThanOrEqual(1.25 * HEARTBEAT_MS);
        expect(await view(s)).toEqual(survivors.map((n) => n.name).sort());
        const beatsAfterKill = (Number(d.time) - killAt) / HEARTBEAT_MS;
        console.log(
          `${s.name}: ${c3.name} left the view ${(Number(d.time) - killAt).toFixed(0)} ms (${beatsAfterKill.toFixed(2)} heartbeats) after the SIGKILL; silent for ${String(d.silent_ms)} ms`,
        );
      }

      const results = await Promise.all(authn);
      const wrong = results.filter(({ u, a }) => a instanceof Error || !rightAnswer(a, u));
      expect(
        wrong.map(({ u, a }) => `${u}: ${a instanceof Error ? a.message : String(a['Event-Name'])}`),
      ).toEqual([]);

      // Every phone registered, under load and across the kill, is found: the proxy asks for
      // all of them at once, and each query is answered once. (Replies beyond 100 waiting for
      // this process used to be dropped by the broker from its reply queue.)
      const before = { ...req.counters };
      const t0 = Date.now();
      const answers = await Promise.all(
        [...registered].map(async ([user, contact]) => {
          const a = await regQuery(req, REALM, user, 30_000).catch((err: Error) => err);
          return { user, contact, a, ms: Date.now() - t0 };
        }),
      );
      const notFound = answers.filter(({ contact, a }) => a instanceof Error || !found(a, contact));
      expect(
        notFound.map(({ user, a }) => `${user}: ${a instanceof Error ? a.message : String(a['Event-Name'])}`),
      ).toEqual([]);
      expect({
        replies: req.counters.received - before.received,
        late: req.counters.lateReplies - before.lateReplies,
      }).toEqual({ replies: registered.size, late: 0 });
      const ms = answers.map((x) => x.ms).sort((a, b) => a - b);
      console.log(
        `${registered.size} phones registered under load, ${authn.length} authn_req answered; ${registered.size} reg_query at once: median ${ms[Math.floor(ms.length / 2)]} ms, last answered after ${ms.at(-1)} ms`,
      );

      // The departure is logged once by each survivor.
      for (const [k, s] of survivors.entries())
        expect(
          s.proc.lines.slice(linesAtKill[k]).filter((l) => l.msg === 'node expired' && l.peer === c3.name),
        ).toHaveLength(1);
    });

    it('a node whose permanent app gives up for good exits 5 while the others keep serving', async () => {
      const [c1, c2] = [byName('c1@localhost'), byName('c2@localhost')];
      const c4 = await startNode('c4@localhost', { FIFE_APP_TYPES: 'registrar:permanent' });
      // The app's restart limit is 3 in 60 s: the 4th end of its tree is for good.
      for (let k = 0; k < 4; k++) {
        const apps = (await (await fetch(`${c4.admin}/apps`)).json()) as Array<{
          name: string;
          state: string;
          pid?: string;
        }>;
        const reg = apps.find((a) => a.name === 'registrar')!;
        expect(reg.state).toBe('running');
        const res = await fetch(`${c4.admin}/kill`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ pid: reg.pid, reason: 'cluster_test' }),
        });
        expect(res.status).toBe(200);
        const starts = (): number =>
          c4.proc.lines.filter((x) => x.msg === 'app started' && x.app === 'registrar').length;
        if (k < 3) await c4.proc.waitFor(() => starts() === k + 2);
      }
      expect(await c4.proc.exited).toBe(5);
      expect(c4.proc.lines).toContainEqual(
        expect.objectContaining({
          msg: 'app failed for good: the node stops',
          app: 'registrar',
          type: 'permanent',
          exit_code: 5,
        }),
      );
      // The others go on: credentials and registrations answered, the node leaves their view.
      for (let k = 0; k < 10; k++) expect(rightAnswer(await askAuthn(`user${k}`), `user${k}`)).toBe(true);
      expect(found(await askRegistered('load0'), 'sip:load0@10.30.0.0:5060')).toBe(true);
      for (const s of [c1, c2]) await s.proc.waitFor((l) => l.msg === 'node expired' && l.peer === c4.name);
    });
  },
);
