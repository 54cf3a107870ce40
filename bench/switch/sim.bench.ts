/**
 * Bench: the switch simulator alone, driven over its event socket by a lean client in the
 * same process (so the figures include the client's cost, on this 2-core machine).
 *
 * 1. Call setups per second: create+park (control API) -> CHANNEL_PARK seen on the socket
 *    -> sendmsg answer (event-lock) -> its CHANNEL_EXECUTE_COMPLETE -> sendmsg hangup ->
 *    CHANNEL_DESTROY, with CONCURRENCY calls in flight, for CALLS calls. Prints calls/s and
 *    latency percentiles of park -> answered.
 *    Then the same loop through EslConnection (modesl underneath), the client ecallmgr
 *    uses, to show what the client library costs on top.
 * 2. Memory per concurrent call: HELD calls created, parked and answered over the socket
 *    and held; heap and RSS growth per call after a forced GC (run with --expose-gc, as
 *    bench/run.ts does).
 * Env: SIM_BENCH_CALLS (default 3000), SIM_BENCH_CONCURRENCY (50), SIM_BENCH_HELD (5000).
 */
import { connect, type Socket } from 'node:net';
import { createRootLogger } from '../../src/kernel/log.ts';
import { EslConnection } from '../../src/switch/esl-connection.ts';
import { EslParser, parseEventBody } from '../../src/switch/esl-parser.ts';
import { Switch } from '../../src/switch/switch.ts';

const CALLS = Number(process.env.SIM_BENCH_CALLS ?? 3000);
const CONCURRENCY = Number(process.env.SIM_BENCH_CONCURRENCY ?? 50);
const HELD = Number(process.env.SIM_BENCH_HELD ?? 5000);

type Waiter = (headers: Map<string, string>) => void;

/** A minimal ESL client: json events, waiters keyed by "<Event-Name>:<Unique-ID>". */
class BenchClient {
  private readonly parser = new EslParser({ mode: 'stream' });
  private readonly waiters = new Map<string, Waiter>();
  private replies: Array<() => void> = [];
  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.parser.push(chunk)) {
        const type = f.headers.find(([k]) => k === 'Content-Type')?.[1];
        if (type === 'command/reply' || type === 'api/response' || type === 'auth/request') {
          this.replies.shift()?.();
          continue;
        }
        const ev = parseEventBody(f);
        if (ev === undefined) continue;
        const h = new Map(ev.headers);
        const key = `${h.get('Event-Name')}:${h.get('Unique-ID')}`;
        const w = this.waiters.get(key);
        if (w !== undefined) {
          this.waiters.delete(key);
          w(h);
        }
      }
    });
  }

  static async open(port: number): Promise<BenchClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new BenchClient(socket);
    await c.command(''); // auth/request arrives first
    await c.command('auth ClueCon\n\n');
    await c.command('event json CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY\n\n');
    return c;
  }

  command(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.replies.push(resolve);
      if (text !== '') this.socket.write(text);
    });
  }

  /** Registers the waiter before anything can fire it. */
  expect(name: string, uuid: string): Promise<Map<string, string>> {
    return new Promise((resolve) => this.waiters.set(`${name}:${uuid}`, resolve));
  }

  sendmsg(uuid: string, headers: string): Promise<void> {
    return this.command(`sendmsg ${uuid}\n${headers}\n\n`);
  }

  close(): void {
    this.socket.destroy();
  }
}

const quiet = createRootLogger({ node: 'bench', level: 'warn', destination: { write: () => undefined } });
const pct = (xs: number[], p: number): number =>
  xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function oneCall(sw: Switch, c: BenchClient, latencies: number[]): Promise<void> {
  // The Unique-ID is only known once placeCall returns, and CHANNEL_PARK is emitted inside
  // it; the socket delivers it asynchronously, so registering right after is in time.
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await c.expect('CHANNEL_PARK', uuid);
  const t0 = performance.now();
  const answered = c.expect('CHANNEL_EXECUTE_COMPLETE', uuid);
  await c.sendmsg(uuid, 'call-command: execute\nexecute-app-name: answer\nevent-lock: true');
  await answered;
  latencies.push(performance.now() - t0);
  const destroyed = c.expect('CHANNEL_DESTROY', uuid);
  await c.sendmsg(uuid, 'call-command: hangup\nhangup-cause: NORMAL_CLEARING');
  await destroyed;
}

async function setupRate(): Promise<void> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const c = await BenchClient.open(sw.port);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        next++;
        await oneCall(sw, c, latencies);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `call setups (create+park -> answer via sendmsg -> hangup -> destroy): ${CALLS} calls, ${CONCURRENCY} in flight, ${secs.toFixed(2)} s => ${(CALLS / secs).toFixed(0)} calls/s\n`,
  );
  process.stdout.write(
    `  park -> answered latency ms: p50 ${pct(latencies, 50).toFixed(2)}  p90 ${pct(latencies, 90).toFixed(2)}  p99 ${pct(latencies, 99).toFixed(2)}  max ${pct(latencies, 100).toFixed(2)}\n`,
  );
  process.stdout.write(`  channels left: ${sw.channelCount}\n`);
  c.close();
  await sw.close();
}

async function setupRateViaEslConnection(): Promise<void> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const esl = new EslConnection({ port: sw.port, logger: quiet });
  await esl.start();
  await esl.subscribe(['CHANNEL_PARK', 'CHANNEL_DESTROY']);
  const waiters = new Map<string, () => void>();
  esl.on('event', (e) => {
    const key = `${e.name}:${e.uuid}`;
    const w = waiters.get(key);
    if (w !== undefined) {
      waiters.delete(key);
      w();
    }
  });
  const wait = (name: string, uuid: string): Promise<void> =>
    new Promise((r) => waiters.set(`${name}:${uuid}`, r));
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        next++;
        const uuid = sw.placeCall({ from: '1001', to: '2000' });
        await wait('CHANNEL_PARK', uuid);
        const t1 = performance.now();
        await esl.execute(uuid, 'answer', '', { eventLock: true });
        latencies.push(performance.now() - t1);
        const destroyed = wait('CHANNEL_DESTROY', uuid);
        await esl.hangup(uuid);
        await destroyed;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `same through EslConnection (modesl): ${CALLS} calls, ${CONCURRENCY} in flight, ${secs.toFixed(2)} s => ${(CALLS / secs).toFixed(0)} calls/s; park -> answered p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms\n`,
  );
  await esl.close();
  await sw.close();
}

async function memoryPerCall(): Promise<void> {
  const sw = await Switch.start({ port: 0, logger: quiet });
  const c = await BenchClient.open(sw.port);
  gc();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let i = 0; i < HELD; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, HELD - i) }, async () => {
        const uuid = sw.placeCall({ from: '1001', to: '2000', variables: { ecallmgr_Account_ID: 'bench' } });
        await c.expect('CHANNEL_PARK', uuid);
        const answered = c.expect('CHANNEL_EXECUTE_COMPLETE', uuid);
        await c.sendmsg(uuid, 'call-command: execute\nexecute-app-name: answer\nevent-lock: true');
        await answered;
      }),
    );
  }
  const held = sw.channelCount;
  gc();
  gc();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  process.stdout.write(
    `held calls (created, parked, answered over the socket): ${held} in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
  );
  process.stdout.write(
    `  heap per call: ${((heap1 - heap0) / held / 1024).toFixed(2)} KiB (heap +${((heap1 - heap0) / 1048576).toFixed(1)} MiB), rss per call: ${((rss1 - rss0) / held / 1024).toFixed(2)} KiB (rss +${((rss1 - rss0) / 1048576).toFixed(1)} MiB)${(globalThis as { gc?: unknown }).gc === undefined ? ' [no --expose-gc: figures include garbage]' : ''}\n`,
  );
  const t1 = performance.now();
  const c2 = await BenchClient.open(sw.port);
  await c2.command('api hupall NORMAL_CLEARING\n\n');
  await Promise.all([...sw.channels()].map((ch) => sw.whenDestroyed(ch.uuid)));
  process.stdout.write(
    `  hupall of ${held} calls to all destroyed: ${((performance.now() - t1) / 1000).toFixed(2)} s; channels left: ${sw.channelCount}\n`,
  );
  c.close();
  c2.close();
  await sw.close();
}

process.stdout.write(`switch simulator bench (node ${process.version}, pid ${process.pid})\n`);
await setupRate();
await setupRateViaEslConnection();
await memoryPerCall();
