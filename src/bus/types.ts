/**
 * The bus transport contract: one interface, two implementations (RabbitMQ through
 * amqplib, and the in-process embedded broker), both wrapped by RecoveringTransport.
 *
 * Contract of a BusTransport
 * - `start()` resolves once the first connection is up (and every declaration made so
 *   far is applied); it rejects with BusNotConnectedError after `startTimeoutMs` but the
 *   transport keeps trying in the background until `close()`.
 * - Declarations (assertExchange, assertQueue, bindQueue, consume) are remembered. After a
 *   lost connection the transport reconnects with backoff and re-applies them in order:
 *   exchanges, queues, bindings, consumers. Consumers keep their tag and callback; the user
 *   does nothing. unbindQueue, cancel and deleteQueue make the transport forget.
 * - `assertQueue('')` makes a client-generated name (`<prefix>-<hex>`) that is kept across
 *   reconnects, so a Server-ID stays valid. Server-generated (`amq.gen-*`) names are not used.
 * - `publish` is fire-and-forget: it resolves once the message is handed to the connection
 *   (after a write-buffer drain if needed). `publishConfirmed` resolves once the broker
 *   confirmed it; a connection lost before the confirm republishes it after recovery
 *   (at-least-once) until `publishTimeoutMs`, then rejects with PublishUnconfirmedError.
 *   Either, called while disconnected, waits up to `publishTimeoutMs` for the connection
 *   and then rejects with BusNotConnectedError. Nothing is dropped without an error.
 * - `mandatory: true`: a message no queue takes comes back (AMQP basic.return; the
 *   embedded broker does the same). `publishConfirmed` then rejects with
 *   PublishUnroutableError (RabbitMQ sends the return before the confirm); a
 *   fire-and-forget `publish` has nobody to tell, so the return is logged at warn.
 * - Broker refusals (missing exchange or queue, exclusive queue of another connection,
 *   re-declare with other arguments) reject with BusChannelError and its `reason`.
 * - A name, routing key, consumer tag or property AMQP cannot carry (over 255 bytes of
 *   UTF-8, names.ts) rejects that one operation at once with BusInvalidArgumentError.
 * - `start()` rejects at once with BusRefusedError when the broker refuses the login or
 *   vhost (not retried); other connect failures are retried.
 * - An operation answering `Promise<void>` that is already done (the embedded broker: no
 *   wire, nothing to wait for) may answer the shared resolved promise DONE (done.ts)
 *   rather than a new one; callers that see it go on at once (listener-core.ts).
 * - `close()` is idempotent; pending waits reject with BusClosedError.
 * - `sever()` cuts the connection on purpose (fault injection); recovery follows as for
 *   any lost connection. `sever(reason, {reconnectAfterMs})` holds every reconnect
 *   attempt back until that long has passed (a broker out of reach for a while).
 * - `degradeDeliveries({dropShare, delayMs, forMs})` (fault injection) makes this
 *   transport's consumers lose a share of their deliveries (acked, never handled) and
 *   hold the others `delayMs` (in order) for `forMs`; `random` draws the losses (a
 *   seeded PRNG makes them repeatable). A new call replaces the one running.
 */
import type { EventEmitter } from 'node:events';

export type ExchangeType = 'direct' | 'topic' | 'fanout';

export interface ExchangeSpec {
  readonly name: string;
  readonly type: ExchangeType;
  /** Default false (Kazoo declares every exchange non-durable). */
  readonly durable?: boolean;
  /** Default false. */
  readonly autoDelete?: boolean;
}

export interface QueueOptions {
  /** Default false. Exclusive queues belong to the connection and vanish with it. */
  readonly exclusive?: boolean;
  /** Default false at this level (the listener applies Kazoo's default, true). */
  readonly autoDelete?: boolean;
  readonly durable?: boolean;
  /** x-max-length (overflow drops the oldest message). */
  readonly maxLength?: number;
  /** x-message-ttl in ms. */
  readonly messageTtl?: number;
  /** x-max-priority. */
  readonly maxPriority?: number;
}

export interface QueueStatus {
  readonly queue: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

export interface ConsumeOptions {
  /** true: the broker counts a message delivered as acked (Kazoo's default). Default true. */
  readonly noAck?: boolean;
  /** Prefetch (unacked deliveries in flight) for this consumer; ignored with noAck. Default 50. */
  readonly prefetch?: number;
  /** Only this consumer may read the queue. Default false. */
  readonly exclusive?: boolean;
  /** Client-chosen tag; generated when absent. Kept across reconnects. */
  readonly consumerTag?: string;
}

export interface MessageProperties {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly headers?: Record<string, unknown>;
  /** Kazoo sets microseconds since the epoch. */
  readonly timestamp?: number;
  readonly priority?: number;
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly messageId?: string;
  readonly expiration?: string;
}

export interface PublishOptions extends MessageProperties {
  /** Return the message if no queue takes it (see the contract above). Default false. */
  readonly mandatory?: boolean;
}

export interface Delivery {
  readonly body: Buffer;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
  readonly consumerTag: string;
  /** Acks a delivery of a noAck=false consumer; a no-op (logged) once its connection is gone. */
  ack(): void;
  nack(requeue?: boolean): void;
}

export type DeliveryHandler = (delivery: Delivery) => void;

/** See degradeDeliveries in the contract above. */
export interface DeliveryFaults {
  /** 0..1: the share of deliveries lost. Default 0. */
  readonly dropShare?: number;
  /** Each delivery kept is handled this much later. Default 0. */
  readonly delayMs?: number;
  readonly forMs: number;
  /** 0 <= x < 1; default Math.random. */
  readonly random?: () => number;
  /** Called once when the period is over (or replaced). */
  readonly onEnd?: () => void;
}

export type TransportState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface TransportEvents {
  /** Every state change. */
  state: [state: TransportState];
  /** Connected and every remembered declaration re-applied; `recovered` false the first time. */
  ready: [info: { broker: string; recovered: boolean }];
  /** The connection was lost (or severed); recovery follows. */
  lost: [err: Error];
  /** The broker cancelled a consumer (its queue was deleted by someone else). */
  cancelled: [info: { consumerTag: string; queue: string }];
}

export interface BusTransport extends EventEmitter<TransportEvents> {
  readonly state: TransportState;
  /** The broker currently connected to, without credentials ('embedded' for the embedded broker). */
  readonly broker: string | undefined;
  start(): Promise<void>;
  assertExchange(spec: ExchangeSpec): Promise<void>;
  /** Declares exchanges in order; the catalogue passes Kazoo's list. */
  assertExchanges(specs: readonly ExchangeSpec[]): Promise<void>;
  /** Deletes an exchange (and its bindings) and forgets it. No error if it does not exist. */
  deleteExchange(name: string): Promise<void>;
  /** '' makes a client-generated name. Resolves with the queue name. */
  assertQueue(name: string, options?: QueueOptions): Promise<string>;
  checkQueue(name: string): Promise<QueueStatus>;
  deleteQueue(name: string): Promise<void>;
  bindQueue(queue: string, exchange: string, routingKey: string): Promise<void>;
  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void>;
  consume(queue: string, handler: DeliveryHandler, options?: ConsumeOptions): Promise<string>;
  cancel(consumerTag: string): Promise<void>;
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    options?: PublishOptions,
  ): Promise<void>;
  publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    options?: PublishOptions,
  ): Promise<void>;
  /** Resolves once connected (waits up to timeoutMs, default publishTimeoutMs). */
  whenReady(timeoutMs?: number): Promise<void>;
  /** Fault injection: cut the connection now; recovery follows (not before reconnectAfterMs). */
  sever(reason?: string, opts?: { reconnectAfterMs?: number }): void;
  /** Fault injection: lose / delay deliveries to this transport's consumers for a while. */
  degradeDeliveries(d: DeliveryFaults): void;
  close(): Promise<void>;
}
