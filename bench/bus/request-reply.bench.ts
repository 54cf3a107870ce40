/**
 * Bus bench: request/reply round trips through the listener core and the Requester, and
 * through a gen_listener with catalogue validation and catalogue-built messages (as apps
 * use the bus), against bare amqplib request/reply measured in the same run, then the same
 * on the embedded broker.
 *
 * Prints, per scenario: sequential p50/p99 latency (µs) and throughput with 50 requests in
 * flight (round trips/s), with ratios to bare amqplib. Targets: p50 <= 1.3x bare,
 * throughput >= 0.6x bare. Needs RabbitMQ at FIFE_BENCH_AMQP_URL (default
 * amqp://guest:guest@127.0.0.1:5672); without it only the embedded figures are printed.
 *
 * Fairness: bare amqplib routes exactly as Fife does on the wire (request on a topic
 * exchange bound `authn.req.*`, reply on a direct exchange keyed by the reply queue, JSON
 * parsed on both sides, two connections), so the ratio is Fife's own overhead. The machine
 * is shared, so bare and Fife run in alternating rounds (ROUNDS, default 3) and the median
 * of each figure is printed. Each round: SEQ sequential round trips, then BENCH_SECONDS
 * (default 1) with 50 in flight. BENCH_METRICS=1 times Fife's publishes as a node's
 * metrics do (compare a run with and without it).
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { createTransport } from '../../src/bus/create-transport.ts';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import type { Envelope } from '../../src/bus/envelope.ts';
import { ListenerCore } from '../../src/bus/listener-core.ts';
import { Requester } from '../../src/bus/requester.ts';
import { createRootLogger } from '../../src/kernel/log.ts';
import { Runtime, ok, type Pid } from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/types.ts';
import { instrumentBus } from '../../src/node/metrics.ts';
import { Registry } from 'prom-client';

const URL = process.env.FIFE_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const SEQ = 1_500;
const WARM = 300;
const INFLIGHT = 50;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const logger = createRootLogger({ node: 'bench@localhost', level: 'warn' });
/** BENCH_METRICS=1: Fife's transports time their publishes as a node's do (src/node/metrics.ts). */
const METRICS = process.env.BENCH_METRICS === '1';
const instrumented = (...ts: BusTransport[]): void => {
  if (METRICS) for (const t of ts) instrumentBus(t, new Registry());
};

interface Figures {
  p50: number;
  p99: number;
  rps: number;
}

type RoundTrip = () => Promise<void>;

const request = (): Envelope => ({
  'Event-Category': 'directory',
  'Event-Name': 'authn_req',
  'App-Name': 'bench',
  'App-Version': '0.0.0',
  'Auth-Realm': 'sip.example.com',
  'Auth-User': 'user1000',
  Method: 'REGISTER',
});

async function measure(rt: RoundTrip): Promise<Figures> {
  for (let i = 0; i < WARM; i++) await rt();
  const lat: number[] = [];
  for (let i = 0; i < SEQ; i++) {
    const t0 = process.hrtime.bigint();
    await rt();
    lat.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  lat.sort((a, b) => a - b);
  let done = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (Date.now() < end) {
        await rt();
        done++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    p50: lat[Math.floor(lat.length * 0.5)],
    p99: lat[Math.floor(lat.length * 0.99)],
    rps: done / secs,
  };
}

/** Bare amqplib: request on a topic exchange, reply on a direct exchange keyed by the reply queue. */
async function bare(): Promise<{ rt: RoundTrip; close: () => Promise<void> }> {
  const x = `bench-bare-${randomBytes(3).toString('hex')}`;
  const replyX = `${x}-targeted`;
  const server = await amqp.connect(URL, { noDelay: true });
  const client = await amqp.connect(URL, { noDelay: true });
  const sch = await server.createChannel();
  await sch.assertExchange(x, 'topic', { durable: false, autoDelete: true });
  await sch.assertExchange(replyX, 'direct', { durable: false, autoDelete: true });
  const { queue: reqQ } = await sch.assertQueue('', { exclusive: true });
  await sch.bindQueue(reqQ, x, 'authn.req.*');
  await sch.consume(
    reqQ,
    (m) => {
      if (!m) return;
      const body = JSON.parse(m.content.toString()) as Envelope;
      const reply = { ...body, 'Event-Name': 'authn_resp', 'Auth-Password': 'x' };
      sch.publish(replyX, m.properties.replyTo as string, Buffer.from(JSON.stringify(reply)), {
        correlationId: m.properties.correlationId as string,
        contentType: 'application/json',
      });
    },
    { noAck: true },
  );
  const cch = await client.createChannel();
  const { queue: replyQ } = await cch.assertQueue('', { exclusive: true });
  await cch.bindQueue(replyQ, replyX, replyQ);
  const waiting = new Map<string, () => void>();
  await cch.consume(
    replyQ,
    (m) => {
      if (!m) return;
      JSON.parse(m.content.toString());
      const id = m.properties.correlationId as string;
      const w = waiting.get(id);
      waiting.delete(id);
      w?.();
    },
    { noAck: true },
  );
  let n = 0;
  const rt: RoundTrip = () =>
    new Promise<void>((resolve) => {
      const id = String(++n);
      waiting.set(id, resolve);
      cch.publish(x, 'authn.req.sip%2Eexample%2Ecom', Buffer.from(JSON.stringify(request())), {
        correlationId: id,
        replyTo: replyQ,
        contentType: 'application/json',
      });
    });
  return {
    rt,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** Fife: Requester on one transport, ListenerCore responder on another. */
async function fife(
  url: string,
  broker?: EmbeddedBroker,
): Promise<{ rt: RoundTrip; close: () => Promise<void> }> {
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const tReq = createTransport({ url, logger, embeddedBroker: broker, namePrefix: `${prefix}-req` });
  const tResp = createTransport({ url, logger, embeddedBroker: broker, namePrefix: `${prefix}-resp` });
  instrumented(tReq, tResp);
  await Promise.all([tReq.start(), tResp.start()]);
  const x = `${prefix}-callmgr`;
  const l = new ListenerCore({
    transport: tResp,
    logger,
    exchanges: [{ name: x, type: 'topic' }],
    bindings: [{ exchange: x, routingKey: 'authn.req.*' }],
    concurrency: 64,
    responders: [
      {
        category: 'directory',
        name: 'authn_req',
        handler: (m, ctx) => ctx.reply({ ...m, 'Event-Name': 'authn_resp', 'Auth-Password': 'x' }),
      },
    ],
  });
  await l.start();
  const r = new Requester({ transport: tReq, logger, timeoutMs: 10_000 });
  await r.start();
  const target = { exchange: x, routingKey: 'authn.req.sip%2Eexample%2Ecom' };
  const rt: RoundTrip = async () => {
    await r.call(request(), target);
  };
  return {
    rt,
    close: async () => {
      await r.stop();
      await l.stop();
      await tResp.deleteExchange(x).catch(() => undefined);
      await Promise.all([tReq.close(), tResp.close()]);
    },
  };
}

const CTX = { appName: 'bench', appVersion: '0.0.0', node: 'bench@localhost' };
const catalogueRequest = (): Envelope =>
  build(
    'authn_req',
    {
      'Auth-Realm': 'sip.example.com',
      'Auth-User': 'user1000',
      From: 'user1000@sip.example.com',
      To: 'user1000@sip.example.com',
      Method: 'REGISTER',
    },
    CTX,
  ) as Envelope;

/** Fife as apps use it: a gen_listener (catalogue-validated) answering with catalogue-built replies. */
async function fifeGenListener(
  url: string,
  broker?: EmbeddedBroker,
): Promise<{ rt: RoundTrip; close: () => Promise<void> }> {
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const tReq = createTransport({ url, logger, embeddedBroker: broker, namePrefix: `${prefix}-req` });
  const tResp = createTransport({ url, logger, embeddedBroker: broker, namePrefix: `${prefix}-resp` });
  instrumented(tReq, tResp);
  await Promise.all([tReq.start(), tResp.start()]);
  const runtime = new Runtime({ node: 'bench@localhost', logger });
  const Authn: GenListenerBehaviour<null> = {
    name: 'bench_authn',
    init: () => ok(null),
    listen: () => ({
      bindings: [{ exchange: 'callmgr', routingKey: 'authn.req.*' }],
      concurrency: 64,
      responders: [
        {
          category: 'directory',
          name: 'authn_req',
          handler: (m, ctx) =>
            ctx.reply(
              build(
                'authn_resp',
                { 'Msg-ID': m['Msg-ID'], 'Auth-Method': 'password', 'Auth-Password': 'x' },
                CTX,
              ) as Envelope,
            ),
        },
      ],
    }),
  };
  const started = await GenListener.start(runtime, Authn, undefined, { transport: tResp });
  if (started.type !== 'ok') throw new Error(`gen_listener did not start: ${JSON.stringify(started)}`);
  const pid: Pid = started.pid;
  const r = new Requester({ transport: tReq, logger, timeoutMs: 10_000 });
  await r.start();
  const target = { exchange: 'callmgr', routingKey: 'authn.req.sip%2Eexample%2Ecom' };
  const rt: RoundTrip = async () => {
    await r.call(catalogueRequest(), target);
  };
  return {
    rt,
    close: async () => {
      await r.stop();
      const exited = runtime.awaitExit(pid);
      runtime.exit(pid, 'shutdown');
      await exited;
      await runtime.shutdown();
      await Promise.all([tReq.close(), tResp.close()]);
    },
  };
}

function line(name: string, f: Figures, base?: Figures): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const ratio = base
    ? `  p50 ${(f.p50 / base.p50).toFixed(2)}x bare (target <= 1.3)  throughput ${(f.rps / base.rps).toFixed(2)}x bare (target >= 0.6)`
    : '';
  return `${pad(name, 40)} p50 ${f.p50.toFixed(0).padStart(5)} µs  p99 ${f.p99.toFixed(0).padStart(5)} µs  ${INFLIGHT} in flight: ${f.rps.toFixed(0).padStart(6)} rt/s${ratio}`;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function medianFigures(fs: Figures[]): Figures {
  return {
    p50: median(fs.map((f) => f.p50)),
    p99: median(fs.map((f) => f.p99)),
    rps: median(fs.map((f) => f.rps)),
  };
}

async function main(): Promise<void> {
  let rabbit = true;
  try {
    const c = await amqp.connect(URL, { noDelay: true, timeout: 2_000 });
    await c.close();
  } catch (err) {
    rabbit = false;
    process.stdout.write(`RabbitMQ not reachable (${(err as Error).message}): RabbitMQ figures skipped\n`);
  }
  process.stdout.write(
    `request/reply: ${ROUNDS} alternating rounds of ${SEQ} sequential round trips (after ${WARM} warm-up) and ${SECONDS}s with ${INFLIGHT} in flight; medians\n`,
  );
  if (rabbit) {
    const b = await bare();
    const f = await fife(URL);
    const g = await fifeGenListener(URL);
    const bares: Figures[] = [];
    const fifes: Figures[] = [];
    const gens: Figures[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bares.push(await measure(b.rt));
      fifes.push(await measure(f.rt));
      gens.push(await measure(g.rt));
    }
    await b.close();
    await f.close();
    await g.close();
    const base = medianFigures(bares);
    process.stdout.write(`${line('bare amqplib (RabbitMQ)', base)}\n`);
    process.stdout.write(`${line('fife listener+requester (RabbitMQ)', medianFigures(fifes), base)}\n`);
    process.stdout.write(`${line('fife gen_listener+catalogue (RabbitMQ)', medianFigures(gens), base)}\n`);
  }
  const broker = new EmbeddedBroker();
  const e = await fife('embedded', broker);
  const efs: Figures[] = [];
  for (let i = 0; i < ROUNDS; i++) efs.push(await measure(e.rt));
  await e.close();
  process.stdout.write(`${line('fife listener+requester (embedded)', medianFigures(efs))}\n`);
  const ge = await fifeGenListener('embedded', broker);
  const gefs: Figures[] = [];
  for (let i = 0; i < ROUNDS; i++) gefs.push(await measure(ge.rt));
  await ge.close();
  process.stdout.write(`${line('fife gen_listener+catalogue (embedded)', medianFigures(gefs))}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    logger.error({ err }, 'bench failed');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100);
  },
);
