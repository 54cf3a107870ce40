/**
 * The embedded backend: EmbeddedConnector makes EmbeddedLinks, each one numbered
 * connection to an EmbeddedBroker (see link.ts for the Link contract).
 *
 * - Operations run synchronously inside the broker; one that succeeds answers DONE (link.ts:
 *   nothing left to wait for), one that fails a rejected promise. Deliveries arrive on a
 *   later turn of the event loop, as from a socket.
 * - `sever()` drops the connection in the broker (its consumers and exclusive queues go,
 *   as on RabbitMQ) and reports `lost` on the next turn, so recovery runs exactly as it
 *   does for a real broker.
 * - Publishes are not checked against AMQP's limits again (names.ts): RecoveringTransport,
 *   the only driver of a link, checks each one before it reaches the link.
 * - A publish to a missing exchange throws NOT_FOUND at once (the amqplib link checks
 *   unknown exchanges first, so both backends behave the same).
 * - A `mandatory` publish that reaches no queue comes back as RabbitMQ's basic.return
 *   does: `publishConfirmed` rejects with PublishUnroutableError (NO_ROUTE), a
 *   fire-and-forget `publish` logs it at warn.
 */
import type { Logger } from 'pino';
import type { EmbeddedBroker } from './embedded-broker.ts';
import { LinkLostError, PublishUnroutableError } from './errors.ts';
import { DONE } from './done.ts';
import type { Connector, Link, LinkHooks } from './link.ts';
import type {
  ConsumeOptions,
  DeliveryHandler,
  ExchangeSpec,
  MessageProperties,
  PublishOptions,
  QueueOptions,
  QueueStatus,
} from './types.ts';

export interface EmbeddedConnectorOptions {
  readonly broker: EmbeddedBroker;
  readonly logger: Logger;
}

export class EmbeddedConnector implements Connector {
  readonly description = 'embedded';
  private readonly log: Logger;
  constructor(private readonly opts: EmbeddedConnectorOptions) {
    this.log = opts.logger.child({ mod: 'bus.embedded' });
  }

  async connect(hooks: LinkHooks): Promise<Link> {
    return new EmbeddedLink(this.opts.broker, hooks, this.log);
  }
}

function strip(options: PublishOptions | undefined): MessageProperties {
  if (!options) return {};
  if (options.mandatory === undefined) return options;
  const { mandatory: _m, ...props } = options;
  return props;
}

class EmbeddedLink implements Link {
  readonly broker = 'embedded';
  private dead = false;
  private readonly conn: number;

  constructor(
    private readonly b: EmbeddedBroker,
    private readonly hooks: LinkHooks,
    private readonly log: Logger,
  ) {
    this.conn = b.connect({
      consumerCancelled: (tag) => setImmediate(() => hooks.consumerCancelled(tag)),
      dropped: (reason) => {
        this.dead = true;
        setImmediate(() => hooks.lost(new Error(reason)));
      },
    });
  }

  /** fn's result (DONE when there is none), or its error as a rejection. */
  private run<T>(operation: string, fn: () => T): Promise<T> {
    if (this.dead) return Promise.reject(new LinkLostError(operation));
    try {
      const r = fn();
      return r === undefined ? (DONE as Promise<T>) : Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  assertExchange(spec: ExchangeSpec): Promise<void> {
    return this.run(`assertExchange ${spec.name}`, () => this.b.assertExchange(this.conn, spec));
  }
  deleteExchange(name: string): Promise<void> {
    return this.run(`deleteExchange ${name}`, () => this.b.deleteExchange(this.conn, name));
  }
  assertQueue(name: string, options: QueueOptions): Promise<void> {
    return this.run(`assertQueue ${name}`, () => this.b.assertQueue(this.conn, name, options));
  }
  checkQueue(name: string): Promise<QueueStatus> {
    return this.run(`checkQueue ${name}`, () => this.b.checkQueue(this.conn, name));
  }
  deleteQueue(name: string): Promise<void> {
    return this.run(`deleteQueue ${name}`, () => this.b.deleteQueue(this.conn, name));
  }
  bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    return this.run(`bindQueue ${queue}`, () => this.b.bindQueue(this.conn, queue, exchange, routingKey));
  }
  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    return this.run(`unbindQueue ${queue}`, () => this.b.unbindQueue(this.conn, queue, exchange, routingKey));
  }
  consume(
    queue: string,
    consumerTag: string,
    handler: DeliveryHandler,
    options: ConsumeOptions,
  ): Promise<void> {
    const warn = (message: string): void => this.log.warn({ consumerTag, queue }, message);
    return this.run(`consume ${queue}`, () =>
      this.b.consume(this.conn, queue, consumerTag, handler, options, warn),
    );
  }
  cancel(consumerTag: string): Promise<void> {
    return this.run(`cancel ${consumerTag}`, () => this.b.cancel(this.conn, consumerTag));
  }

  /** Throws BusChannelError NOT_FOUND for a missing exchange, as the amqplib link does. */
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): undefined {
    if (this.dead) throw new LinkLostError('publish');
    const n = this.b.publish(this.conn, exchange, routingKey, Buffer.from(body), strip(options), true);
    if (n === 0 && options?.mandatory === true)
      this.log.warn(
        { exchange, routingKey },
        'bus: a mandatory message came back unroutable (no queue took it); nobody waits for it',
      );
    return undefined;
  }

  publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): Promise<void> {
    return this.run(`publishConfirmed ${exchange}/${routingKey}`, () => {
      const n = this.b.publish(this.conn, exchange, routingKey, Buffer.from(body), strip(options), true);
      if (n === 0 && options?.mandatory === true)
        throw new PublishUnroutableError(exchange, routingKey, 'NO_ROUTE');
    });
  }

  sever(reason: string): void {
    if (this.dead) return;
    this.b.disconnect(this.conn, `severed: ${reason}`, true);
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    this.b.disconnect(this.conn, 'closed by client', false);
  }
}
