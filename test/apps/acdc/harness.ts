/**
 * The acdc test setup: a runtime, a bus (embedded, or RabbitMQ with `amqpUrl`), the acdc
 * tree with one queue and agents a, b, c, and simulated agent phones (`phones`).
 * - `phones.mode(agent, 'answer' | 'ignore' | 'manual')`: answer at once (the call ends
 *   at once too), never answer, or wait for `phones.answerLate(callId, agent)`;
 *   `phones.rings` and `phones.stops` record each ring and each stop asked of a phone.
 * - `callers(n)` publishes n member_call messages; `successes` collects every
 *   member_call_success (Call-ID -> the Agent-IDs that took it) seen on the bus.
 * - `action(agent, name, extra?)` publishes an agent action; `status(agent)` asks the
 *   agent process; `until(fn)` waits for a condition (rejects after 10 s).
 */
import { randomBytes } from 'node:crypto';
import { GenServer, Runtime, Supervisor } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, EmbeddedBroker, type RecoveringTransport } from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import { acdcSharedQueue, memberCallResultKey } from '../../../src/api/index.ts';
import { acdcTree, ACDC_SUP } from '../../../supervisors/acdc.sup.ts';
import { agentName, type AgentView } from '../../../apps/acdc/agent.ts';
import type { AgentDevice, RingResult } from '../../../apps/acdc/device.ts';
import { acdcSend, type AcdcEnv } from '../../../apps/acdc/send.ts';
import { managerName } from '../../../apps/acdc/manager.ts';

export const AGENTS = ['a', 'b', 'c'] as const;
export const QUEUE = 'sales';
type Mode = 'answer' | 'ignore' | 'manual';

export class Phones {
  readonly modes = new Map<string, Mode>();
  readonly rings: { agentId: string; callId: string }[] = [];
  /** Each `stop` the agent processes asked of the device (the ringing of that caller ends). */
  readonly stops: { agentId: string; callId: string }[] = [];
  readonly held = new Map<string, (r: RingResult) => void>();
  mode(agentId: string, m: Mode): void {
    this.modes.set(agentId, m);
  }
  answerLate(callId: string, agentId: string): void {
    const r = this.held.get(`${callId}/${agentId}`);
    if (r === undefined) throw new Error(`${agentId} was never rung for ${callId}`);
    r({ answered: true, ended: Promise.resolve() });
  }
  device(agentId: string): AgentDevice {
    return {
      ring: (o) => {
        this.rings.push({ agentId, callId: o.callId });
        const m = this.modes.get(agentId) ?? 'answer';
        if (m === 'answer') return Promise.resolve({ answered: true, ended: Promise.resolve() });
        return new Promise((resolve) => {
          if (m === 'manual') this.held.set(`${o.callId}/${agentId}`, resolve);
        });
      },
      stop: (callId) => void this.stops.push({ agentId, callId }),
    };
  }
}

/** A second node on the same bus: its own runtime and acdc tree (the same account and settings). */
export interface AcdcPeer {
  rt: Runtime;
  phones: Phones;
  status(agentId: string): Promise<AgentView>;
  close(): Promise<void>;
}

export interface AcdcHarness {
  rt: Runtime;
  bus: RecoveringTransport;
  env: AcdcEnv;
  phones: Phones;
  /** The log lines (level from ACDC_TEST_LOG, default info). */
  lines: Array<Record<string, unknown>>;
  successes: Map<string, string[]>;
  /** `priority`: Member-Priority (higher first). */
  callers(n: number, prefix?: string, priority?: number): Promise<string[]>;
  action(agentId: string, name: string, extra?: Record<string, unknown>): Promise<void>;
  status(agentId: string): Promise<AgentView>;
  managerView(): Promise<{ agents: Record<string, string>; ring: string[] }>;
  until(what: string, fn: () => boolean | Promise<boolean>): Promise<void>;
  loginAll(): Promise<void>;
  /** Starts another node's acdc tree (runtime, bus connection, phones) on the same bus. */
  peer(): Promise<AcdcPeer>;
  close(): Promise<void>;
}

export interface QueueOpts {
  strategy?: 'round_robin' | 'most_idle';
  ringTimeout?: number;
  maxMisses?: number;
  workers?: number;
  /** agent_wrapup_time (s); default 0. */
  wrapup?: number;
  /** More queues with the same settings; every agent is in each of them too. */
  alsoQueues?: string[];
}

export async function startAcdc(opts: { amqpUrl?: string; queue?: QueueOpts } = {}): Promise<AcdcHarness> {
  const { logger, lines } = memoryLogger('acdc-test@localhost', process.env.ACDC_TEST_LOG ?? 'info');
  const prefix = `fife-acdc-${randomBytes(3).toString('hex')}`;
  const broker = opts.amqpUrl === undefined ? new EmbeddedBroker() : undefined;
  const bus = createTransport({
    url: opts.amqpUrl ?? 'embedded',
    logger,
    embeddedBroker: broker,
    namePrefix: prefix,
  });
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  const rt = new Runtime({ node: `${prefix}@localhost`, logger });
  const accountId = randomBytes(16).toString('hex');
  const env: AcdcEnv = { bus, ctx: { appName: 'acdc-test', appVersion: '1.0.0', node: rt.node }, accountId };
  const successes = new Map<string, string[]>();
  const resultQ = await bus.assertQueue('', { exclusive: true, autoDelete: true });
  await bus.bindQueue(resultQ, 'callmgr', memberCallResultKey(accountId, QUEUE, '*'));
  await bus.consume(resultQ, (d) => {
    const m = JSON.parse(d.body.toString()) as Record<string, string>;
    if (m['Event-Name'] !== 'call_success') return;
    successes.set(m['Call-ID']!, [...(successes.get(m['Call-ID']!) ?? []), m['Agent-ID']!]);
  });
  const phones = new Phones();
  const q = opts.queue ?? {};
  const treeOn = (b: RecoveringTransport, node: string, ph: Phones) =>
    acdcTree({
      bus: b,
      node,
      device: (id) => ph.device(id),
      settings,
    });
  const settings = {
    account_id: accountId,
    max_connect_failures: q.maxMisses ?? 3,
    queues: [QUEUE, ...(q.alsoQueues ?? [])].map((id) => ({
      id,
      strategy: q.strategy ?? 'round_robin',
      agent_ring_timeout: q.ringTimeout ?? 0.3,
      agent_wrapup_time: q.wrapup ?? 0,
      collect_timeout: 0.3,
      retry_interval: 1,
      workers: q.workers ?? 1,
    })),
    agents: AGENTS.map((id) => ({ id, queues: [QUEUE, ...(q.alsoQueues ?? [])] })),
  };
  const tree = treeOn(bus, rt.node, phones);
  const started = await Supervisor.start(rt, tree, { name: ACDC_SUP });
  if (started.type !== 'ok') throw new Error(`acdc_sup failed to start: ${JSON.stringify(started)}`);
  let seq = 0;
  const peers: AcdcPeer[] = [];
  const h: AcdcHarness = {
    rt,
    bus,
    env,
    phones,
    lines,
    successes,
    async callers(n, p = 'caller', priority) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const callId = `${p}-${++seq}-${randomBytes(3).toString('hex')}`;
        ids.push(callId);
        await acdcSend(env, 'member_call', {
          'Account-ID': accountId,
          'Queue-ID': QUEUE,
          Call: { 'Call-ID': callId, 'Caller-ID-Number': String(1000 + seq) },
          ...(priority === undefined ? {} : { 'Member-Priority': priority }),
        });
      }
      return ids;
    },
    async action(agentId, name, extra = {}) {
      await acdcSend(env, `agent_${name}`, { 'Account-ID': accountId, 'Agent-ID': agentId, ...extra });
    },
    status: (agentId) => GenServer.call(rt, agentName(agentId), { op: 'status' }) as Promise<AgentView>,
    managerView: () =>
      GenServer.call(rt, managerName(QUEUE), { op: 'view' }) as Promise<{
        agents: Record<string, string>;
        ring: string[];
      }>,
    async until(what, fn) {
      const end = Date.now() + 10_000;
      while (!(await fn())) {
        if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async loginAll() {
      for (const a of AGENTS) {
        await h.action(a, 'login');
        await h.until(
          `${a} available to the manager`,
          async () => (await h.managerView()).agents[a] === 'available',
        );
      }
    },
    async peer() {
      const peerPrefix = `${prefix}-peer${++seq}`;
      const pbus = createTransport({
        url: opts.amqpUrl ?? 'embedded',
        logger,
        embeddedBroker: broker,
        namePrefix: peerPrefix,
      });
      await pbus.start();
      const prt = new Runtime({ node: `${peerPrefix}@localhost`, logger });
      const pphones = new Phones();
      const r = await Supervisor.start(prt, treeOn(pbus, prt.node, pphones), { name: ACDC_SUP });
      if (r.type !== 'ok') throw new Error(`the peer's acdc_sup failed to start: ${JSON.stringify(r)}`);
      const peer: AcdcPeer = {
        rt: prt,
        phones: pphones,
        status: (agentId) => GenServer.call(prt, agentName(agentId), { op: 'status' }) as Promise<AgentView>,
        async close() {
          if (!prt.isAlive(r.pid)) return void (await pbus.close());
          const exited = prt.awaitExit(r.pid);
          prt.exit(r.pid, 'shutdown');
          await exited;
          await prt.shutdown();
          await pbus.close();
        },
      };
      peers.push(peer);
      return peer;
    },
    async close() {
      for (const p of peers) await p.close();
      if (process.env.ACDC_TEST_DUMP) for (const l of lines) console.log(JSON.stringify(l));
      const exited = rt.awaitExit(started.pid);
      rt.exit(started.pid, 'shutdown');
      await exited;
      await rt.shutdown();
      for (const id of [QUEUE, ...(q.alsoQueues ?? [])])
        await bus.deleteQueue(acdcSharedQueue(accountId, id)).catch(() => undefined);
      await bus.close();
    },
  };
  return h;
}
