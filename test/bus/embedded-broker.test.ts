/**
 * Embedded-broker specifics that the shared suite cannot express for RabbitMQ without
 * restarting it: stopApp/startApp (refused connects, lost non-durable topology, restored
 * by the transport), and the process-wide default broker behind 'embedded'.
 */
import { describe, expect, it } from 'vitest';
import { createTransport, defaultEmbeddedBroker } from '../../src/bus/create-transport.ts';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { encodeJson } from '../../src/bus/envelope.ts';
import { ListenerCore } from '../../src/bus/listener-core.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { FAST_BACKOFF } from './support/bus-env.ts';
import { nextEvent } from './support/sink.ts';

describe('embedded broker', () => {
  it('after stopApp/startApp the listener re-declares what the broker lost and consumes again', async () => {
    const broker = new EmbeddedBroker();
    const { logger } = memoryLogger();
    const t = createTransport({ url: 'embedded', embeddedBroker: broker, logger, backoff: FAST_BACKOFF });
    await t.start();
    let n = 0;
    let got: () => void = () => undefined;
    const l = new ListenerCore({
      transport: t,
      logger,
      exchanges: [{ name: 'callevt', type: 'topic' }],
      bindings: [{ exchange: 'callevt', routingKey: 'call.*.c1' }],
      responders: [
        {
          category: 'call_event',
          name: '*',
          handler: () => {
            n++;
            got();
          },
        },
      ],
    });
    await l.start();
    const lost = nextEvent(t, 'lost');
    broker.stopApp();
    await lost;
    expect(broker.describe()).toEqual({ exchanges: 0, queues: 0, connections: 0 });
    const back = nextEvent(l, 'consuming');
    broker.startApp();
    await back;
    const arrived = new Promise<void>((r) => (got = r));
    await t.publish(
      'callevt',
      'call.CHANNEL_ANSWER.c1',
      encodeJson({ 'Event-Category': 'call_event', 'Event-Name': 'CHANNEL_ANSWER' }),
    );
    await arrived;
    expect(n).toBe(1);
    await l.stop();
    await t.close();
  });

  it("'embedded' connects to one process-wide broker, so two transports see each other", async () => {
    const { logger } = memoryLogger();
    const a = createTransport({ url: 'embedded', logger });
    const b = createTransport({ url: 'embedded', logger });
    await Promise.all([a.start(), b.start()]);
    const q = await a.assertQueue('', { exclusive: false, autoDelete: true });
    const arrived = new Promise<string>((resolve) => void a.consume(q, (d) => resolve(d.body.toString())));
    await b.publish('', q, 'hello');
    expect(await arrived).toBe('hello');
    expect(defaultEmbeddedBroker().describe().connections).toBeGreaterThanOrEqual(2);
    await Promise.all([a.close(), b.close()]);
  });
});
