/**
 * Two registrars sharing one queue and one store, on RabbitMQ (two-registrars.suite.ts), in
 * a vhost of its own. Under FIFE_REQUIRE_SERVICES=1 a missing RabbitMQ fails the suite.
 */
import { describe } from 'vitest';
import amqp from 'amqplib';
import { serviceGate } from '../../support/services.ts';
import { isolatedAmqpUrl } from '../../support/rabbitmq-vhost.ts';
import { twoRegistrarsSuite } from './two-registrars.suite.ts';

const amqpUrl = isolatedAmqpUrl('fife-two-registrars');
const gate = await serviceGate('RabbitMQ', async () => {
  const c = await amqp.connect(amqpUrl, { timeout: 3000 });
  await c.close();
});

describe.skipIf(!gate.available)('on RabbitMQ', () => twoRegistrarsSuite(amqpUrl));
