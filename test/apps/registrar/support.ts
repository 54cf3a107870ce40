/**
 * A registrar as the tests drive it: a runtime, a bus transport (embedded broker of its
 * own, or RabbitMQ), a document store (embedded in a temp folder), the registrar tree
 * under a supervisor, and a Requester to talk to it the way Kamailio does.
 */
import { tmpDir } from '../../support/tmp-dirs.ts';
import { randomBytes } from 'node:crypto';
import { Runtime, Supervisor, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import {
  createTransport,
  EmbeddedBroker,
  Requester,
  type BusTransport,
  type Envelope,
} from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import {
  authnEndpointReqKey,
  authnReqKey,
  build,
  regQueryKey,
  regSuccessKey,
} from '../../../src/api/index.ts';
import { EmbeddedStore, type DocumentStore } from '../../../src/store/index.ts';
import { registrarTree } from '../../../supervisors/registrar.sup.ts';

export const CTX = { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@proxy.test' };

export interface Harness {
  rt: Runtime;
  bus: BusTransport;
  /** The embedded broker (undefined on RabbitMQ). */
  broker: EmbeddedBroker | undefined;
  store: DocumentStore;
  storeDir: string;
  req: Requester;
  sup: Pid;
  lines: Array<Record<string, unknown>>;
  queue: string;
  startRegistrar(): Promise<Pid>;
  stopRegistrar(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    storeDir?: string;
    busUrl?: string;
    store?: DocumentStore;
    /** Another harness's broker (embedded bus): two registrars on one bus. */
    broker?: EmbeddedBroker;
    /** The registrar's queue name; two harnesses given the same one share its work. */
    queue?: string;
    node?: string;
  } = {},
): Promise<Harness> {
  const node = opts.node ?? 'registrar-test@localhost';
  const { logger, lines } = memoryLogger(node, 'debug');
  const rt = new Runtime({ node, logger });
  const broker = opts.busUrl ? undefined : (opts.broker ?? new EmbeddedBroker());
  const bus = createTransport({
    url: opts.busUrl ?? 'embedded',
    logger,
    embeddedBroker: broker,
    namePrefix: `fife-reg-${randomBytes(3).toString('hex')}`,
  });
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  const storeDir = opts.storeDir ?? tmpDir('fife-registrar-');
  const store = opts.store ?? new EmbeddedStore({ dir: storeDir, logger });
  const queue = opts.queue ?? `registrar_listener_${randomBytes(4).toString('hex')}`;
  const req = new Requester({ transport: bus, logger, timeoutMs: 3000 });
  await req.start();
  let sup: Pid | undefined;
  const h: Harness = {
    rt,
    bus,
    broker,
    store,
    storeDir,
    req,
    lines,
    queue,
    get sup() {
      return sup!;
    },
    async startRegistrar() {
      const r = await Supervisor.start(
        rt,
        registrarTree({
          store,
          bus,
          config: { settings: { registrar: { queue, sweep_interval_ms: 3_600_000 } } },
        }),
      );
      if (r.type !== 'ok') throw new Error(`registrar failed to start: ${JSON.stringify(r)}`);
      sup = r.pid;
      return sup;
    },
    async stopRegistrar() {
      if (sup === undefined || !rt.isAlive(sup)) return;
      const exited = rt.awaitExit(sup);
      rt.exit(sup, 'shutdown');
      await exited;
    },
    async close() {
      await h.stopRegistrar();
      await req.stop();
      await rt.shutdown();
      await bus.deleteQueue(queue).catch(() => undefined);
      await bus.deleteQueue(`${queue}_reg_success`).catch(() => undefined);
      await bus.close();
      await store.close();
    },
  };
  return h;
}

export function authnReq(user: string, realm: string, extra: Record<string, unknown> = {}): Envelope {
  return build(
    'authn_req',
    {
      Method: 'REGISTER',
      'Auth-User': user,
      'Auth-Realm': realm,
      From: `sip:${user}@${realm}`,
      To: `sip:${user}@${realm}`,
      'Orig-IP': '127.0.0.1',
      'Orig-Port': '5070',
      ...extra,
    },
    CTX,
  ) as Envelope;
}

export function regSuccess(
  user: string,
  realm: string,
  contact: string,
  expires: number,
  extra: Record<string, unknown> = {},
): Envelope {
  return build(
    'reg_success',
    {
      Status: 'Registered',
      'Event-Timestamp': Math.floor(Date.now() / 1000),
      Expires: expires,
      'First-Registration': true,
      Contact: contact,
      'Call-ID': `reg-${user}-${randomBytes(3).toString('hex')}`,
      Realm: realm,
      Username: user,
      'From-User': user,
      'From-Host': realm,
      'To-User': user,
      'To-Host': realm,
      'User-Agent': 'SIPp/3.6',
      'Source-IP': '127.0.0.1',
      'Source-Port': '5070',
      ...extra,
    },
    CTX,
  ) as Envelope;
}

export const authnTarget = (realm: string) => ({ exchange: 'callmgr', routingKey: authnReqKey(realm) });
export const authnEndpointTarget = (realm: string) => ({
  exchange: 'registrar',
  routingKey: authnEndpointReqKey(realm),
});
export const regSuccessTarget = (realm: string, user: string) => ({
  exchange: 'registrar',
  routingKey: regSuccessKey(realm, user),
});
export const regQueryTarget = (realm: string, user: string) => ({
  exchange: 'registrar',
  routingKey: regQueryKey(realm, user),
});

/** Sends an authn_req the way Kamailio does and answers the first reply (authn_err included). */
export async function askAuthn(
  h: Harness,
  user: string,
  realm: string,
  target = authnTarget(realm),
): Promise<Envelope> {
  const r = await h.req.callCollect(authnReq(user, realm), target, {
    until: (rs) => rs.length > 0,
    timeoutMs: 3000,
    validate: () => true,
  });
  return r[0]!;
}

export async function query(
  h: Harness,
  realm: string,
  user: string,
  fields: string[] = [],
): Promise<Envelope> {
  const q = build(
    'reg_query',
    { Realm: realm, Username: user, Fields: fields.length > 0 ? fields : undefined },
    { appName: 'test', appVersion: '1', node: 'test@localhost' },
  ) as Envelope;
  const r = await h.req.callCollect(q, regQueryTarget(realm, user), {
    until: (rs) => rs.length > 0,
    timeoutMs: 3000,
    validate: () => true,
  });
  return r[0]!;
}

/** Publishes a reg_success and waits until the registrar has it in the database. */
export async function register(
  h: Harness,
  user: string,
  realm: string,
  contact: string,
  expires = 3600,
): Promise<void> {
  await h.bus.publish(
    'registrar',
    regSuccessKey(realm, user),
    JSON.stringify(regSuccess(user, realm, contact, expires)),
  );
}

/** Resolves once `cond()` holds, checking after each turn of the event loop (bounded). */
export async function until<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  limitMs = 5000,
): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const written = (h: Harness, id: string) =>
  until(
    () => h.lines.some((l) => l.msg === 'registration written' && l.id === id),
    `registration ${id} written`,
  );
