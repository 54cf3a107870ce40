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
 *
 * Then the same node with crossbar: a device created over the REST API registers at once
 * (no restart, no waiting for a cache), and after its password is changed over the API the
 * old one is refused and the new one accepted on the very next REGISTERs.
 */
import { tmpDir } from '../../support/tmp-dirs.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { startFife, FIFE_BIN, type FifeProcess } from '../../support/fife-process.ts';
import { freePort } from '../crossbar/support.ts';
import { serviceGate } from '../../support/services.ts';
import { kamailioProbe, startKamailio, type Kamailio } from '../../support/kamailio.ts';
import { runSipp, type SippUser } from '../../support/sipp.ts';
import { isolatedAmqpUrl } from '../../support/rabbitmq-vhost.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, Requester, type BusTransport } from '../../../src/bus/index.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { query } from './support.ts';
import { provision, stopE2E } from '../../support/registrar-e2e.ts';

const execFileP = promisify(execFile);
const SCENARIOS = join(import.meta.dirname, 'sipp');
const VHOST = 'fife-registrar-e2e';
const N = 150;
const LATE = 30;
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
  const env = {
    ...process.env,
    FIFE_CONFIG: configFile,
    FIFE_DATA_DIR: dataDir,
    FIFE_NODE: 'registrar-e2e@localhost',
    FIFE_APPS: 'registrar',
    FIFE_BUS_URL: amqpUrl,
    FIFE_STORE_URL: storeDir,
    FIFE_LOG_LEVEL: 'debug',
  };
  const phones: SippUser[] = Array.from({ length: N + LATE }, (_, i) => ({
    user: `phone${i}`,
    realm: REALM,
    password: `pw-${i}-${randomBytes(3).toString('hex')}`,
  }));
  // the first run's phones, and phones that first register while the registrar is down
  const users = phones.slice(0, N);
  const lateUsers = phones.slice(N);
  let kamailio: Kamailio | undefined;
  let node: NodeProc | undefined;
  let accountId = '';

  beforeAll(async () => {
    // The proxy asks once (as a stock Kazoo proxy): a query in flight in the registrar that is
    // killed must not be lost, so authn_req is acked once answered (authn_ack) and the
    // restarted registrar answers it, within the proxy's timeout.
    writeFileSync(configFile, JSON.stringify({ settings: { registrar: { queue, authn_ack: true } } }));
    // the operator's command makes the account; a third of the devices keep only the A1 hash
    accountId = await provision(env, storeDir, REALM, phones, 3);
    node = await startRegistrarNode(env);
    kamailio = await startKamailio({ amqpUrl, queryTimeoutS: 10 });
  }, 90_000);

  afterAll(() => stopE2E(kamailio, node, amqpUrl, queue));

  it('N phones register through Kamailio (a registrar killed and restarted mid-run loses none); wrong password 403; all visible to reg_query and in the database', async () => {
    const target = `127.0.0.1:${kamailio!.port}`;
    const run = runSipp({
      target,
      scenario: join(SCENARIOS, 'register.xml'),
      users,
      rate: 50,
      timeoutMs: 60_000,
    });
    const first = node!;
    const written = () => first.lines.filter((l) => l.msg === 'registration written').length;
    while (written() < N / 3 && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const writtenBeforeKill = written();
    first.child.kill('SIGKILL');
    await first.exited;
    // Phones that register while no registrar runs (the node's log lines can lag behind its
    // work, so the first run may have been served whole before the kill): the restarted
    // registrar must answer them from the queue, within the proxy's timeout.
    const late = runSipp({
      target,
      scenario: join(SCENARIOS, 'register.xml'),
      users: lateUsers,
      rate: 50,
      timeoutMs: 60_000,
    });
    node = await startRegistrarNode(env);
    const primed = node.lines.find((l) => l.msg === 'registrar: registrations primed from the database');
    expect(primed?.loaded as number).toBeGreaterThanOrEqual(writtenBeforeKill);
    const [sipp, sippLate] = await Promise.all([run, late]);
    expect(writtenBeforeKill).toBeLessThan(N);
    expect(sippLate.failed, sippLate.output).toBe(0);
    expect(sippLate.successful).toBe(lateUsers.length);
    expect(sipp.failed, sipp.output).toBe(0);
    expect(sipp.successful).toBe(N);
    expect(sipp.code).toBe(0);

    const refused = await runSipp({
      target,
      scenario: join(SCENARIOS, 'register-refused.xml'),
      users: [
        { user: 'phone1', realm: REALM, password: 'wrong' },
        { user: 'nobody', realm: REALM, password: 'x' },
      ],
      rate: 10,
    });
    expect(refused.successful, refused.output).toBe(2);

    const { logger } = memoryLogger();
    const bus: BusTransport = createTransport({ url: amqpUrl, logger });
    await bus.start();
    const req = new Requester({ transport: bus, logger, timeoutMs: 3000 });
    await req.start();
    try {
      const h = { req } as Parameters<typeof query>[0];
      // the late phones too: only the restarted registrar can have recorded them
      for (const u of phones) {
        const r = await query(h, REALM, u.user, ['Contact', 'Username', 'Custom-Channel-Vars']);
        expect(r['Event-Name'], u.user).toBe('reg_query_resp');
        const f = (r.Fields as Array<Record<string, unknown>>)[0]!;
        expect(f.Contact).toMatch(new RegExp(`^<sip:${u.user}@127\\.0\\.0\\.1:\\d+>`));
        expect(f['Custom-Channel-Vars']).toMatchObject({
          'Account-ID': accountId,
          'Authorizing-ID': `dev${u.user.slice(5)}`,
        });
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
      const docs = (await store.allDocs(REGISTRATIONS_DB, { includeDocs: true })).rows
        .map((r) => r.doc!)
        .filter((d) => d.pvt_type === 'registration');
      expect(docs.map((d) => d.Username).sort()).toEqual(phones.map((u) => u.user).sort());
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a device created over the REST API registers through Kamailio at once; its password changed over the API is refused / accepted on the next REGISTER', async () => {
    if (node !== undefined && node.child.exitCode === null) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    const apiPort = await freePort();
    const apiEnv = { ...env, FIFE_APPS: 'registrar,crossbar', FIFE_CROSSBAR_PORT: String(apiPort) };
    node = await startRegistrarNode(apiEnv);
    await execFileP(
      process.execPath,
      [FIFE_BIN, 'user', 'add', '--account', 'E2E', '--username', 'admin', '--password', 'secret', '--admin'],
      { env: apiEnv },
    );
    const api = `http://127.0.0.1:${apiPort}/v2`;
    const login = await fetch(`${api}/user_auth`, {
      method: 'PUT',
      body: JSON.stringify({
        data: { credentials: createHash('md5').update('admin:secret').digest('hex'), account_name: 'E2E' },
      }),
    });
    expect(login.status).toBe(201);
    const token = ((await login.json()) as { auth_token: string }).auth_token;
    const headers = { 'x-auth-token': token };
    const devices = `${api}/accounts/${accountId}/devices`;
    const target = `127.0.0.1:${kamailio!.port}`;
    const register = (user: SippUser, scenario: 'register.xml' | 'register-refused.xml') =>
      runSipp({ target, scenario: join(SCENARIOS, scenario), users: [user], rate: 10, timeoutMs: 20_000 });

    const created = await fetch(devices, {
      method: 'PUT',
      headers,
      body: JSON.stringify({
        data: { name: 'API phone', sip: { username: 'apiphone', password: 'first-pw' } },
      }),
    });
    expect(created.status).toBe(201);
    const deviceId = ((await created.json()) as { data: { id: string } }).data.id;
    const first = { user: 'apiphone', realm: REALM, password: 'first-pw' };
    const registered = await register(first, 'register.xml');
    expect(registered.successful, registered.output).toBe(1);

    const changed = await fetch(`${devices}/${deviceId}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ data: { sip: { password: 'second-pw' } } }),
    });
    expect(changed.status).toBe(200);
    const old = await register(first, 'register-refused.xml');
    expect(old.successful, `the old password must be refused: ${old.output}`).toBe(1);
    const renewed = await register({ ...first, password: 'second-pw' }, 'register.xml');
    expect(renewed.successful, renewed.output).toBe(1);
  }, 90_000);
});
