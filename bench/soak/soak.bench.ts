/**
 * The soak bench: a three-node cluster under a seeded fault every few seconds, while
 * phones keep registering through Kamailio and calls keep coming on the switches. Printed
 * figures, no assertion here (the CI test test/cluster/soak.rabbitmq.test.ts runs
 * `runSoak` for 2 minutes and asserts the counts).
 *
 * Setup: three `fife start` nodes (OS processes) running the registrar (authn_ack),
 * ecallmgr and callflow, on RabbitMQ (a vhost of the run's own, `fife-soak-<pid>-<hex>`,
 * deleted at its end) and one pouchdb-server store;
 * Kamailio with its kazoo module and Fife's config in front; SIPp phones; one switch
 * simulator per node, in the bench's process, its ecallmgr connected to it (calls.ts says
 * why not one shared by the three). Each node runs a chaos schedule (`POST /chaos` with
 * `every_ms`, `for_ms`, its own `seed`; kinds kill, sever-bus, store-down, delay-bus,
 * drop-event-socket); kill picks in `registrar_sup` on s1, `ecallmgr_sup` on s2 and
 * `callflow_sup` on s3 (`random_in`), so processes of all three apps are killed.
 *
 * Calls (calls.ts): the account has a callflow per switch, `200<i>` bridging to device
 * `callee<i>`, a phone registered on switch i that answers after 200 ms and hangs up 3 s
 * later. A call is placed every CALL_EVERY_MS, on each switch in turn, for the whole run.
 *
 * Phones: a steady pool of POOL_PHONES devices. Each round registers the next ROUND_PHONES
 * of the pool with SIPp (REGISTER, 401, REGISTER with digest, 200; Expires 3600): the
 * pool's first pass provisions and registers each phone, later passes re-register it from
 * SIPp's new port, so from a new Contact, as a phone that moved (it goes through whichever
 * node the shared queue hands it to). The cluster then holds a constant number of
 * registrations, and each must be answered at its latest Contact only. At the end the
 * schedules are stopped, the nodes are waited ready, and every phone is asked with
 * reg_query (asked again while unanswered or wrong, up to a deadline).
 *
 * `runSoak({minutes})` answers:
 * - `registered`: phones whose last round SIPp saw all registered (200): their latest
 *   Contact is known. `foundAtEnd`: those of them reg_query answers with that Contact and
 *   no other. `registrationsLost` = registered - foundAtEnd (target 0): a phone not found,
 *   or answered at an old Contact. Phones whose last round had a failure (the REGISTER may
 *   or may not have landed) are `uncertain`: counted, and found when answered at either
 *   the old or the new Contact;
 * - `calls`: placed, bridged, and abandoned (not bridged 15 s after it was placed: the
 *   bench hangs the caller up, as a caller hearing nothing would; chaos makes some, e.g. a
 *   route_req lost with the bus severed);
 * - `callsStuck` (target 0): the number of distinct calls with something left of them
 *   where nothing should be: (a) the call's A-leg still up on its simulator 48.2 s after
 *   it was placed (15 s patience + 0.2 s ringing + 3 s talk + 30 s grace), (b) a channel
 *   left on a simulator once every call has settled, (c) a process of the call left on a
 *   node (callflow executor, ecallmgr call_control or call_events), polled for up to 30 s
 *   after every call settled and the schedules stopped;
 * - `restartsByReason`: supervisor restarts per exit reason of the child restarted, and
 *   whole-app restarts (`app:<reason>`), from each node's `/events` stream;
 * - `faults`: injections per kind (and `failed`: steps that could not be made);
 * - `stopKilled`: nodes still running 30 s after the SIGTERM that ends the run (then
 *   SIGKILLed);
 * - `memory`: each node's memory over the run (memory.ts says how it is measured and why
 *   not two points): RSS at the start, after the warm-up and at the end of the load, the
 *   heap floor per minute, and the trend in MB per minute after the warm-up.
 * FIFE_SOAK_LOG_DIR=<dir> writes each node's log lines there (`<node>.jsonl`) at the end.
 * FIFE_SOAK_HEAPSNAP_DIR=<dir> starts the nodes with `--heapsnapshot-signal=SIGUSR2` and
 * has each write a heap snapshot there at the end of the warm-up and at the end of the load
 * (to diff object counts by constructor); a snapshot stalls its node for seconds and its
 * RSS stays higher afterwards, so such a run's RSS figures are not the soak's.
 * Run: `npm run bench -- soak` (30 minutes) or
 * `node --import tsx bench/soak/soak.bench.ts --minutes N [--seed S] [--kinds k1,k2]`.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { tmpDir } from '../../test/support/tmp-dirs.ts';
import { dropVhost, isolatedAmqpUrl } from '../../test/support/rabbitmq-vhost.ts';
import { startCouchTestServer, type CouchTestServer } from '../../test/support/couchdb-server.ts';
import { startKamailio, type Kamailio } from '../../test/support/kamailio.ts';
import { runSipp, type SippUser } from '../../test/support/sipp.ts';
import {
  pollUntil,
  regQuery,
  startClusterNode,
  stopClusterNodes,
  type ClusterNode,
} from '../../test/support/cluster.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport } from '../../src/bus/index.ts';
import { busExchangeSpecs } from '../../src/api/bus-adapters.ts';
import { CouchStore } from '../../src/store/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import type { Switch } from '../../src/switch/index.ts';
import { CallLoad, callsLeft, provisionCallflows, registerCallees, startCallSwitches } from './calls.ts';
import { MemorySampler, memoryTrend, printMemory, warmupMs, type MemoryTrend } from './memory.ts';

const ROOT = join(import.meta.dirname, '../..');
const REGISTER_XML = join(ROOT, 'test/apps/registrar/sipp/register.xml');
/** A vhost per run (deleted at its end), so two soaks on one broker never share queues. */
const VHOST = `fife-soak-${process.pid}-${randomBytes(2).toString('hex')}`;
const REALM = 'soak.fife.test';
const QUEUE = 'registrar_listener';
const NODES = ['s1@localhost', 's2@localhost', 's3@localhost'];
const ROUND_PHONES = 20;
const POOL_PHONES = 160;
const ROUND_GAP_MS = 2000;
const CALL_EVERY_MS = 500;
const STOP_LIMIT_MS = 30_000;
/** What kill picks in, per node (s1, s2, s3). */
const KILL_IN = ['registrar_sup', 'ecallmgr_sup', 'callflow_sup'];

export interface SoakOptions {
  minutes: number;
  /** Base seed: node i's schedule is seeded with seed + i. */
  seed?: number;
  everyMs?: number;
  kinds?: string[];
  log?: (line: string) => void;
}

export interface SoakResult {
  minutes: number;
  seed: number;
  phones: number;
  sippSuccessful: number;
  sippFailed: number;
  registered: number;
  foundAtEnd: number;
  registrationsLost: number;
  uncertain: number;
  uncertainFound: number;
  /** Up to 10 phones lost, with what reg_query answered. */
  lostSample: string[];
  calls: { placed: number; bridged: number; abandoned: number };
  callsStuck: number;
  /** The parts of callsStuck: A-legs up past their deadline, legs left, calls with processes left. */
  stuck: { aLegs: string[]; legsLeft: string[]; onNodes: string[]; procs: string[] };
  faults: Record<string, number>;
  restartsByReason: Record<string, number>;
  nodeExits: Record<string, number | null>;
  /** Nodes that had not stopped STOP_LIMIT_MS after their SIGTERM (then SIGKILLed). */
  stopKilled: string[];
  memory: MemoryTrend[];
}

/** Follows a node's /events stream, counting faults and restarts; `stop()` ends it. */
function followEvents(
  n: ClusterNode,
  faults: Record<string, number>,
  restarts: Record<string, number>,
): { stop(): void } {
  const abort = new AbortController();
  const lastReason = new Map<string, string>();
  const count = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const onEvent = (type: string, e: Record<string, unknown>): void => {
    if (type === 'fault') {
      if (e.phase === 'injected') count(faults, String(e.kind));
      if (e.phase === 'failed') count(faults, `failed:${String(e.kind)}`);
    } else if (type === 'supervisor') {
      const key = `${String(e.supervisor)}/${String(e.childId)}`;
      // A child restarted with no exit of its own went with a sibling (rest_for_one,
      // one_for_all): counted as `with_sibling`.
      if (e.kind === 'child_terminated') lastReason.set(key, String(e.reason));
      if (e.kind === 'child_restarted') {
        count(restarts, lastReason.get(key) ?? 'with_sibling');
        lastReason.delete(key);
      }
    } else if (type === 'app' && e.kind === 'restarted') {
      const why = e.reason ?? e.cause ?? 'unknown';
      count(restarts, `app:${typeof why === 'string' ? why : JSON.stringify(why).slice(0, 80)}`);
    }
  };
  void (async () => {
    const res = await fetch(`${n.admin}/events?types=fault,supervisor,app`, { signal: abort.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type !== undefined && data !== undefined)
          onEvent(type, JSON.parse(data) as Record<string, unknown>);
      }
    }
  })().catch((err: Error) => {
    // the node ended, or the bench stopped following: the counts so far stand
    if (!abort.signal.aborted) console.error(`${n.name}: /events stream ended: ${err.message}`);
  });
  return { stop: () => abort.abort() };
}

/** Each node writes a heap snapshot into `dir` (started with --heapsnapshot-signal=SIGUSR2). */
async function heapSnapshots(nodes: ClusterNode[], dir: string, log: (s: string) => void): Promise<void> {
  for (const n of nodes) {
    const pid = n.proc.child.pid!;
    const count = () =>
      readdirSync(dir).filter((f) => f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot')).length;
    const before = count();
    n.proc.child.kill('SIGUSR2');
    await pollUntil(() => count() > before, `${n.name}'s heap snapshot`, 120_000);
    // The file is there as the write starts; the node writes it on its main thread, so it
    // answers /health again only once it is written.
    await pollUntil(
      async () => (await fetch(`${n.admin}/health`).catch(() => undefined))?.ok === true,
      `${n.name}'s heap snapshot written`,
      120_000,
    );
    log(`soak: ${n.name} (pid ${pid}) wrote heap snapshot ${before + 1} in ${dir}`);
  }
}

const post = async (n: ClusterNode, path: string, body: unknown): Promise<Record<string, unknown>> => {
  const res = await fetch(`${n.admin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${n.name} POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

const ready = async (n: ClusterNode): Promise<boolean> =>
  (await fetch(`${n.admin}/ready`).catch(() => undefined))?.status === 200;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const seed = opts.seed ?? 1 + Math.floor(Math.random() * 1e6);
  const everyMs = opts.everyMs ?? 3000;
  const kinds = opts.kinds ?? ['kill', 'sever-bus', 'store-down', 'delay-bus', 'drop-event-socket'];
  const runMs = opts.minutes * 60_000;
  const amqpUrl = isolatedAmqpUrl(VHOST);
  const { logger } = memoryLogger('soak-bench@localhost', 'warn');
  const nodes: ClusterNode[] = [];
  const followers: Array<{ stop(): void }> = [];
  let couch: CouchTestServer | undefined;
  let kamailio: Kamailio | undefined;
  let bus: BusTransport | undefined;
  let req: Requester | undefined;
  let store: CouchStore | undefined;
  let switches: Switch[] = [];
  let load: CallLoad | undefined;
  try {
    // Queues of an earlier run would hold its messages.
    const c = await amqp.connect(amqpUrl, { timeout: 3000 });
    const ch = await c.createChannel();
    await ch.deleteQueue(QUEUE);
    await ch.deleteQueue(`${QUEUE}_reg_success`);
    await c.close();
    log('soak: starting pouchdb-server, three nodes and Kamailio');
    couch = await startCouchTestServer();
    store = new CouchStore({ url: couch.url, logger });
    const accountId = await addAccount(store, { name: 'Soak', realm: REALM });
    await provisionCallflows(store, accountId, REALM, NODES.length);
    bus = createTransport({ url: amqpUrl, logger, connectionName: 'soak-bench' });
    await bus.start();
    await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
    switches = await startCallSwitches(NODES.length, { bus, realm: REALM, logger });
    const configFile = join(tmpDir('fife-soak-cfg-'), 'fife.json');
    // The periodic checks of a call (ecallmgr's channel check, callflow's executor check)
    // shortened from their defaults (300 s, 30 s) to fit the stuck-call wait (30 s).
    writeFileSync(
      configFile,
      JSON.stringify({
        settings: {
          registrar: { authn_ack: true },
          ecallmgr: { channelCheckMs: 10_000 },
          callflow: { callCheckMs: 10_000 },
        },
      }),
    );
    const snapDir = process.env.FIFE_SOAK_HEAPSNAP_DIR;
    const nodeOptions = snapDir
      ? `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapDir}`.trim()
      : process.env.NODE_OPTIONS;
    const spec = {
      configFile,
      amqpUrl,
      storeUrl: couch.url,
      apps: 'registrar,ecallmgr,callflow',
      heartbeatMs: 1000,
    };
    nodes.push(
      ...(await Promise.all(
        NODES.map((name, i) =>
          startClusterNode(spec, name, {
            FIFE_ECALLMGR_SWITCHES: `127.0.0.1:${switches[i]!.port}`,
            ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
          }),
        ),
      )),
    );
    kamailio = await startKamailio({ amqpUrl, queryTimeoutS: 10 });
    req = new Requester({ transport: bus, logger, timeoutMs: 8000 });
    await req.start();

    await registerCallees(switches, req, REALM);
    const faults: Record<string, number> = {};
    const restartsByReason: Record<string, number> = {};
    for (const n of nodes) followers.push(followEvents(n, faults, restartsByReason));
    for (const [i, n] of nodes.entries())
      await post(n, '/chaos', {
        every_ms: everyMs,
        for_ms: runMs,
        seed: seed + i,
        kinds,
        random_in: KILL_IN[i % KILL_IN.length],
        ms: 1000,
      });
    log(
      `soak: ${nodes.length} nodes, ${opts.minutes} min, a fault every ${everyMs} ms on each node (seeds ${seed}..${seed + nodes.length - 1}; ${kinds.join(',')})`,
    );

    load = new CallLoad(switches, REALM);
    load.start(CALL_EVERY_MS);
    const sampler = new MemorySampler(nodes, log);
    await sampler.start();
    const warmSnap = snapDir
      ? setTimeout(
          () => void heapSnapshots(nodes, snapDir, log).catch((e: Error) => log(e.message)),
          warmupMs(runMs),
        )
      : undefined;
    const pool: SippUser[] = Array.from({ length: POOL_PHONES }, (_, k) => ({
      user: `soak${k}`,
      realm: REALM,
      password: `pw-${randomBytes(4).toString('hex')}`,
    }));
    /** Per phone registered at least once: the Contacts reg_query may answer, and whether that is sure. */
    const latest = new Map<string, { contacts: string[]; certain: boolean }>();
    let sippSuccessful = 0;
    let sippFailed = 0;
    const end = Date.now() + runMs;
    for (let round = 0; Date.now() < end; round++) {
      const first = (round * ROUND_PHONES) % POOL_PHONES;
      const batch = pool.slice(first, first + ROUND_PHONES);
      if (round * ROUND_PHONES < POOL_PHONES)
        for (const p of batch)
          await addDevice(store, { realm: REALM, username: p.user, password: p.password });
      const r = await runSipp({
        target: `127.0.0.1:${kamailio.port}`,
        scenario: REGISTER_XML,
        users: batch,
        rate: 20,
        timeoutMs: 30_000,
      });
      const ok = Number.isFinite(r.successful) ? r.successful : 0;
      sippSuccessful += ok;
      sippFailed += Number.isFinite(r.failed) ? r.failed : batch.length;
      const allOk = ok === batch.length;
      for (const p of batch) {
        const contact = `sip:${p.user}@127.0.0.1:${r.port}`;
        const before = latest.get(p.user);
        if (allOk) latest.set(p.user, { contacts: [contact], certain: true });
        else latest.set(p.user, { contacts: [...(before?.contacts ?? []), contact], certain: false });
      }
      log(`soak: round ${round}: ${r.successful} registered, ${r.failed} failed (port ${r.port})`);
      await new Promise((res) => setTimeout(res, ROUND_GAP_MS));
    }
    await sampler.stop();
    clearTimeout(warmSnap);
    if (snapDir) await heapSnapshots(nodes, snapDir, log);
    for (const n of nodes) await post(n, '/chaos/stop', {}).catch((err: Error) => log(err.message));
    for (const n of nodes) await pollUntil(() => ready(n), `${n.name} ready after the soak`, 60_000);
    log('soak: schedules stopped; waiting for every call placed to settle');
    const calls = await load.stop();
    load = undefined;
    const { aLegs, legsLeft, onNodes, procs: leftProcs } = await callsLeft(calls, switches, nodes);

    log('soak: schedules stopped, nodes ready; asking reg_query for every phone');
    // Every phone asked; one not answered in time (or not right yet) is asked again.
    let missing = [...latest.keys()];
    const answers = new Map<string, string>();
    const deadline = Date.now() + 60_000;
    while (missing.length > 0 && Date.now() < deadline) {
      const still: string[] = [];
      for (let k = 0; k < missing.length; k += 10)
        await Promise.all(
          missing.slice(k, k + 10).map(async (user) => {
            const a = await regQuery(req!, REALM, user).catch((err: Error) => err);
            const got = a instanceof Error ? undefined : answeredContacts(a);
            answers.set(user, a instanceof Error ? a.message : JSON.stringify(got ?? a['Event-Name']));
            const want = latest.get(user)!.contacts;
            if (got === undefined || got.length !== 1 || !want.some((c) => sameContact(got[0]!, c)))
              still.push(user);
          }),
        );
      if (still.length === missing.length) break;
      missing = still;
    }
    const lostSet = new Set(missing);
    const certain = [...latest].filter(([, v]) => v.certain).map(([u]) => u);
    const uncertain = [...latest].filter(([, v]) => !v.certain).map(([u]) => u);
    const foundAtEnd = certain.filter((u) => !lostSet.has(u)).length;
    const nodeExits = Object.fromEntries(nodes.map((n) => [n.name, n.proc.child.exitCode]));
    const stopKilled = await stopClusterNodes(nodes, STOP_LIMIT_MS);
    return {
      minutes: opts.minutes,
      seed,
      phones: latest.size,
      sippSuccessful,
      sippFailed,
      registered: certain.length,
      foundAtEnd,
      registrationsLost: certain.length - foundAtEnd,
      uncertain: uncertain.length,
      uncertainFound: uncertain.filter((u) => !lostSet.has(u)).length,
      lostSample: certain
        .filter((u) => lostSet.has(u))
        .slice(0, 10)
        .map((u) => `${u}: wanted ${latest.get(u)!.contacts.join(' or ')}, answered ${answers.get(u)}`),
      calls: { placed: calls.placed, bridged: calls.bridged, abandoned: calls.abandoned },
      callsStuck: aLegs.length + legsLeft.length + onNodes.length,
      stuck: { aLegs, legsLeft, onNodes, procs: leftProcs },
      faults,
      restartsByReason,
      nodeExits,
      stopKilled,
      memory: nodes.map((n, i) => memoryTrend(n.name, sampler.samples[i]!, runMs)),
    };
  } finally {
    await load?.stop();
    for (const f of followers) f.stop();
    await kamailio?.stop();
    await stopClusterNodes(nodes, STOP_LIMIT_MS);
    if (process.env.FIFE_SOAK_LOG_DIR)
      for (const n of nodes)
        writeFileSync(
          join(process.env.FIFE_SOAK_LOG_DIR, `${n.name}.jsonl`),
          n.proc.lines.map((l) => JSON.stringify(l)).join('\n'),
        );
    await req?.stop();
    await bus?.close();
    await store?.close();
    await couch?.close();
    for (const sw of switches) await sw.close();
    dropVhost(VHOST);
  }
}

/** The Contacts a reg_query answer lists; undefined when it is not a reg_query_resp. */
function answeredContacts(a: { 'Event-Name'?: unknown; Fields?: unknown }): string[] | undefined {
  if (a['Event-Name'] !== 'reg_query_resp' || !Array.isArray(a.Fields)) return undefined;
  return (a.Fields as Array<{ Contact?: unknown }>).map((f) => String(f.Contact));
}

/** Whether an answered Contact (maybe `<...>` with parameters) is `sip:user@host:port`. */
const sameContact = (answered: string, contact: string): boolean =>
  new RegExp(`^<?${contact.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9])`).test(answered);

export function printSoak(r: SoakResult, log: (s: string) => void = (s) => console.log(s)): void {
  const kv = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(', ') || 'none';
  log(`soak ${r.minutes} min, seed ${r.seed}`);
  log(
    `registrations lost: ${r.registrationsLost} (phones ${r.phones}, ${r.registered} with their last REGISTER answered 200, of which ${r.foundAtEnd} answered by reg_query at that Contact only; REGISTERs: SIPp 200 ${r.sippSuccessful}, failed ${r.sippFailed}; phones whose last round had a failure ${r.uncertain}, found at the old or new Contact ${r.uncertainFound})`,
  );
  for (const l of r.lostSample) log(`  lost: ${l}`);
  log(
    `calls stuck: ${r.callsStuck} (placed ${r.calls.placed}, bridged ${r.calls.bridged}, abandoned ${r.calls.abandoned}, ended without a bridge ${r.calls.placed - r.calls.bridged - r.calls.abandoned - r.stuck.aLegs.length}; A-legs up past their deadline ${r.stuck.aLegs.length}, legs left on the switches ${r.stuck.legsLeft.length}, calls with processes left on nodes ${r.stuck.onNodes.length})`,
  );
  for (const id of [...r.stuck.aLegs, ...r.stuck.legsLeft].slice(0, 10)) log(`  stuck on a switch: ${id}`);
  for (const p of r.stuck.procs.slice(0, 10)) log(`  left on ${p}`);
  log(`faults injected: ${kv(r.faults)}`);
  log(
    `nodes not stopped ${STOP_LIMIT_MS / 1000} s after SIGTERM (SIGKILLed): ${r.stopKilled.join(', ') || 'none'}`,
  );
  log(`restarts by reason: ${kv(r.restartsByReason)}`);
  for (const m of r.memory) printMemory(m, log);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--minutes');
  const minutes = i >= 0 ? Number(process.argv[i + 1]) : Number(process.env.FIFE_SOAK_MINUTES ?? 30);
  if (!(minutes > 0)) {
    console.error(`--minutes must be a positive number, not '${process.argv[i + 1]}'`);
    process.exit(2);
  }
  const s = process.argv.indexOf('--seed');
  const k = process.argv.indexOf('--kinds');
  const r = await runSoak({
    minutes,
    seed: s >= 0 ? Number(process.argv[s + 1]) : undefined,
    kinds: k >= 0 ? process.argv[k + 1]!.split(',') : undefined,
  });
  printSoak(r);
}
