/**
 * The remembered topology of one transport: exchanges, queues, bindings and consumers,
 * in declaration order, so they can be re-applied on a new connection.
 *
 * Contract
 * - `replay(link, log)` re-applies everything: exchanges, then queues, then bindings, then
 *   consumers. A step the broker refuses (BusChannelError, e.g. an exchange deleted by
 *   someone else) is logged and skipped; a LinkLostError aborts the replay (rethrown) so
 *   the caller reconnects and replays again.
 * - Forgetting a queue forgets its bindings and consumers.
 * - Cancelling the last consumer of an auto-delete queue forgets the queue (the broker
 *   deletes it), as RabbitMQ does.
 */
import type { Logger } from 'pino';
import { LinkLostError } from './errors.ts';
import type { Link } from './link.ts';
import type { ConsumeOptions, DeliveryHandler, ExchangeSpec, QueueOptions } from './types.ts';

export interface BindingSpec {
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
}

export interface ConsumerSpec {
  readonly queue: string;
  readonly handler: DeliveryHandler;
  readonly options: ConsumeOptions;
}

const bindingKey = (q: string, x: string, rk: string): string => `${q}\u0000${x}\u0000${rk}`;

export class Topology {
  readonly exchanges = new Map<string, ExchangeSpec>();
  readonly queues = new Map<string, QueueOptions>();
  readonly bindings = new Map<string, BindingSpec>();
  readonly consumers = new Map<string, ConsumerSpec>();

  addBinding(queue: string, exchange: string, routingKey: string): boolean {
    const k = bindingKey(queue, exchange, routingKey);
    if (this.bindings.has(k)) return false;
    this.bindings.set(k, { queue, exchange, routingKey });
    return true;
  }

  removeBinding(queue: string, exchange: string, routingKey: string): boolean {
    return this.bindings.delete(bindingKey(queue, exchange, routingKey));
  }

  forgetExchange(name: string): void {
    this.exchanges.delete(name);
    for (const [k, b] of this.bindings) if (b.exchange === name) this.bindings.delete(k);
  }

  forgetQueue(queue: string): void {
    this.queues.delete(queue);
    for (const [k, b] of this.bindings) if (b.queue === queue) this.bindings.delete(k);
    for (const [tag, c] of this.consumers) if (c.queue === queue) this.consumers.delete(tag);
  }

  /** Forgets a consumer; returns the queue it consumed from (if known). */
  forgetConsumer(tag: string): string | undefined {
    const c = this.consumers.get(tag);
    if (!c) return undefined;
    this.consumers.delete(tag);
    const q = this.queues.get(c.queue);
    if (q?.autoDelete && ![...this.consumers.values()].some((o) => o.queue === c.queue))
      this.forgetQueue(c.queue);
    return c.queue;
  }

  /** `declared` is told of each exchange the broker accepted. */
  async replay(link: Link, log: Logger, declared?: (x: ExchangeSpec) => void): Promise<void> {
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        if (err instanceof LinkLostError) throw err;
        log.error({ err, step: what }, 'bus recovery: broker refused a remembered declaration; skipped');
      }
    };
    for (const x of [...this.exchanges.values()])
      await step(`exchange ${x.name}`, async () => {
        await link.assertExchange(x);
        declared?.(x);
      });
    for (const [name, opts] of [...this.queues])
      await step(`queue ${name}`, () => link.assertQueue(name, opts));
    for (const b of [...this.bindings.values()])
      await step(`binding ${b.queue} <- ${b.exchange}/${b.routingKey}`, () =>
        link.bindQueue(b.queue, b.exchange, b.routingKey),
      );
    for (const [tag, c] of [...this.consumers])
      await step(`consumer ${tag} on ${c.queue}`, () => link.consume(c.queue, tag, c.handler, c.options));
  }
}
