/**
 * A cluster on one machine, as an operator runs one: three `fife start` nodes (separate OS
 * processes) running the registrar, ecallmgr and callflow, sharing one RabbitMQ (a vhost of
 * their own) and one CouchDB-protocol store (pouchdb-server), each ecallmgr connected to a
 * switch simulator of its own (bench/soak/calls.ts says why one each). The test plays the
 * SIP proxy on the bus, as Kamailio's kazoo module does (reg_success published, authn_req
 * and reg_query asked, answers on its own queue), and places calls on the simulators
 * (callflow `200<i>` bridges to phone `callee<i>` on switch i, which answers and hangs up
 * 3 s later).
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
 *   Calls are placed all along (one every 200 ms, the three switches in turn), and the kill
 *   strands none that another node can serve: a call another node can serve is one on a
 *   switch whose ecallmgr is on a surviving node (the killed node's switch has no other
 *   ecallmgr), whichever node ran its callflow executor (callflow answers route_req on
 *   every node, so the killed node ran some of theirs). Each of those ends (its A-leg
 *   destroyed within 15 s of patience + talk + 30 s of grace), leaves no leg on its switch,
 *   and leaves no process on the survivors (executor, call_control, call_events). Calls on
 *   the killed node's switch are counted and printed, not asserted.
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
  clusterServices,
  startClusterNode,
  stopClusterNodes,
  type ClusterNode,
} from '../support/cluster.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import { busExchangeSpecs } from '../../src/api/bus-adapters.ts';
import { CouchStore } from '../../src/store/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import { authnReq, authnTarget, regSuccess, regSuccessTarget } from '../apps/registrar/support.ts';
import type { Switch } from '../../src/switch/index.ts';
import {
  CallLoad,
  callProcesses,
  callsLeft,
  provisionCallflows,
  registerCallees,
  startCallSwitches,
  type SwitchFigures,
} from '../../bench/soak/calls.ts';

const VHOST = 'fife-cluster';
const HEARTBEAT_MS = 1000;
const REALM = 'cluster.fife.test';
const USERS = 10;
const QUEUE = 'registrar_listener';

const { amqpUrl, gate, couch } = await clusterServices(VHOST);

const nodes: ClusterNode[] = [];
let bus: BusTransport;
let req: Requester;
let switches: Switch[] = [];
const passwords = new Map<string, string>();
const configFile = join(tmpDir('fife-cluster-cfg-'), 'fife.json');

async function startNode(
  name: string,
  extra: NodeJS.ProcessEnv = {},
  apps = 'registrar',
): Promise<ClusterNode> {
  const n = await startClusterNode(
    { configFile, amqpUrl, storeUrl: couch!.url, apps, heartbeatMs: HEARTBEAT_MS },
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
      const accountId = await addAccount(store, { name: 'Cluster', realm: REALM });
      await provisionCallflows(store, accountId, REALM, 3);
      for (let i = 0; i < USERS; i++) {
        passwords.set(`user${i}`, `pw-${i}-${randomBytes(3).toString('hex')}`);
        await addDevice(store, { realm: REALM, username: `user${i}`, password: passwords.get(`user${i}`) });
      }
      await store.close();
      // authn_ack: an authn_req in flight in a node that dies goes back to the queue.
      // callCheckMs: the executors of the killed node's calls (run on the survivors, their
      // call's ecallmgr gone with it) ask every 5 s whether their call is up, and end.
      writeFileSync(
        configFile,
        JSON.stringify({
          settings: {
            registrar: { authn_ack: true },
            callflow: { callCheckMs: 5000 },
            ecallmgr: { channelCheckMs: 10_000 },
          },
        }),
      );
      bus = createTransport({ url: amqpUrl, logger, connectionName: 'cluster-test-proxy' });
      await bus.start();
      await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
      switches = await startCallSwitches(3, { bus, realm: REALM, logger });
      // All three at once: making the databases and design documents from several nodes at
      // the same moment is part of what a cluster does.
      await Promise.all(
        ['c1', 'c2', 'c3'].map((n, i) =>
          startNode(
            `${n}@localhost`,
            { FIFE_ECALLMGR_SWITCHES: `127.0.0.1:${switches[i]!.port}` },
            'registrar,ecallmgr,callflow',
          ),
        ),
      );
      req = new Requester({ transport: bus, logger, timeoutMs: 8000 });
      await req.start();
      await registerCallees(switches, req, REALM);
    });

    afterAll(async () => {
      // A node still running 30 s after its SIGTERM is SIGKILLed and named (a figure: its
      // log lines, with FIFE_TEST_LOG_DIR, say what it was waiting for).
      const slow = await stopClusterNodes(nodes, 30_000);
      if (slow.length > 0)
        console.log(`nodes not stopped 30 s after SIGTERM (SIGKILLed): ${slow.join(', ')}`);
      if (process.env.FIFE_TEST_LOG_DIR)
        for (const n of nodes)
          writeFileSync(
            join(process.env.FIFE_TEST_LOG_DIR, `${n.name}.jsonl`),
            n.proc.lines.map((l) => JSON.stringify(l)).join('\n'),
          );
      await req?.stop();
      await bus?.close();
      await couch?.close();
      for (const sw of switches) await sw.close();
    }, 120_000);

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

    it(
      'SIGKILL of one node under load: no registration lost, every authn answered, no call another node can serve stranded, it leaves the view after 1.25 heartbeats, each survivor logs it once',
      { timeout: 180_000 },
      async () => {
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
        const calls = new CallLoad(switches, REALM);
        calls.start(200);
        await until(() => i >= 100 && calls.figures.bridged >= 6, 'load under way, calls bridged');

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
        const figures = await calls.stop();

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
          notFound.map(
            ({ user, a }) => `${user}: ${a instanceof Error ? a.message : String(a['Event-Name'])}`,
          ),
        ).toEqual([]);
        expect({
          replies: req.counters.received - before.received,
          late: req.counters.lateReplies - before.lateReplies,
        }).toEqual({ replies: registered.size, late: 0 });
        const ms = answers.map((x) => x.ms).sort((a, b) => a - b);
        console.log(
          `${registered.size} phones registered under load, ${authn.length} authn_req answered; ${registered.size} reg_query at once: median ${ms[Math.floor(ms.length / 2)]} ms, last answered after ${ms.at(-1)} ms`,
        );

        const results = await Promise.all(authn);
        const wrong = results.filter(({ u, a }) => a instanceof Error || !rightAnswer(a, u));
        expect(
          wrong.map(({ u, a }) => `${u}: ${a instanceof Error ? a.message : String(a['Event-Name'])}`),
        ).toEqual([]);

        // No call another node can serve (on c1's or c2's switch) is stranded.
        const servable = new Set([...calls.callsOn(0), ...calls.callsOn(1)]);
        const left = await callsLeft(figures, switches.slice(0, 2), survivors, servable);
        const [on1, on2, on3] = figures.bySwitch as [SwitchFigures, SwitchFigures, SwitchFigures];
        console.log(
          `calls on the survivors' switches: ${on1.placed + on2.placed} placed, ${on1.bridged + on2.bridged} bridged, ${on1.abandoned + on2.abandoned} abandoned by the caller, ${on1.placed + on2.placed - on1.bridged - on2.bridged - on1.abandoned - on2.abandoned} ended without a bridge (no route, the bridge failed); on ${c3.name}'s switch: ${on3.placed} placed, ${on3.bridged} bridged, ${on3.abandoned} abandoned, ${on3.stuck} still up`,
        );
        const c3Calls = calls.callsOn(2);
        const c3Left = async (): Promise<string[]> =>
          (await Promise.all(survivors.map((n) => callProcesses(n.admin))))
            .flatMap((m) => [...m.keys()])
            .filter((id) => c3Calls.has(id));
        // Their executors end at their next periodic check (callCheckMs) at the latest.
        await pollUntil(
          async () => (await c3Left()).length === 0,
          'executors of the killed node calls to end',
          20_000,
        ).catch(() => undefined);
        const c3CallsLeft = await c3Left();
        console.log(
          `calls on ${c3.name}'s switch with processes left on the survivors: ${c3CallsLeft.length}`,
        );
        expect(on1.placed + on2.placed).toBeGreaterThan(0);
        expect({ aLegsUp: on1.stuck + on2.stuck, ...left, aLegs: undefined }).toEqual({
          aLegsUp: 0,
          legsLeft: [],
          onNodes: [],
          procs: [],
          aLegs: undefined,
        });

        // The departure is logged once by each survivor.
        for (const [k, s] of survivors.entries())
          expect(
            s.proc.lines.slice(linesAtKill[k]).filter((l) => l.msg === 'node expired' && l.peer === c3.name),
          ).toHaveLength(1);
      },
    );

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
