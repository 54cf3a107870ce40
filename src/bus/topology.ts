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
 * - Bindings and consumers are indexed by queue as well: forgetting a queue or a consumer
 *   costs what that queue has, not what the whole transport has (a node with thousands of
 *   calls has thousands of per-call queues).
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

/** A key's set in a map of sets, made when missing. */
function setOf(m: Map<string, Set<string>>, key: string): Set<string> {
  let set = m.get(key);
  if (!set) m.set(key, (set = new Set()));
  return set;
}

function unindex(m: Map<string, Set<string>>, key: string, member: string): void {
  const set = m.get(key);
  set?.delete(member);
  if (set?.size === 0) m.delete(key);
}

export class Topology {
  readonly exchanges = new Map<string, ExchangeSpec>();
  readonly queues = new Map<string, QueueOptions>();
  /** Read only: change them with add/removeBinding and add/forget/dropConsumer. */
  readonly bindings: ReadonlyMap<string, BindingSpec> = new Map<string, BindingSpec>();
  readonly consumers: ReadonlyMap<string, ConsumerSpec> = new Map<string, ConsumerSpec>();
  /** queue -> keys of its bindings; queue -> tags of its consumers. */
  private readonly queueBindings = new Map<string, Set<string>>();
  private readonly queueConsumers = new Map<string, Set<string>>();

  private get bindingMap(): Map<string, BindingSpec> {
    return this.bindings as Map<string, BindingSpec>;
  }

  private get consumerMap(): Map<string, ConsumerSpec> {
    return this.consumers as Map<string, ConsumerSpec>;
  }

  addBinding(queue: string, exchange: string, routingKey: string): boolean {
    const k = bindingKey(queue, exchange, routingKey);
    if (this.bindings.has(k)) return false;
    this.bindingMap.set(k, { queue, exchange, routingKey });
    setOf(this.queueBindings, queue).add(k);
    return true;
  }

  removeBinding(queue: string, exchange: string, routingKey: string): boolean {
    const k = bindingKey(queue, exchange, routingKey);
    unindex(this.queueBindings, queue, k);
    return this.bindingMap.delete(k);
  }

  forgetExchange(name: string): void {
    this.exchanges.delete(name);
    for (const b of [...this.bindings.values()])
      if (b.exchange === name) this.removeBinding(b.queue, b.exchange, b.routingKey);
  }

  forgetQueue(queue: string): void {
    this.queues.delete(queue);
    for (const k of this.queueBindings.get(queue) ?? []) this.bindingMap.delete(k);
    this.queueBindings.delete(queue);
    for (const tag of this.queueConsumers.get(queue) ?? []) this.consumerMap.delete(tag);
    this.queueConsumers.delete(queue);
  }

  addConsumer(tag: string, c: ConsumerSpec): void {
    this.dropConsumer(tag);
    this.consumerMap.set(tag, c);
    setOf(this.queueConsumers, c.queue).add(tag);
  }

  /** Forgets a consumer, and nothing else (its queue stays, even an auto-delete one). */
  dropConsumer(tag: string): ConsumerSpec | undefined {
    const c = this.consumers.get(tag);
    if (!c) return undefined;
    this.consumerMap.delete(tag);
    unindex(this.queueConsumers, c.queue, tag);
    return c;
  }

  /** Forgets a consumer; returns the queue it consumed from (if known). */
  forgetConsumer(tag: string): string | undefined {
    const c = this.dropConsumer(tag);
    if (!c) return undefined;
    const q = this.queues.get(c.queue);
    if (q?.autoDelete && !this.queueConsumers.has(c.queue)) this.forgetQueue(c.queue);
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
