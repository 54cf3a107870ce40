/**
 * crossbar bench (standalone; `npm run bench -- crossbar`). Prints:
 * 1. `GET /v2/accounts/{A}/users/{id}` requests per second and p50/p99 latency through
 *    crossbar (the same user read again and again: token check, account authorization,
 *    store read, envelope), beside a bare fastify server answering the same JSON body,
 *    in alternating rounds of the same run, same client and concurrency; the ratio
 *    crossbar / bare (target >= 0.5x). Each is also given per second of this process's
 *    CPU time (client included), the figure a machine shared with other work skews
 *    least; the ratio is given both ways.
 * 2. `PUT /v2/user_auth` logins per second and p99 (md5 credentials; each login looks the
 *    account up by name, the user by credentials, and signs a token).
 * Load comes from this process: a node:http keep-alive agent with BENCH_CONCURRENCY
 * requests in flight (default 16), each round BENCH_ROUND_MS long (default 1500), three
 * rounds each. Embedded store in a temp folder; no bus (devices' status is not read).
 * Figures are for comparing runs on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import Fastify from 'fastify';
import { Runtime, Supervisor, createRootLogger } from '../../src/kernel/index.ts';
import { EmbeddedStore, storeCacheTotals } from '../../src/store/index.ts';
import { crossbarTree } from '../../supervisors/crossbar.sup.ts';
import { crossbarUrl } from '../../apps/crossbar/http-server.ts';
import { addAccount } from '../../apps/registrar/provisioning.ts';
import { addUser } from '../../apps/crossbar/operators.ts';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const ROUNDS = 3;
const log = createRootLogger({ node: 'bench@localhost', level: process.env.BENCH_LOG_LEVEL ?? 'silent' });

interface Target {
  method: 'GET' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** The status every answer must have. */
  status: number;
}

interface Round {
  perS: number;
  /** Requests per second of this process's CPU time (client and server), which a busy machine skews less than wall time. */
  perCpuS: number;
  p50: number;
  p99: number;
}

/** One request on the keep-alive agent; resolves with its status once the body is read. */
function once(agent: Agent, t: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(t.url, { method: t.method, agent, headers: t.headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(t.body);
  });
}

/** CONCURRENCY loops sending `t` until ROUND_MS have passed; every answer's latency kept. */
async function round(t: Target): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  for (let i = 0; i < CONCURRENCY; i++) await once(agent, t); // connections open, paths warm
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + ROUND_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await once(agent, t);
        if (status !== t.status) throw new Error(`${t.method} ${t.url.pathname} answered ${status}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!;
  return {
    perS: (lat.length / ms) * 1000,
    perCpuS: (lat.length / cpuMs) * 1000,
    p50: at(0.5),
    p99: at(0.99),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const show = (label: string, rs: Round[]): string =>
  `  ${label.padEnd(34)} ${median(rs.map((r) => r.perS))
    .toFixed(0)
    .padStart(6)} req/s  ${median(rs.map((r) => r.perCpuS))
    .toFixed(0)
    .padStart(6)} req/CPU-s  p50 ${median(rs.map((r) => r.p50)).toFixed(2)} ms  p99 ${median(
    rs.map((r) => r.p99),
  ).toFixed(2)} ms`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fife-bench-crossbar-'));
  const store = new EmbeddedStore({ dir, logger: log });
  const rt = new Runtime({ node: 'bench@localhost', logger: log });
  const bare = Fastify({ logger: false });
  try {
    const sup = await Supervisor.start(
      rt,
      crossbarTree({ store, config: { settings: { crossbar: { port: 0 } } } }, {}),
    );
    if (sup.type !== 'ok') throw new Error('crossbar did not start');
    const base = crossbarUrl(rt)!;
    const accountId = await addAccount(store, { name: 'Bench', realm: 'bench.example.com' });
    const user = await addUser(store, {
      account: 'Bench',
      username: 'admin',
      password: 'secret',
      admin: true,
    });
    const json = { 'content-type': 'application/json' };
    const loginBody = JSON.stringify({
      data: { credentials: createHash('md5').update('admin:secret').digest('hex'), account_name: 'Bench' },
    });
    const login = (await (
      await fetch(`${base}/v2/user_auth`, { method: 'PUT', headers: json, body: loginBody })
    ).json()) as { auth_token: string };
    const path = `/v2/accounts/${accountId}/users/${user.id}`;
    const getUser: Target = {
      method: 'GET',
      url: new URL(`${base}${path}`),
      headers: { 'x-auth-token': login.auth_token },
      status: 200,
    };

    // The bare server answers the very body crossbar answers, with the same content type.
    const answer = await (await fetch(getUser.url, { headers: getUser.headers })).text();
    bare.get('/v2/accounts/:account/users/:user', async (_req, reply) =>
      reply.header('content-type', 'application/json').send(answer),
    );
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
    const getBare: Target = { ...getUser, url: new URL(`${bareUrl}${path}`) };

    console.log(
      `crossbar bench: concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${ROUND_MS} ms each (medians), body ${answer.length} bytes`,
    );
    const cbRounds: Round[] = [];
    const bareRounds: Round[] = [];
    let hits = 0;
    let misses = 0;
    for (let i = 0; i < ROUNDS; i++) {
      bareRounds.push(await round(getBare));
      const before = storeCacheTotals();
      cbRounds.push(await round(getUser));
      hits += storeCacheTotals().hits - before.hits;
      misses += storeCacheTotals().misses - before.misses;
    }
    console.log(show('bare fastify, same JSON', bareRounds));
    console.log(show('crossbar GET users/{id}', cbRounds));
    console.log(`  crossbar's document cache in those rounds: ${hits} hits, ${misses} misses`);
    const ratio = (f: (r: Round) => number): string =>
      (median(cbRounds.map(f)) / median(bareRounds.map(f))).toFixed(2);
    console.log(
      `  ratio crossbar / bare: ${ratio((r) => r.perCpuS)}x per CPU-second, ${ratio((r) => r.perS)}x per wall second (target >= 0.5x)`,
    );

    const auth: Target = {
      method: 'PUT',
      url: new URL(`${base}/v2/user_auth`),
      headers: json,
      body: loginBody,
      status: 201,
    };
    const authRounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) authRounds.push(await round(auth));
    console.log(show('crossbar PUT user_auth (logins)', authRounds));
  } finally {
    await bare.close();
    await rt.shutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
