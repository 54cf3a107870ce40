/**
 * The registrar beside an ecallmgr harness, as a node runs both: the real registrar tree
 * (apps/registrar) on the harness's runtime and bus, with an embedded store in a temp
 * folder. `register(user, realm, behaviour)` makes a device: the simulator gets the
 * endpoint (what it does when rung), and the registrar gets the device's registration
 * the way Kamailio announces it (reg_success); it resolves once a reg_query finds it.
 * `close()` stops the registrar and removes its queues.
 */
import { randomBytes } from 'node:crypto';
import { Requester, type BusTransport, type Envelope } from '../../../src/bus/index.ts';
import { build, regQueryKey, regSuccessKey } from '../../../src/api/index.ts';
import { Supervisor } from '../../../src/kernel/index.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import type { DeviceBehaviour } from '../../../src/switch/endpoints.ts';
import { registrarTree } from '../../../supervisors/registrar.sup.ts';
import { regSuccess } from '../registrar/support.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import type { Harness } from './harness.ts';

const KAMAILIO = { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@proxy.test' };

export interface RegistrarSide {
  /** The registrar's store (accounts and devices: apps/registrar/provisioning.ts). */
  readonly store: EmbeddedStore;
  register(user: string, realm: string, behaviour?: DeviceBehaviour): Promise<void>;
  close(): Promise<void>;
}

export async function startRegistrar(h: Harness): Promise<RegistrarSide> {
  const logger = h.rt.log;
  const store = new EmbeddedStore({ dir: tmpDir('fife-ecm-reg-'), logger });
  const queue = `registrar_listener_${randomBytes(4).toString('hex')}`;
  const started = await Supervisor.start(
    h.rt,
    registrarTree({
      store,
      bus: h.bus,
      config: { settings: { registrar: { queue, sweep_interval_ms: 3_600_000 } } },
    }),
  );
  if (started.type !== 'ok') throw new Error(`registrar failed to start: ${JSON.stringify(started)}`);
  const req = new Requester({ transport: h.bus, logger, timeoutMs: 2000 });
  await req.start();

  return {
    store,
    async register(user, realm, behaviour = {}) {
      h.sw.registerEndpoint(user, behaviour);
      await announceRegistration(h.bus, req, user, realm);
    },
    async close() {
      await req.stop();
      const exited = h.rt.awaitExit(started.pid);
      h.rt.exit(started.pid, 'shutdown');
      await exited;
      await h.bus.deleteQueue(queue).catch(() => undefined);
      await h.bus.deleteQueue(`${queue}_reg_success`).catch(() => undefined);
      await store.close();
    },
  };
}

/**
 * What Kamailio tells the registrar when `user`@`realm` registers (a reg_success with a
 * Contact on the simulator's side); resolves once a reg_query through `req` finds it.
 */
export async function announceRegistration(
  bus: BusTransport,
  req: Requester,
  user: string,
  realm: string,
): Promise<void> {
  const msg = regSuccess(user, realm, `<sip:${user}@127.0.0.1:5070;transport=udp>;expires=3600`, 3600, {
    'User-Agent': 'test phone',
  });
  await bus.publish('registrar', regSuccessKey(realm, user), JSON.stringify(msg));
  const registered = async (): Promise<boolean> => {
    const q = build('reg_query', { Realm: realm, Username: user }, KAMAILIO) as unknown as Envelope;
    const r = await req.call(
      q,
      { exchange: 'registrar', routingKey: regQueryKey(realm, user) },
      { validate: () => true },
    );
    return r['Event-Name'] === 'reg_query_resp';
  };
  // The registration is in the registrar's tables once reg_server has read it.
  for (let i = 0; i < 200; i++) {
    if (await registered()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`registration of ${user}@${realm} never found by reg_query`);
}
