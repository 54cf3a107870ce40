/**
 * Issue 9, item 1 on RabbitMQ (a vhost of its own when rabbitmqctl can make one, so the
 * node's registrar answers only this file's requests): see oversized-names.ts. Plus the
 * backstop under the transport's check: the amqplib link alone, given a 256-byte name,
 * fails that one operation with BusInvalidArgumentError (before the fix its publish
 * re-wrote forever on the same open channel, and its declarations wedged the channel).
 */
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/kernel/log.ts';
import { AmqpConnector } from '../../src/bus/amqp-connector.ts';
import { BusInvalidArgumentError } from '../../src/bus/errors.ts';
import { rabbitmqGate, RABBITMQ_URL } from '../bus/support/rabbitmq.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { oversizedNames } from './oversized-names.ts';

const gate = await rabbitmqGate();
const url = gate.available ? isolatedAmqpUrl('fife-robustness') : '';

describe.skipIf(!gate.available)('oversized AMQP names on RabbitMQ', () => {
  oversizedNames(() => ({ url }));

  it('the amqplib link itself refuses a 256-byte name once, typed, and its channels keep working', async () => {
    const { logger } = memoryLogger('robust-link@localhost', 'warn');
    const lost: Error[] = [];
    const link = await new AmqpConnector({ urls: [RABBITMQ_URL], logger }).connect({
      lost: (e) => lost.push(e),
      consumerCancelled: () => undefined,
      consumerLost: () => undefined,
    });
    try {
      const long = 'k'.repeat(256);
      await link.assertExchange({ name: 'fife-robust-link', type: 'direct', autoDelete: true });
      const ops: Array<() => unknown> = [
        () => link.publish('fife-robust-link', long, Buffer.from('{}'), undefined),
        () => link.publishConfirmed('fife-robust-link', long, Buffer.from('{}'), undefined),
        () => link.assertQueue(long, { exclusive: true }),
        () => link.bindQueue('fife-robust-none', 'fife-robust-link', long),
        () => link.consume(long, 'fife-robust-tag', () => undefined, {}),
      ];
      for (const op of ops) {
        const err = await Promise.resolve()
          .then(op)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(BusInvalidArgumentError);
      }
      // The admin channel was replaced, not wedged; the publish channels are fine.
      await link.assertQueue('fife-robust-link-q', { exclusive: true });
      await link.bindQueue('fife-robust-link-q', 'fife-robust-link', 'ok');
      await link.publishConfirmed('fife-robust-link', 'ok', Buffer.from('{}'), undefined);
      expect((await link.checkQueue('fife-robust-link-q')).messageCount).toBe(1);
      expect(lost).toEqual([]);
    } finally {
      await link.close();
    }
  });
});
