/**
 * One queue of the embedded broker: messages in FIFO order, consumers served round-robin.
 *
 * Contract (RabbitMQ's classic-queue behaviour unless noted)
 * - `enqueue` appends; past `maxLength` the oldest message is dropped (overflow
 *   drop-head); with `messageTtl` (or a message's own `expiration`, whichever is shorter)
 *   a message older than its TTL is discarded when it reaches the head instead of being
 *   delivered, and `status()` does not count expired messages at the head.
 * - With `maxPriority`, a message goes ahead of every waiting message of lower priority
 *   (priority capped at maxPriority; equal priorities keep FIFO order).
 * - Delivery is asynchronous (setImmediate), never inside the publisher's call. A consumer
 *   with noAck=false receives at most `prefetch` unacked messages.
 * - nack(requeue) puts the message back at the head, marked redelivered. A removed
 *   consumer's unacked messages go back to the head in their original order.
 * - Settling a delivery twice, or one consumed with noAck, is refused and reported through
 *   the consumer's `warn` (the amqplib link does the same, to spare the channel). Settling
 *   after the consumer is gone is a no-op: the message was already requeued.
 */
import type { Delivery, DeliveryHandler, MessageProperties, QueueOptions } from './types.ts';

export interface StoredMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly expiresAt: number;
  readonly priority: number;
  redelivered: boolean;
}

export interface EmbeddedConsumer {
  readonly tag: string;
  readonly connId: number;
  readonly noAck: boolean;
  readonly prefetch: number;
  readonly exclusive: boolean;
  readonly handler: DeliveryHandler;
  readonly unacked: Set<StoredMessage>;
  readonly warn: (message: string) => void;
}

const BATCH = 512;

class EmbeddedDelivery implements Delivery {
  private settled = false;
  readonly body: Buffer;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
  constructor(
    private readonly q: EmbeddedQueue,
    private readonly c: EmbeddedConsumer,
    private readonly m: StoredMessage,
  ) {
    this.body = m.body;
    this.exchange = m.exchange;
    this.routingKey = m.routingKey;
    this.properties = m.properties;
    this.redelivered = m.redelivered;
  }
  get consumerTag(): string {
    return this.c.tag;
  }
  ack(): void {
    this.settle('ack', false);
  }
  nack(requeue = true): void {
    this.settle('nack', requeue);
  }
  private settle(what: string, requeue: boolean): void {
    if (this.settled || this.c.noAck) {
      this.c.warn(`bus: ${what} of a delivery already settled (or consumed with noAck) ignored`);
      return;
    }
    this.settled = true;
    this.q.settle(this.c, this.m, requeue);
  }
}

export class EmbeddedQueue {
  private messages: StoredMessage[] = [];
  private head = 0;
  readonly consumers: EmbeddedConsumer[] = [];
  private rr = 0;
  private scheduled = false;
  hadConsumer = false;
  dropped = 0;

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
    readonly ownerConn: number | undefined,
  ) {}

  get length(): number {
    return this.messages.length - this.head;
  }

  enqueue(exchange: string, routingKey: string, body: Buffer, properties: MessageProperties): void {
    const perMessage = properties.expiration === undefined ? NaN : Number(properties.expiration);
    const ttl = Math.min(
      this.options.messageTtl ?? Infinity,
      Number.isFinite(perMessage) && perMessage >= 0 ? perMessage : Infinity,
    );
    const maxP = this.options.maxPriority;
    const priority = maxP === undefined ? 0 : Math.min(maxP, Math.max(0, properties.priority ?? 0));
    const m: StoredMessage = {
      exchange,
      routingKey,
      body,
      properties,
      expiresAt: ttl === Infinity ? Infinity : Date.now() + ttl,
      priority,
      redelivered: false,
    };
    if (priority === 0 || maxP === undefined) {
      this.messages.push(m);
    } else {
      let i = this.messages.length;
      while (i > this.head && this.messages[i - 1].priority < priority) i--;
      this.messages.splice(i, 0, m);
    }
    const max = this.options.maxLength;
    while (max !== undefined && this.length > max) {
      this.head++;
      this.dropped++;
    }
    this.schedule();
  }

  status(): { messageCount: number; consumerCount: number } {
    this.expire(Date.now());
    return { messageCount: this.length, consumerCount: this.consumers.length };
  }

  addConsumer(c: EmbeddedConsumer): void {
    this.consumers.push(c);
    this.hadConsumer = true;
    this.schedule();
  }

  /** Removes a consumer; its unacked messages go back to the head. Returns false if unknown. */
  removeConsumer(tag: string): boolean {
    const i = this.consumers.findIndex((c) => c.tag === tag);
    if (i < 0) return false;
    const [c] = this.consumers.splice(i, 1);
    if (c.unacked.size > 0) {
      const back = [...c.unacked];
      for (const m of back) m.redelivered = true;
      this.messages = [...back, ...this.messages.slice(this.head)];
      this.head = 0;
      c.unacked.clear();
    }
    this.schedule();
    return true;
  }

  settle(c: EmbeddedConsumer, m: StoredMessage, requeue: boolean): void {
    if (!c.unacked.delete(m)) return;
    if (requeue) {
      m.redelivered = true;
      if (this.head > 0) this.messages[--this.head] = m;
      else this.messages.unshift(m);
    }
    this.schedule();
  }

  /** Drops every message (queue deleted); unacked ones are forgotten too. */
  clear(): void {
    this.messages = [];
    this.head = 0;
    for (const c of this.consumers) c.unacked.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.consumers.length === 0 || this.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private expire(now: number): void {
    while (this.head < this.messages.length && this.messages[this.head].expiresAt <= now) this.head++;
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
  }

  private nextConsumer(): EmbeddedConsumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.rr + i) % n];
      if (c.noAck || c.unacked.size < c.prefetch) {
        this.rr = (this.rr + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private drain(): void {
    this.scheduled = false;
    const now = Date.now();
    for (let sent = 0; sent < BATCH; sent++) {
      this.expire(now);
      if (this.length === 0) return;
      const c = this.nextConsumer();
      if (!c) return;
      const m = this.messages[this.head];
      this.messages[this.head++] = undefined as unknown as StoredMessage;
      if (!c.noAck) c.unacked.add(m);
      c.handler(new EmbeddedDelivery(this, c, m));
    }
    this.schedule();
  }
}
