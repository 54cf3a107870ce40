/**
 * AmqpDelivery: a message delivered by amqplib, as the Delivery contract (types.ts) wants it.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Delivery, MessageProperties } from './types.ts';

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * A delivery from amqplib. Settling it twice, or settling a noAck delivery, would make
 * RabbitMQ close the channel (PRECONDITION_FAILED, unknown delivery tag), and amqplib then
 * drops the whole connection on the deliveries still in flight for that channel; so such
 * calls are refused here and logged instead.
 */
export class AmqpDelivery implements Delivery {
  readonly body: Buffer;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: MessageProperties;
  readonly redelivered: boolean;
  private settled: boolean;
  constructor(
    private readonly msg: ConsumeMessage,
    private readonly ch: Channel,
    readonly consumerTag: string,
    noAck: boolean,
    private readonly log: Logger,
  ) {
    this.body = msg.content;
    this.exchange = msg.fields.exchange;
    this.routingKey = msg.fields.routingKey;
    this.properties = msg.properties as MessageProperties;
    this.redelivered = msg.fields.redelivered;
    this.settled = noAck;
  }
  private settle(what: string, fn: () => void): void {
    if (this.settled) {
      this.log.warn(
        { consumerTag: this.consumerTag, routingKey: this.routingKey },
        `bus: ${what} of a delivery already settled (or consumed with noAck) ignored`,
      );
      return;
    }
    this.settled = true;
    try {
      fn();
    } catch (err) {
      this.log.debug(
        { err: errMessage(err), consumerTag: this.consumerTag },
        `bus: ${what} after the channel closed; the broker will redeliver`,
      );
    }
  }
  ack(): void {
    this.settle('ack', () => this.ch.ack(this.msg));
  }
  nack(requeue = true): void {
    this.settle('nack', () => this.ch.nack(this.msg, false, requeue));
  }
}
