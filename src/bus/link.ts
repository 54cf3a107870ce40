/**
 * A Link is one live connection to a broker, without any recovery: the piece each
 * backend (amqplib, embedded) implements and RecoveringTransport drives.
 *
 * Contract
 * - A Connector makes Links: `connect(hooks)` resolves with a live Link or rejects (the
 *   amqplib connector tries every configured URL in turn before rejecting; BusRefusedError
 *   when every broker refused the login or vhost, which retrying cannot fix).
 * - Every operation either succeeds, rejects with BusChannelError (the broker refused it;
 *   the link stays usable), with BusInvalidArgumentError (a value AMQP cannot carry; nothing
 *   was sent, the link stays usable) or with LinkLostError (the connection is gone).
 * - `publish` is synchronous when it can be: it returns undefined once the message is
 *   written, or a promise when it must wait (write-buffer drain, channel re-open).
 * - An operation answering `Promise<void>` that succeeded at once (the embedded broker)
 *   may return the shared resolved promise `DONE`: callers that see it know the work is
 *   done without waiting a turn (or making a promise, costly while async hooks run).
 * - `hooks.lost(err)` is called exactly once when the connection goes away for any reason
 *   other than `close()` (broker close, socket error, missed heartbeats, `sever()`).
 * - `hooks.consumerCancelled(tag)`: the broker cancelled the consumer (queue deleted).
 * - `hooks.consumerLost(tag, err)`: the consumer's channel died while the link lives.
 * - Deliveries call the consumer's handler synchronously; a throwing handler is the
 *   caller's problem (RecoveringTransport wraps handlers).
 */
import type {
  ConsumeOptions,
  DeliveryHandler,
  ExchangeSpec,
  PublishOptions,
  QueueOptions,
  QueueStatus,
} from './types.ts';

export { DONE } from './done.ts';

export interface LinkHooks {
  lost(err: Error): void;
  consumerCancelled(consumerTag: string): void;
  consumerLost(consumerTag: string, err: Error): void;
}

export interface Link {
  /** Where this link is connected, credentials stripped. */
  readonly broker: string;
  assertExchange(spec: ExchangeSpec): Promise<void>;
  deleteExchange(name: string): Promise<void>;
  assertQueue(name: string, options: QueueOptions): Promise<void>;
  checkQueue(name: string): Promise<QueueStatus>;
  deleteQueue(name: string): Promise<void>;
  bindQueue(queue: string, exchange: string, routingKey: string): Promise<void>;
  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void>;
  consume(
    queue: string,
    consumerTag: string,
    handler: DeliveryHandler,
    options: ConsumeOptions,
  ): Promise<void>;
  cancel(consumerTag: string): Promise<void>;
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): Promise<void> | undefined;
  publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): Promise<void>;
  /** Cut the connection as if the network failed; `hooks.lost` follows. */
  sever(reason: string): void;
  /** Orderly close; `hooks.lost` is not called. Never rejects. */
  close(): Promise<void>;
}

export interface Connector {
  /** What this connector connects to, for logs (no credentials). */
  readonly description: string;
  connect(hooks: LinkHooks): Promise<Link>;
}
