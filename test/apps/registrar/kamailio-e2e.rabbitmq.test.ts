/**
 * End to end, as operators would run it: the registrar node (`fife start`, its own
 * process) on RabbitMQ, a real Kamailio with its kazoo module and Fife's config, and
 * SIPp phones registering with digest auth. In the middle of the run the registrar is
 * killed (SIGKILL) and started again: no registration is lost, every phone gets its 200.
 * The proxy asks once per REGISTER; the registrar runs with authn_ack, so the queries the
 * killed node held go back to the queue and the restarted node answers them.
 * Runs in its own RabbitMQ vhost when rabbitmqctl can make one (so concurrent RabbitMQ
 * suites never see its `authn.req.*` binding). Under FIFE_REQUIRE_SERVICES=1 a missing
 * Kamailio, SIPp or RabbitMQ fails the suite.
 */
import { tmpDir } from '../../support/tmp-dirs.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import amqp from 'amqplib';
import { startFife, type FifeProcess } from '../../support/fife-process.ts';
import { serviceGate } from '../../support/services.ts';
import { kamailioProbe, startKamailio, type Kamailio } from '../../support/kamailio.ts';
import { runSipp, type SippUser } from '../../support/sipp.ts';
import { isolatedAmqpUrl } from '../../support/rabbitmq-vhost.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport } from '../../../src/bus/index.ts';
import { accountDbName, EmbeddedStore } from '../../../src/store/index.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { query } from './support.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIFE = join(ROOT, 'bin/fife.js');
const SCENARIOS = join(import.meta.dirname, 'sipp');
const VHOST = 'fife-registrar-e2e';
const N = 150;
const REALM = 'e2e.fife.test';

const amqpUrl = isolatedAmqpUrl(VHOST);
const gate = await serviceGate('Kamailio + SIPp + RabbitMQ', async () => {
  await kamailioProbe();
  const c = await amqp.connect(amqpUrl, { timeout: 3000 });
  await c.close();
});

type NodeProc = FifeProcess;
const startRegistrarNode = startFife;

describe.skipIf(!gate.available)('registrar with Kamailio and SIPp on RabbitMQ', () => {
  const dataDir = tmpDir('fife-e2e-');
  const storeDir = join(dataDir, 'store');
  const queue = `registrar_e2e_${randomBytes(4).toString('hex')}`;
  const configFile = join(dataDir, 'fife.json');
  const env = { ...process.env, FIFE_CONFIG: configFile, FIFE_DATA_DIR: dataDir, FIFE_NODE: 'registrar-e2e@localhost', FIFE_APPS: 'registrar', FIFE_BUS_URL: amqpUrl, FIFE_STORE_URL: storeDir, FIFE_LOG_LEVEL: 'debug' };
  const users: SippUser[] = Array.from({ length: N }, (_, i) => ({ user: `phone${i}`, realm: REALM, password: `pw-${i}-${randomBytes(3).toString('hex')}` }));
  let kamailio: Kamailio | undefined;
  let node: NodeProc | undefined;
  let accountId = '';

  beforeAll(async () => {
    // The proxy asks once (as a stock Kazoo proxy): a query in flight in the registrar that is
    // killed must not be lost, so authn_req is acked once answered (authn_ack) and the
    // restarted registrar answers it, within the proxy's timeout.
    writeFileSync(configFile, JSON.stringify({ settings: { registrar: { queue, authn_ack: true } } }));
    // the operator's command (its own process; EmbeddedStore.close() leaves view indexes locked in this one)
    accountId = spawnSync(process.execPath, [FIFE, 'account', 'add', '--name', 'E2E', '--realm', REALM], { env, encoding: 'utf8' }).stdout.trim();
    expect(accountId).toMatch(/^[0-9a-f]{32}$/);
    const { logger } = memoryLogger();
    const store = new EmbeddedStore({ dir: storeDir, logger });
    const db = accountDbName(accountId);
    // written straight into the store, a third of them keeping only the A1 hash
    await store.bulkSave(db, users.map((u, i) => ({
      _id: `dev${i}`, pvt_type: 'device', enabled: true, owner_id: `owner${i}`,
      sip: i % 3 === 0 ? { username: u.user, a1_hash: createHash('md5').update(`${u.user}:${REALM}:${u.password}`).digest('hex') } : { username: u.user, password: u.password },
    })));
    await store.close();
    node = await startRegistrarNode(env);
    kamailio = await startKamailio({ amqpUrl, queryTimeoutS: 10 });
  }, 90_000);

  afterAll(async () => {
    await kamailio?.stop();
    if (node && node.child.exitCode === null) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    const c = await amqp.connect(amqpUrl).catch(() => undefined);
    if (c) {
      const ch = await c.createChannel();
      await ch.deleteQueue(queue).catch(() => undefined);
      await ch.deleteQueue(`${queue}_reg_success`).catch(() => undefined);
      await c.close().catch(() => undefined);
    }
  });

  it('N phones register through Kamailio (a registrar killed and restarted mid-run loses none); wrong password 403; all visible to reg_query and in the database', async () => {
    const target = `127.0.0.1:${kamailio!.port}`;
    const run = runSipp({ target, scenario: join(SCENARIOS, 'register.xml'), users, rate: 50, timeoutMs: 60_000 });
    const first = node!;
    const written = () => first.lines.filter((l) => l.msg === 'registration written').length;
    while (written() < N / 3 && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const writtenBeforeKill = written();
    first.child.kill('SIGKILL');
    await first.exited;
    node = await startRegistrarNode(env);
    const primed = node.lines.find((l) => l.msg === 'registrar: registrations primed from the database');
    expect(primed?.loaded as number).toBeGreaterThanOrEqual(writtenBeforeKill);
    const sipp = await run;
    expect(writtenBeforeKill).toBeLessThan(N);
    expect(node.lines.filter((l) => l.msg === 'registration written').length).toBeGreaterThan(0);
    expect(sipp.failed, sipp.output).toBe(0);
    expect(sipp.successful).toBe(N);
    expect(sipp.code).toBe(0);

    const refused = await runSipp({ target, scenario: join(SCENARIOS, 'register-refused.xml'), users: [{ user: 'phone1', realm: REALM, password: 'wrong' }, { user: 'nobody', realm: REALM, password: 'x' }], rate: 10 });
    expect(refused.successful, refused.output).toBe(2);

    const { logger } = memoryLogger();
    const bus: BusTransport = createTransport({ url: amqpUrl, logger });
    await bus.start();
    const req = new Requester({ transport: bus, logger, timeoutMs: 3000 });
    await req.start();
    try {
      const h = { req } as Parameters<typeof query>[0];
      for (const u of users) {
        const r = await query(h, REALM, u.user, ['Contact', 'Username', 'Custom-Channel-Vars']);
        expect(r['Event-Name'], u.user).toBe('reg_query_resp');
        const f = (r.Fields as Array<Record<string, unknown>>)[0]!;
        expect(f.Contact).toMatch(new RegExp(`^<sip:${u.user}@127\\.0\\.0\\.1:\\d+>`));
        expect(f['Custom-Channel-Vars']).toMatchObject({ 'Account-ID': accountId, 'Authorizing-ID': `dev${u.user.slice(5)}` });
      }
    } finally {
      await req.stop();
      await bus.close();
    }

    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    const { logger: l2 } = memoryLogger();
    const store = new EmbeddedStore({ dir: storeDir, logger: l2 });
    try {
      const docs = (await store.allDocs(REGISTRATIONS_DB, { includeDocs: true })).rows.map((r) => r.doc!).filter((d) => d.pvt_type === 'registration');
      expect(docs.map((d) => d.Username).sort()).toEqual(users.map((u) => u.user).sort());
    } finally {
      await store.close();
    }
  }, 120_000);
});
