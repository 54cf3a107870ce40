/**
 * The callflow end-to-end setup: the ecallmgr harness (switch simulator, bus, ecallmgr,
 * a TestApp that records every call event but routes nothing), an embedded store, the
 * registrar and the callflow app in the same runtime, and an account made the way
 * `fife account add` / `fife device add` make it (realm acme.test):
 * - devices 1001 and 1002 (1002 registered: an endpoint on the simulator answering at once,
 *   and its reg_success given to the registrar, which ecallmgr's bridge asks);
 * - user `user2` owning devices u2a (not registered) and u2b (registered).
 * Phones register as in production: the simulator publishes their reg_success on the bus
 * (its `bus` option), the registrar stores them, and ecallmgr's bridge finds them with a
 * reg_query. `phone(user, script)` registers (or re-scripts) a phone and resolves once
 * the registrar answers a reg_query for it.
 * callflow runs on a bus connection of its own (`cfBus`, as on another node), the rest on `bus`.
 * `requester` is a bus Requester on the harness's bus (stopped by `close()`).
 * `putCallflow(id, numbers, flow, extra?)` writes a Kazoo callflow document (a new
 * revision when it exists); `call(to)` places a call from 1001 in the account's realm.
 */
import { randomBytes } from 'node:crypto';
import { Supervisor, Table, type Pid } from '../../../src/kernel/index.ts';
import { Requester, type Envelope, type RecoveringTransport } from '../../../src/bus/index.ts';
import { build, regQueryKey } from '../../../src/api/index.ts';
import type { PhoneScript } from '../../../src/switch/endpoints.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { EmbeddedStore, accountDbName, type DocumentStore } from '../../../src/store/index.ts';
import { addAccount, addDevice } from '../../../apps/registrar/provisioning.ts';
import { registrarTree } from '../../../supervisors/registrar.sup.ts';
import { callflowTree, CALLFLOW_SUP } from '../../../supervisors/callflow.sup.ts';
import { names } from '../../../apps/ecallmgr/context.ts';
import { exeName } from '../../../apps/callflow/exe.ts';
import { startHarness, type Harness } from '../ecallmgr/harness.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

export const REALM = 'acme.test';
const REG_CTX = { appName: 'callflow-test', appVersion: '1.0.0', node: 'callflow-test@localhost' };

export interface CfHarness extends Harness {
  store: DocumentStore;
  accountId: string;
  accountDb: string;
  devices: Record<string, string>;
  putCallflow(id: string, numbers: string[], flow: unknown, extra?: Record<string, unknown>): Promise<void>;
  call(to: string, from?: string): string;
  /** Registers `user` on the simulator with `script`; resolves once the registrar has it. */
  phone(user: string, script?: PhoneScript): Promise<void>;
  requester: Requester;
  /** callflow's own connection to the broker. */
  cfBus: RecoveringTransport;
  /** Resolves at the cache's log line for a dropped document `id` seen after `after` lines. */
  cacheDropped(id: string, after: number): Promise<void>;
}

/** `callCheckMs`: the executors' periodic check (exe.ts); the rest goes to the ecallmgr harness. */
export type CfHarnessOptions = Parameters<typeof startHarness>[0] & { callCheckMs?: number };

export async function startCfHarness(opts: CfHarnessOptions = {}): Promise<CfHarness> {
  const h = await startHarness({ phoneRealm: REALM, ...opts });
  h.app.route = 'none';
  const { logger } = memoryLogger('callflow-test-store@localhost', 'warn');
  const store = new EmbeddedStore({ dir: tmpDir('fife-callflow-'), logger });
  const accountId = await addAccount(store, { name: 'Acme', realm: REALM });
  const accountDb = accountDbName(accountId, 'encoded');
  const devices: Record<string, string> = {};
  for (const u of ['1001', '1002', 'u2a', 'u2b'])
    devices[u] = await addDevice(store, {
      realm: REALM,
      username: u,
      password: `pw-${u}`,
      ...(u.startsWith('u2') ? { ownerId: 'user2' } : {}),
    });
  await store.save(accountDb, { _id: 'user2', pvt_type: 'user', first_name: 'Two', username: 'two' });
  // The registrar's named queue, unique to this run (RabbitMQ keeps named queues).
  const regQueue = `registrar_listener_${randomBytes(4).toString('hex')}`;
  const cfBus = await h.connect('callflow');
  const started: Pid[] = [];
  for (const [spec, name] of [
    [
      registrarTree({ store, bus: h.bus, config: { settings: { registrar: { queue: regQueue } } } }),
      'registrar_sup',
    ],
    [
      callflowTree({ store, bus: cfBus, node: h.rt.node, settings: { callCheckMs: opts.callCheckMs } }),
      CALLFLOW_SUP,
    ],
  ] as const) {
    const r = await Supervisor.start(h.rt, spec, { name });
    if (r.type !== 'ok') throw new Error(`${name} failed to start: ${JSON.stringify(r)}`);
    started.push(r.pid);
  }
  const requester = new Requester({ transport: h.bus, logger: h.rt.log, timeoutMs: 2000 });
  await requester.start();
  const registered = async (user: string): Promise<boolean> => {
    const q = build('reg_query', { Realm: REALM, Username: user }, REG_CTX) as unknown as Envelope;
    const r = await requester.call(
      q,
      { exchange: 'registrar', routingKey: regQueryKey(REALM, user) },
      { validate: () => true },
    );
    return r['Event-Name'] === 'reg_query_resp';
  };
  async function phone(user: string, script: PhoneScript = {}): Promise<void> {
    h.sw.registerEndpoint(user, script);
    // The registrar has the contact once reg_server has read the reg_success.
    for (let i = 0; i < 300; i++) {
      if (await registered(user)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${user}@${REALM}: registration never found by reg_query`);
  }
  await phone('1002');
  await phone('u2b');
  const close = h.close.bind(h);
  const cf: CfHarness = Object.assign(h, {
    store,
    accountId,
    accountDb,
    devices,
    requester,
    cfBus,
    async putCallflow(id: string, numbers: string[], flow: unknown, extra: Record<string, unknown> = {}) {
      const old = await store.get(accountDb, id).catch(() => undefined);
      await store.save(accountDb, {
        _id: id,
        ...(old === undefined ? {} : { _rev: old._rev }),
        pvt_type: 'callflow',
        numbers,
        flow,
        ...extra,
      });
    },
    phone,
    call(to: string, from = '1001') {
      return h.sw.placeCall({ from, to, variables: { sip_from_host: REALM } });
    },
    async cacheDropped(id: string, after: number) {
      await waitLine(h, after, (l) => l.msg === 'callflow cache: entries dropped' && l.id === id);
    },
    async close() {
      await requester.stop();
      for (const pid of started.reverse()) {
        const exited = h.rt.awaitExit(pid);
        h.rt.exit(pid, 'shutdown');
        await exited;
      }
      await h.bus.deleteQueue(regQueue).catch(() => undefined);
      await h.bus.deleteQueue(`${regQueue}_reg_success`).catch(() => undefined);
      await close();
      await store.close();
    },
  });
  return cf;
}

/** Waits for a log line (in h.lines, from index `after`) matching `pred`. */
export async function waitLine(
  h: Harness,
  after: number,
  pred: (l: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 3000; i++) {
    const found = h.lines.slice(after).find(pred);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('timed out waiting for a log line');
}

/** Waits for the call's CHANNEL_DESTROY, then until its processes (ecallmgr's call_control
 *  and call_events, the executor, and the call's supervisor, seen by its table) are all gone. */
export async function callProcessesGone(h: CfHarness, callId: string): Promise<void> {
  await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
  const gone = (): boolean =>
    [names.control(callId), names.events(callId), exeName(callId)].every(
      (n) => h.rt.whereis(n) === undefined,
    ) && Table.whereis(h.rt, names.callTable(callId)) === undefined;
  if (!gone()) await h.rt.events.waitFor('exit', gone);
}
