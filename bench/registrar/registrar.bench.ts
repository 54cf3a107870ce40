/**
 * Registrar bench (standalone; `npm run bench -- registrar`). Prints:
 * 1. authn_req round trips per second and p50/p99 latency through the registrar (cache
 *    warm) vs a bare stand-in responder answering from a Map, in alternating rounds of
 *    the same run, same transport, same requester and concurrency (target: >= 0.8x);
 *    on the embedded bus, and on RabbitMQ when one is reachable.
 * 2. REGISTERs per second end to end: SIPp -> Kamailio (kazoo module) -> RabbitMQ ->
 *    registrar (this process), 10,000 distinct devices with digest auth (target
 *    >= 1,000/s), with SIPp's own figures; skipped with a line when Kamailio/SIPp or
 *    RabbitMQ are missing.
 * 3. Memory held per stored registration with 10,000 registered devices (heap after GC:
 *    once with reg_success straight on the embedded bus, once after the SIPp run).
 * BENCH_DEBUG=1 adds a warm second SIPp pass and Kamailio's warnings; BENCH_PARTS picks
 * parts (authn, authn-rabbitmq, memory, e2e); BENCH_DEVICES, BENCH_SIPP_RATE,
 * BENCH_ROUND_MS, BENCH_LOG_LEVEL tune it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Runtime, Supervisor, GenServer, createRootLogger, type Pid } from '../../src/kernel/index.ts';
import {
  createTransport,
  EmbeddedBroker,
  Requester,
  type BusTransport,
  type Envelope,
} from '../../src/bus/index.ts';
import { busExchangeSpecs } from '../../src/api/bus-adapters.ts';
import { authnReqKey, build, regSuccessKey } from '../../src/api/index.ts';
import { accountDbName, EmbeddedStore, type DocumentStore } from '../../src/store/index.ts';
import { registrarTree } from '../../supervisors/registrar.sup.ts';
import { REG_SERVER } from '../../apps/registrar/reg-server.ts';
import { addAccount } from '../../apps/registrar/provisioning.ts';
import { isolatedAmqpUrl } from '../../test/support/rabbitmq-vhost.ts';
import { kamailioProbe, startKamailio } from '../../test/support/kamailio.ts';
import { runSipp } from '../../test/support/sipp.ts';

const log = createRootLogger({ node: 'bench@localhost', level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
const CTX = { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@bench' };
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const CONCURRENCY = 32;
const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const gc = (): void => {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
};
const out = (s: string): void => void process.stdout.write(s + '\n');

interface Env {
  rt: Runtime;
  bus: BusTransport;
  store: DocumentStore;
  dir: string;
  realm: string;
  sup: Pid;
  close(): Promise<void>;
}

async function registrarEnv(
  busUrl: string,
  devices: number,
  password: (i: number) => string,
  extra: Record<string, unknown> = {},
): Promise<Env> {
  const rt = new Runtime({ node: 'bench@localhost', logger: log });
  const bus = createTransport({
    url: busUrl,
    logger: log,
    embeddedBroker: busUrl === 'embedded' ? new EmbeddedBroker() : undefined,
    namePrefix: `bench-${randomBytes(3).toString('hex')}`,
  });
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  const dir = mkdtempSync(join(tmpdir(), 'fife-regbench-'));
  const store = new EmbeddedStore({ dir, logger: log });
  const realm = `bench${randomBytes(3).toString('hex')}.fife.test`;
  const account = await addAccount(store, { name: 'Bench', realm });
  for (let i = 0; i < devices; i += 1000) {
    await store.bulkSave(
      accountDbName(account),
      Array.from({ length: Math.min(1000, devices - i) }, (_, k) => ({
        _id: `dev${i + k}`,
        pvt_type: 'device',
        sip: { username: `u${i + k}`, password: password(i + k) },
      })),
    );
  }
  const queue = `registrar_bench_${randomBytes(3).toString('hex')}`;
  const r = await Supervisor.start(
    rt,
    registrarTree({ store, bus, config: { settings: { registrar: { queue, ...extra } } } }),
  );
  if (r.type !== 'ok') throw new Error(`registrar did not start: ${JSON.stringify(r)}`);
  return {
    rt,
    bus,
    store,
    dir,
    realm,
    sup: r.pid,
    async close() {
      const exited = rt.awaitExit(r.pid);
      rt.exit(r.pid, 'shutdown');
      await exited;
      await rt.shutdown();
      await bus.deleteQueue(queue).catch(() => undefined);
      await bus.deleteQueue(`${queue}_reg_success`).catch(() => undefined);
      await bus.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The baseline: a bare responder on its own exchange answering authn_req from a Map. */
async function standIn(
  bus: BusTransport,
  realm: string,
  passwords: Map<string, string>,
): Promise<{ exchange: string; stop(): Promise<void> }> {
  const exchange = `bench_standin_${randomBytes(3).toString('hex')}`;
  await bus.assertExchange({ name: exchange, type: 'topic' });
  const q = await bus.assertQueue('', { autoDelete: true, exclusive: false });
  const tag = await bus.consume(
    q,
    (d) => {
      const m = JSON.parse(d.body.toString()) as Envelope;
      const pw = passwords.get(String(m['Auth-User']));
      const reply =
        pw === undefined
          ? { 'Event-Category': 'directory', 'Event-Name': 'authn_err', 'Msg-ID': m['Msg-ID'] }
          : {
              'Event-Category': 'directory',
              'Event-Name': 'authn_resp',
              'Msg-ID': m['Msg-ID'],
              'Auth-Method': 'password',
              'Auth-Password': pw,
              'App-Name': 'standin',
              'App-Version': '1',
            };
      void bus.publish('targeted', String(m['Server-ID']), JSON.stringify(reply));
    },
    { noAck: true },
  );
  await bus.bindQueue(q, exchange, authnReqKey(realm));
  return {
    exchange,
    stop: async () => {
      await bus.cancel(tag);
      await bus.deleteQueue(q).catch(() => undefined);
      await bus.deleteExchange(exchange).catch(() => undefined);
    },
  };
}

async function drive(
  req: Requester,
  target: { exchange: string; routingKey: string },
  realm: string,
  users: number,
  ms: number,
): Promise<{ rate: number; lat: number[] }> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = w; performance.now() < end; i += CONCURRENCY) {
      const user = `u${i % users}`;
      const m = build(
        'authn_req',
        { 'Auth-User': user, 'Auth-Realm': realm, From: `sip:${user}@${realm}`, To: `sip:${user}@${realm}` },
        CTX,
      ) as Envelope;
      const t0 = performance.now();
      await req.call(m, target, { timeoutMs: 5000 });
      lat.push(performance.now() - t0);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return { rate: n / ((performance.now() - t0) / 1000), lat };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const median = (xs: number[]): number => pct(xs, 50);

async function authnBench(label: string, busUrl: string, authnAck = false): Promise<void> {
  const USERS = 1000;
  const env = await registrarEnv(busUrl, USERS, (i) => `pw${i}`, { authn_ack: authnAck });
  const passwords = new Map(Array.from({ length: USERS }, (_, i) => [`u${i}`, `pw${i}`]));
  const base = await standIn(env.bus, env.realm, passwords);
  const req = new Requester({ transport: env.bus, logger: log, timeoutMs: 5000 });
  await req.start();
  const regTarget = { exchange: 'callmgr', routingKey: authnReqKey(env.realm) };
  const baseTarget = { exchange: base.exchange, routingKey: authnReqKey(env.realm) };
  // warm: every user once (the registrar caches credentials after the first look-up)
  for (let i = 0; i < USERS; i += CONCURRENCY) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, k) => {
        const m = build(
          'authn_req',
          {
            'Auth-User': `u${i + k}`,
            'Auth-Realm': env.realm,
            From: `sip:u${i + k}@${env.realm}`,
            To: `sip:u${i + k}@${env.realm}`,
          },
          CTX,
        ) as Envelope;
        return req.call(m, regTarget, { timeoutMs: 30_000, validate: () => true });
      }),
    );
  }
  await drive(req, regTarget, env.realm, USERS, 500);
  await drive(req, baseTarget, env.realm, USERS, 500);
  const reg: Array<{ rate: number; lat: number[] }> = [];
  const std: Array<{ rate: number; lat: number[] }> = [];
  for (let r = 0; r < 3; r++) {
    std.push(await drive(req, baseTarget, env.realm, USERS, ROUND_MS));
    reg.push(await drive(req, regTarget, env.realm, USERS, ROUND_MS));
  }
  const rr = median(reg.map((x) => x.rate));
  const sr = median(std.map((x) => x.rate));
  const rl = reg.flatMap((x) => x.lat);
  const sl = std.flatMap((x) => x.lat);
  out(
    `authn_req round trips, ${label}, ${authnAck ? 'acked once answered (authn_ack: true)' : 'no-ack (default, as Kazoo)'}, ${CONCURRENCY} in flight, 3 alternating rounds of ${ROUND_MS} ms (median):`,
  );
  out(
    `  registrar   ${rr.toFixed(0).padStart(7)}/s   p50 ${pct(rl, 50).toFixed(2)} ms   p99 ${pct(rl, 99).toFixed(2)} ms`,
  );
  out(
    `  stand-in    ${sr.toFixed(0).padStart(7)}/s   p50 ${pct(sl, 50).toFixed(2)} ms   p99 ${pct(sl, 99).toFixed(2)} ms   (bare responder, Map lookup)`,
  );
  out(`  ratio       ${(rr / sr).toFixed(2)}x (target >= 0.80x)`);
  await req.stop();
  await base.stop();
  await env.close();
}

async function heapMb(): Promise<number> {
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function memoryReport(env: Env, registered: number, heapBefore: number): Promise<void> {
  const after = await heapMb();
  const core = await GenServer.call<{ registrations: number }>(env.rt, REG_SERVER, 'stats');
  const regs = core.registrations;
  out(
    `memory with ${regs} registered devices (of ${registered}): heap +${(after - heapBefore).toFixed(1)} MB = ${(((after - heapBefore) * 1024 * 1024) / regs).toFixed(0)} B per registration (cached registration + user mapping + revision; credentials were primed before the run)`,
  );
}

async function endToEnd(): Promise<void> {
  try {
    await kamailioProbe();
  } catch (err) {
    out(`SKIPPING end-to-end REGISTER bench: ${(err as Error).message}`);
    return;
  }
  const amqpUrl = isolatedAmqpUrl('fife-registrar-bench');
  const env = await registrarEnv(amqpUrl, DEVICES, (i) => `pw${i}`).catch((err: unknown) => {
    out(`SKIPPING end-to-end REGISTER bench: RabbitMQ not reachable (${(err as Error).message})`);
    return undefined;
  });
  if (env === undefined) return;
  const kam = await startKamailio({ amqpUrl, children: 8, queryTimeoutS: 2 });
  try {
    const heap0 = await heapMb();
    const users = Array.from({ length: DEVICES }, (_, i) => ({
      user: `u${i}`,
      realm: env.realm,
      password: `pw${i}`,
    }));
    const rate = Number(process.env.BENCH_SIPP_RATE ?? 1500);
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    const r = await runSipp({
      target: `127.0.0.1:${kam.port}`,
      scenario: resolve(import.meta.dirname, '../../test/apps/registrar/sipp/register.xml'),
      users,
      rate,
      limit: 3000,
      timeoutMs: 120_000,
    });
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - w0;
    if (process.env.BENCH_DEBUG) {
      out(
        kam
          .output()
          .split('\n')
          .filter((l) => /WARN|ERROR|script/.test(l) && !/consumer-event/.test(l))
          .slice(-15)
          .join('\n'),
      );
      out(
        JSON.stringify(
          Object.fromEntries(
            Object.entries(r.stats).filter(
              ([k, v]) => k.startsWith('Failed') && k.endsWith('(C)') && v !== '0',
            ),
          ),
        ),
      );
      out(
        `registrar process CPU during the run: ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)}% of one core`,
      );
      const r2 = await runSipp({
        target: `127.0.0.1:${kam.port}`,
        scenario: resolve(import.meta.dirname, '../../test/apps/registrar/sipp/register.xml'),
        users,
        rate,
        limit: 3000,
        timeoutMs: 120_000,
      });
      out(
        `warm second pass: ${r2.successful} ok, ${r2.failed} failed, CallRate(C) ${r2.stats['CallRate(C)']}, CallLength(C) ${r2.stats['CallLength(C)']}, retrans ${r2.stats['Retransmissions(C)']}`,
      );
      out(
        JSON.stringify(
          Object.fromEntries(
            Object.entries(r2.stats).filter(
              ([k, v]) => k.startsWith('Failed') && k.endsWith('(C)') && v !== '0',
            ),
          ),
        ),
      );
      out(r2.output.slice(-1500));
    }
    if (process.env.BENCH_DEBUG) out(JSON.stringify(r.stats));
    out(
      `REGISTER end to end (SIPp -> Kamailio kazoo module -> RabbitMQ -> registrar), ${DEVICES} devices, digest auth, SIPp -r ${rate}:`,
    );
    out(`  ${r.rate.toFixed(0)} REGISTERs/s (successful / wall time of the SIPp run; target >= 1000/s)`);
    out(
      `  SIPp: SuccessfulCall(C) ${r.successful}, FailedCall(C) ${r.failed}, ElapsedTime(C) ${r.stats['ElapsedTime(C)']}, CallRate(C) ${r.stats['CallRate(C)']}/s, CallLength(C) ${r.stats['CallLength(C)']}, Retransmissions(C) ${r.stats['Retransmissions(C)']}; wall ${(r.wallMs / 1000).toFixed(2)} s`,
    );
    for (let i = 0; i < 200; i++) {
      const s = await GenServer.call<{ registrations: number; pendingWrites: number }>(
        env.rt,
        REG_SERVER,
        'stats',
      );
      if (s.pendingWrites === 0 && s.registrations >= r.successful) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await memoryReport(env, DEVICES, heap0);
  } finally {
    await kam.stop();
    await env.close();
  }
}

/** Memory without Kamailio: 10,000 reg_success straight onto the embedded bus. */
async function memoryEmbedded(): Promise<void> {
  const env = await registrarEnv('embedded', 1, () => 'x');
  const heap0 = await heapMb();
  for (let i = 0; i < DEVICES; i++) {
    const m = build(
      'reg_success',
      {
        Contact: `<sip:u${i}@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:5060>`,
        'Event-Timestamp': Math.floor(Date.now() / 1000),
        Expires: 3600,
        Realm: env.realm,
        Username: `u${i}`,
        'User-Agent': 'bench',
        'Custom-Channel-Vars': { 'Account-ID': 'a'.repeat(32), 'Authorizing-ID': `dev${i}` },
      },
      CTX,
    );
    await env.bus.publish('registrar', regSuccessKey(env.realm, `u${i}`), JSON.stringify(m));
  }
  for (let i = 0; i < 400; i++) {
    const s = await GenServer.call<{ registrations: number; pendingWrites: number }>(
      env.rt,
      REG_SERVER,
      'stats',
    );
    if (s.pendingWrites === 0 && s.registrations >= DEVICES) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const after = await heapMb();
  const s = await GenServer.call<{ registrations: number }>(env.rt, REG_SERVER, 'stats');
  out(
    `memory per stored registration (reg_success on the embedded bus, ${s.registrations} registrations): heap +${(after - heap0).toFixed(1)} MB = ${(((after - heap0) * 1024 * 1024) / s.registrations).toFixed(0)} B each (cached registration + user mapping)`,
  );
  await env.close();
}

const parts = (process.env.BENCH_PARTS ?? 'authn,authn-rabbitmq,memory,e2e').split(',');
if (parts.includes('authn')) await authnBench('embedded bus', 'embedded');
if (parts.includes('authn-rabbitmq')) {
  const url = isolatedAmqpUrl('fife-registrar-bench');
  await authnBench('RabbitMQ', url).catch((err: unknown) =>
    out(`SKIPPING authn bench on RabbitMQ: ${(err as Error).message}`),
  );
  await authnBench('RabbitMQ', url, true).catch((err: unknown) =>
    out(`SKIPPING authn bench on RabbitMQ: ${(err as Error).message}`),
  );
}
if (parts.includes('memory')) await memoryEmbedded();
if (parts.includes('e2e')) await endToEnd();
process.exit(0);
