/**
 * Reconnect under broker-side faults (RabbitMQ only): while a listener consumes, its
 * connection is closed by the broker (rabbitmqctl close_connection), and separately the
 * broker app is stopped and started. The listener must come back with the same queue
 * name, re-bound, and receive every confirmed message published after its recovery.
 * The broker app is always started again (finally) and awaited before the test goes on.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { createTransport } from '../../../src/bus/create-transport.ts';
import { encodeJson } from '../../../src/bus/envelope.ts';
import { ListenerCore } from '../../../src/bus/listener-core.ts';
import type { RecoveringTransport } from '../../../src/bus/recovering-transport.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { FAST_BACKOFF } from '../support/bus-env.ts';
import { closeConnectionsNamed, startApp, stopApp } from '../support/rabbitmqctl.ts';
import { nextEvent } from '../support/sink.ts';
import { msg } from './listener-behaviour.ts';

const AFTER_RECOVERY = 300;

export function brokerFaults(url: string): void {
  const { logger, lines } = memoryLogger('bus-faults@localhost', 'info');
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  async function setup() {
    const name = `fife-test-faults-${randomBytes(4).toString('hex')}`;
    const mk = (conn: string): RecoveringTransport => {
      const t = createTransport({
        url,
        logger,
        connectionName: conn,
        backoff: FAST_BACKOFF,
        publishTimeoutMs: 60_000,
        startTimeoutMs: 10_000,
        namePrefix: conn,
      });
      cleanup.push(() => t.close());
      return t;
    };
    const tL = mk(name);
    const tP = mk(`${name}-pub`);
    await Promise.all([tL.start(), tP.start()]);
    const x = `${name}-evt`;
    await tP.assertExchange({ name: x, type: 'topic' });
    cleanup.push(() => tP.deleteExchange(x));
    const got = new Set<number>();
    let want: { n: number; resolve: () => void } | undefined;
    const l = new ListenerCore({
      transport: tL,
      logger,
      exchanges: [{ name: x, type: 'topic' }],
      bindings: [{ exchange: x, routingKey: 'evt.#' }],
      responders: [
        {
          category: 'test',
          name: 'seq',
          handler: (m) => {
            got.add(Number(m.N));
            if (want && got.size >= want.n) want.resolve();
          },
        },
      ],
    });
    cleanup.push(() => l.stop());
    await l.start();
    /** Publishes `count` confirmed messages numbered from `from` and waits until all arrived. */
    const publishAndReceive = async (from: number, count: number): Promise<void> => {
      const arrived = new Promise<void>((resolve) => (want = { n: got.size + count, resolve }));
      for (let i = from; i < from + count; i++)
        await tP.publishConfirmed(x, `evt.seq.${i}`, encodeJson(msg('test', 'seq', { N: i })));
      await arrived;
      for (let i = from; i < from + count; i++) expect(got.has(i)).toBe(true);
    };
    return { name, tL, tP, x, l, got, publishAndReceive };
  }

  it('a list of broker URLs is tried in turn: a dead first broker is skipped', async () => {
    const down = url.replace(/:\d+(\/|$)/, ':1$1');
    const t = createTransport({
      url: `${down},${url}`,
      logger,
      backoff: FAST_BACKOFF,
      startTimeoutMs: 10_000,
    });
    cleanup.push(() => t.close());
    await t.start();
    expect(t.broker).toBe(url.replace(/\/\/[^@/]*@/, '//'));
  });

  it('broker closes the connection: the listener comes back re-bound and gets every confirmed message after recovery', async () => {
    const s = await setup();
    await s.publishAndReceive(0, 20);
    const queue = s.l.queue;
    const back = nextEvent<[{ recovered: boolean }]>(s.l, 'consuming', (i) => i.recovered);
    expect(await closeConnectionsNamed(s.name)).toBe(1);
    await back;
    expect(s.l.queue).toBe(queue);
    await s.publishAndReceive(1_000, AFTER_RECOVERY);
    expect(
      lines.some(
        (l) => l.msg === 'bus: connection lost; reconnecting' && l.broker === 'amqp://127.0.0.1:5672',
      ),
    ).toBe(true);
  }, 60_000);

  it('broker app stopped and started: the listener comes back re-bound and gets every confirmed message after recovery', async () => {
    const s = await setup();
    await s.publishAndReceive(0, 20);
    const queue = s.l.queue;
    const lost = nextEvent(s.tL, 'lost');
    const back = nextEvent<[{ recovered: boolean }]>(s.l, 'consuming', (i) => i.recovered);
    let duringOutage: Promise<void> | undefined;
    try {
      await stopApp();
      await lost;
      // A confirmed publish while the broker is down waits for it instead of failing or vanishing.
      duringOutage = s.tP.publishConfirmed(s.x, 'evt.outage', encodeJson(msg('test', 'outage')));
    } finally {
      await startApp();
    }
    await back;
    await expect(duringOutage).resolves.toBeUndefined();
    expect(s.l.queue).toBe(queue);
    await s.publishAndReceive(1_000, AFTER_RECOVERY);
  }, 120_000);
}
