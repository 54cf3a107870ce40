/**
 * ACDC across a node's SIGKILL, as an operator runs it: two `fife start` nodes (separate OS
 * processes) on RabbitMQ (a vhost of their own) and pouchdb-server, one switch simulator
 * (in this process) holding every call, agents as simulated phones that answer slowly and
 * talk a while, and more callers than agents, so callers wait in the queue.
 *
 * Topology (why): node `a` runs acdc, callflow and registrar; node `b` the same plus
 * ecallmgr, the only event-socket client of the simulator. Fife's ecallmgr routes every
 * parked call it sees, so two ecallmgrs on one switch would route each call twice (Kazoo's
 * mod_kazoo sends a call's dialplan fetch to one ecallmgr); one switch per node would leave
 * the callers on the dead node's switch without any ecallmgr, which nothing can serve (in
 * Kazoo as in Fife: a call's switch must have a live ecallmgr). So the killed node is the
 * one that handles callers (its callflows put them in the queue, its queue workers hold
 * them and its agent processes ring agents for them), and the calls stay reachable.
 *
 * The test checks what a supervisor of the call centre would: after `a` is SIGKILLed while
 * it holds callers and rings agents, every caller who did not hang up is bridged to exactly
 * one agent's leg (never two, never none), no agent phone is in two calls at once, and each
 * caller's outcome is logged with its call-id by a node.
 * Under FIFE_REQUIRE_SERVICES=1 a missing RabbitMQ or CouchDB-protocol server fails it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../support/tmp-dirs.ts';
import { type LogLine } from '../support/fife-process.ts';
import {
  pollUntil,
  regQuery,
  regQueryFound,
  clusterServices,
  startClusterNode,
  stopClusterNodes,
  type ClusterNode,
} from '../support/cluster.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport } from '../../src/bus/index.ts';
import { busExchangeSpecs } from '../../src/api/bus-adapters.ts';
import { acdcSharedQueue } from '../../src/api/index.ts';
import { CouchStore, accountDbName } from '../../src/store/index.ts';
import { Switch } from '../../src/switch/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import { acdcSend, type AcdcEnv } from '../../apps/acdc/send.ts';

const VHOST = 'fife-acdc-failover';
const REALM = 'acdc-failover.fife.test';
const QUEUE = 'support';
const AGENTS = ['ag1', 'ag2', 'ag3', 'ag4'];
const CALLERS = 20;
const HANGING_UP = 2;

const { amqpUrl, gate, couch } = await clusterServices(VHOST);

const nodes: ClusterNode[] = [];
let bus: BusTransport;
let sw: Switch;
let accountId = '';
const configFile = join(tmpDir('fife-acdc-failover-cfg-'), 'fife.json');

const header = (h: ReadonlyArray<readonly [string, string]>, name: string): string | undefined =>
  h.find(([k]) => k === name)?.[1];
/** The agent an agent's leg belongs to (Outbound-Call-ID `acdc-<agent>-<random>`). */
const agentOfLeg = (uuid: string): string | undefined => /^acdc-(.+)-[^-]+$/.exec(uuid)?.[1];

describe.skipIf(!gate.available)('acdc: SIGKILL of the node holding callers', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const { logger } = memoryLogger('acdc-failover-test@localhost', 'warn');
    const store = new CouchStore({ url: couch!.url, logger });
    accountId = await addAccount(store, { name: 'Failover', realm: REALM });
    const db = accountDbName(accountId, 'encoded');
    await addDevice(store, { realm: REALM, username: 'caller', password: 'pw-caller' });
    await store.save(db, {
      _id: QUEUE,
      pvt_type: 'queue',
      name: 'Support',
      connection_timeout: 300,
      moh: 'silence_stream://300000',
    });
    await store.save(db, {
      _id: 'cf-queue',
      pvt_type: 'callflow',
      numbers: ['6000'],
      flow: { module: 'acdc_member', data: { id: QUEUE }, children: {} },
    });
    await store.close();
    writeFileSync(
      configFile,
      JSON.stringify({
        settings: {
          acdc: {
            account_id: accountId,
            max_connect_failures: 100,
            queues: [
              {
                id: QUEUE,
                strategy: 'round_robin',
                agent_ring_timeout: 4,
                agent_wrapup_time: 0,
                connection_timeout: 300,
                collect_timeout: 0.3,
                retry_interval: 0.5,
                workers: 3,
              },
            ],
            agents: AGENTS.map((id) => ({
              id,
              queues: [QUEUE],
              endpoints: [{ 'Invite-Format': 'username', 'To-Username': id, 'To-Realm': REALM }],
            })),
          },
        },
      }),
    );
    bus = createTransport({ url: amqpUrl, logger, connectionName: 'acdc-failover-test' });
    await bus.start();
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
    // Queues of an earlier run would hold its callers and registrations.
    for (const q of ['registrar_listener', 'registrar_listener_reg_success', 'ecallmgr_originate_req'])
      await bus.deleteQueue(q).catch(() => undefined);
    sw = await Switch.start({ port: 0, bus, registration: { realm: REALM }, logger });
    const spec = { configFile, amqpUrl, storeUrl: couch!.url, heartbeatMs: 1000 };
    nodes.push(
      ...(await Promise.all([
        startClusterNode({ ...spec, apps: 'acdc,callflow,registrar' }, 'a@localhost'),
        startClusterNode({ ...spec, apps: 'acdc,callflow,registrar,ecallmgr' }, 'b@localhost', {
          FIFE_ECALLMGR_SWITCHES: `127.0.0.1:${sw.port}`,
        }),
      ])),
    );
  });

  afterAll(async () => {
    if (process.env.FIFE_TEST_LOG_DIR)
      for (const n of nodes)
        writeFileSync(
          join(process.env.FIFE_TEST_LOG_DIR, `${n.name}.jsonl`),
          n.proc.lines.map((l) => JSON.stringify(l)).join('\n'),
        );
    const t0 = Date.now();
    await stopClusterNodes(nodes);
    console.log(`nodes stopped in ${Date.now() - t0} ms`);
    await sw?.close();
    console.log(`switch closed in ${Date.now() - t0} ms`);
    if (accountId !== '') await bus?.deleteQueue(acdcSharedQueue(accountId, QUEUE)).catch(() => undefined);
    await bus?.close();
    await couch?.close();
  });

  it('every caller still on the line is answered by exactly one agent; no agent in two calls', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const env: AcdcEnv = {
      bus,
      ctx: { appName: 'acdc-failover-test', appVersion: '1.0.0', node: 'acdc-failover-test@localhost' },
      accountId,
    };
    // What the switch saw: each caller's agent legs bridged, each agent's legs up.
    const bridged = new Map<string, string[]>();
    const live = new Map<string, Set<string>>();
    const twoAtOnce: string[] = [];
    sw.onEvent((ev) => {
      const uuid = header(ev.headers, 'Unique-ID') ?? '';
      const agent = agentOfLeg(uuid);
      if (ev.name === 'CHANNEL_BRIDGE') {
        const other = header(ev.headers, 'Other-Leg-Unique-ID') ?? '';
        const [caller, leg] = agent === undefined ? [uuid, other] : [other, uuid];
        bridged.set(caller, [...(bridged.get(caller) ?? []), leg]);
      }
      if (agent === undefined) return;
      const legs = live.get(agent) ?? new Set<string>();
      live.set(agent, legs);
      if (ev.name === 'CHANNEL_CREATE') {
        legs.add(uuid);
        if (legs.size > 1) twoAtOnce.push(`${agent}: ${[...legs].join(', ')}`);
      }
      if (ev.name === 'CHANNEL_DESTROY') legs.delete(uuid);
    });

    // Agents answer after 0.6 s and talk 1.5 s: with 4 agents and 20 callers, callers wait.
    for (const id of AGENTS)
      sw.registerEndpoint(id, { mode: 'auto', answerAfterMs: 600, hangupAfterMs: 1500 });
    const available = (n: ClusterNode, id: string): boolean =>
      n.proc.lines.some(
        (l) => l.msg === 'acdc queue manager: agent' && l.agent_id === id && l.to === 'available',
      );
    for (const id of AGENTS) await acdcSend(env, 'agent_login', { 'Account-ID': accountId, 'Agent-ID': id });
    await pollUntil(
      () => AGENTS.every((id) => available(a, id) && available(b, id)),
      'every agent available to both nodes',
    );
    // The registrar has every phone (reg_success published by the simulator).
    const req = new Requester({
      transport: bus,
      logger: memoryLogger('q@localhost', 'warn').logger,
      timeoutMs: 3000,
    });
    await req.start();
    for (const id of AGENTS)
      await pollUntil(
        async () => regQueryFound(await regQuery(req, REALM, id, 3000).catch(() => ({})), `sip:${id}@`),
        `${id}'s phone registered`,
      );
    await req.stop();

    const callers: string[] = [];
    for (let i = 0; i < CALLERS; i++)
      callers.push(sw.placeCall({ from: 'caller', to: '6000', variables: { sip_from_host: REALM } }));
    // Two callers give up while waiting.
    const gaveUp = callers.slice(-HANGING_UP);
    const offeredBy = (n: ClusterNode, from: number): LogLine | undefined =>
      n.proc.lines.slice(from).find((l) => l.msg === 'acdc originator: ringing agent');
    await pollUntil(() => bridged.size >= 4, 'four callers bridged');
    for (const c of gaveUp) sw.hangup(c);
    // Kill a while it rings an agent (its agent process won the offer of a caller).
    const from = a.proc.lines.length;
    await pollUntil(() => offeredBy(a, from) !== undefined, 'a ringing an agent');
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    const heldByA = String(offeredBy(a, from)!.call_id);
    console.log(`a killed while ringing an agent for ${heldByA}; ${bridged.size} callers bridged by then`);

    const stillOn = callers.filter((c) => !gaveUp.includes(c));
    await pollUntil(
      () => stillOn.every((c) => bridged.has(c)),
      () =>
        `every caller on the line bridged to an agent (missing: ${stillOn.filter((c) => !bridged.has(c)).join(', ')})`,
      60_000,
    );
    // Whatever was still in flight settles: every agent leg ends (talk 1.5 s).
    await pollUntil(() => [...live.values()].every((s) => s.size === 0), 'every agent leg ended', 30_000);

    expect(twoAtOnce).toEqual([]);
    const twice = [...bridged].filter(([, legs]) => new Set(legs).size !== 1);
    expect(twice.map(([c, legs]) => `${c}: ${legs.join(', ')}`)).toEqual([]);
    for (const c of gaveUp) expect(bridged.get(c) ?? []).toHaveLength(0);

    // Each caller's outcome is logged with its call-id by a node (the dead node's lines up to the kill).
    const outcomes = new Map<string, string[]>();
    for (const n of [a, b])
      for (const l of n.proc.lines)
        if (
          l.msg === 'acdc queue: caller done' ||
          l.msg === 'acdc queue: caller left before being offered; dropped'
        )
          outcomes.set(String(l.call_id), [
            ...(outcomes.get(String(l.call_id)) ?? []),
            `${n.name}:${String(l.outcome)}`,
          ]);
    for (const c of callers) expect(outcomes.get(c), c).toBeDefined();
    console.log(
      `${stillOn.length} callers on the line, each answered by one agent; outcomes: ${JSON.stringify(
        [...outcomes.values()]
          .flat()
          .reduce<Record<string, number>>((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {}),
      )}`,
    );
  });
});
