/**
 * One ecallmgr test setup: the switch simulator on an ephemeral loopback port, a bus
 * (embedded broker, or RabbitMQ when a URL is given), ecallmgr's tree against both, the
 * node's cluster view (src/node/nodes.ts: it advertises the switch in Media-Servers when
 * ecallmgr reports it up or down), and a TestApp controlling calls from the bus. `close()`
 * stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import { Runtime, Supervisor, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, EmbeddedBroker, type RecoveringTransport } from '../../../src/bus/index.ts';
import { busExchangeSpecs } from '../../../src/api/bus-adapters.ts';
import { Switch, type SwitchEvent, type SwitchOptions } from '../../../src/switch/index.ts';
import { ecallmgrTree, ECALLMGR_SUP } from '../../../supervisors/ecallmgr.sup.ts';
import { ecallmgrSettings } from '../../../apps/ecallmgr/config.ts';
import { names } from '../../../apps/ecallmgr/context.ts';
import { nodesChildSpec } from '../../../src/node/nodes.ts';
import { TestApp } from './test-app.ts';

export const SWITCH = 'fs1';

export interface Harness {
  sw: Switch;
  bus: RecoveringTransport;
  /** Another connection to the same broker (another node's, e.g. callflow's); closed by `close()`. */
  connect(name: string): Promise<RecoveringTransport>;
  rt: Runtime;
  app: TestApp;
  sup: Pid;
  lines: Array<Record<string, unknown>>;
  /** Every switch event, in order. */
  switchEvents: SwitchEvent[];
  /** Applications the switch started on `uuid`, in order (CHANNEL_EXECUTE), with their data. */
  executed(uuid: string): string[];
  /** Places a call and waits until ecallmgr routed it to the test app: its control queue. */
  placeRoutedCall(from?: string, to?: string): Promise<{ callId: string; ctl: string }>;
  waitNode(status: 'up' | 'down', after?: number): Promise<void>;
  /** The first switch event matching `pred`, recorded or to come. */
  waitSwitch(pred: (e: SwitchEvent) => boolean, what?: string): Promise<SwitchEvent>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    amqpUrl?: string;
    settings?: Record<string, unknown>;
    backoff?: { initialMs: number; maxMs: number };
    /** Phones registered on the simulator publish reg_success in this realm. */
    phoneRealm?: string;
    /** Log level of the memory logger (default ECM_TEST_LOG, else info). */
    logLevel?: string;
    /** false: once the switch is up, switch events and bus messages are no longer kept
     * (switchEvents, app.seen; waits see only what comes after them), for benches. */
    record?: boolean;
    /** More simulator options (authCalls, registration realm, ...). */
    switchOptions?: Partial<SwitchOptions>;
  } = {},
): Promise<Harness> {
  const { logger, lines } = memoryLogger(
    'ecallmgr-test@localhost',
    opts.logLevel ?? process.env.ECM_TEST_LOG ?? 'info',
  );
  const prefix = `fife-ecm-${randomBytes(3).toString('hex')}`;
  const broker = opts.amqpUrl === undefined ? new EmbeddedBroker() : undefined;
  const others: RecoveringTransport[] = [];
  const newTransport = (name: string): RecoveringTransport =>
    createTransport({
      url: opts.amqpUrl ?? 'embedded',
      logger,
      embeddedBroker: broker,
      namePrefix: `${prefix}-${name}`,
      backoff: { initialMs: 20, maxMs: 500, factor: 2, jitter: 0.2 },
    });
  const bus = newTransport('ecallmgr');
  await bus.start();
  await bus.assertExchanges(busExchangeSpecs().map((e) => ({ name: e.name, type: e.type })));
  // With `phoneRealm`, the simulator's phones register on the bus (reg_success), as
  // Kamailio announces a SIP phone's REGISTER to the registrar.
  const sw = await Switch.start({
    port: 0,
    logger,
    media: { playbackMs: 30 },
    ...(opts.phoneRealm === undefined ? {} : { bus, registration: { realm: opts.phoneRealm } }),
    ...opts.switchOptions,
  });
  const switchEvents: SwitchEvent[] = [];
  let recording = true;
  const waiters = new Set<(e: SwitchEvent) => void>();
  sw.onEvent((e) => {
    if (recording) switchEvents.push(e);
    for (const w of [...waiters]) w(e);
  });
  const rt = new Runtime({ node: `${prefix}@localhost`, logger });
  const app = await new TestApp(bus, logger).start();
  const settings = ecallmgrSettings(
    {
      switches: [{ host: '127.0.0.1', port: sw.port, name: SWITCH }],
      keepAliveMs: 50,
      originateReadyMs: 1500,
      fetchTimeoutMs: 1500,
      ...opts.settings,
    },
    {},
  );
  // The cluster view, as a node runs it; its own heartbeats only at start (60 s period), so
  // every later advertise the test sees is a switch change.
  const view = await Supervisor.start(rt, {
    flags: { strategy: 'one_for_one', intensity: 1, period: 5 },
    children: [
      nodesChildSpec({ transport: bus, heartbeatMs: 60_000, version: 'test', startedAt: Date.now() }),
    ],
  });
  if (view.type !== 'ok') throw new Error(`cluster view failed to start: ${JSON.stringify(view)}`);
  const started = await Supervisor.start(
    rt,
    ecallmgrTree(
      { bus, node: rt.node, settings },
      { backoff: opts.backoff ?? { initialMs: 20, maxMs: 200 } },
    ),
    { name: ECALLMGR_SUP },
  );
  if (started.type !== 'ok') throw new Error(`ecallmgr tree failed to start: ${JSON.stringify(started)}`);
  const h: Harness = {
    sw,
    bus,
    async connect(name) {
      const t = newTransport(name);
      await t.start();
      others.push(t);
      return t;
    },
    rt,
    app,
    sup: started.pid,
    lines,
    switchEvents,
    executed: (uuid) =>
      switchEvents
        .filter((e) => e.uuid === uuid && e.name === 'CHANNEL_EXECUTE')
        .map((e) => {
          const get = (k: string): string => e.headers.find(([n]) => n === k)?.[1] ?? '';
          return `${get('Application')}${get('Application-Data') === '' ? '' : ` ${get('Application-Data')}`}`;
        }),
    async placeRoutedCall(from = '1001', to = '2000') {
      const callId = sw.placeCall({
        from,
        to,
        variables: { sip_from_host: 'example.com', 'ecallmgr_Account-ID': 'acct1' },
      });
      const ctl = await app.routeWin(callId);
      return { callId, ctl };
    },
    async waitNode(status, after = 0) {
      await app.waitFor(
        (m) =>
          m['Event-Category'] === 'nodes' &&
          app.seen.indexOf(m) >= after &&
          SWITCH in ((m['Media-Servers'] ?? {}) as object) === (status === 'up'),
        `switch ${status}`,
      );
    },
    waitSwitch(pred, what = 'a switch event') {
      const found = switchEvents.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out waiting for ${what}`));
        }, 15_000);
        const w = (e: SwitchEvent): void => {
          if (!pred(e)) return;
          clearTimeout(timer);
          waiters.delete(w);
          resolve(e);
        };
        waiters.add(w);
      });
    },
    async close() {
      const exited = rt.awaitExit(started.pid);
      rt.exit(started.pid, 'shutdown');
      await exited;
      const viewExited = rt.awaitExit(view.pid);
      rt.exit(view.pid, 'shutdown');
      await viewExited;
      await app.stop();
      await rt.shutdown();
      for (const t of others) await t.close();
      await bus.close();
      await sw.close();
    },
  };
  await h.waitNode('up');
  if (opts.record === false) {
    recording = app.record = false;
    switchEvents.length = app.seen.length = 0;
  }
  return h;
}

export const controlPid = (h: Harness, callId: string): Pid | undefined =>
  h.rt.whereis(names.control(callId));
export const eventsPid = (h: Harness, callId: string): Pid | undefined => h.rt.whereis(names.events(callId));

export const header = (e: SwitchEvent, k: string): string | undefined =>
  e.headers.find(([n]) => n === k)?.[1];
