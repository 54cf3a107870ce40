import { describe } from 'vitest';
import { rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { observerSuite } from './observer-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('observer on RabbitMQ', () =>
  observerSuite(gate.available ? isolatedAmqpUrl('fife-observer') : '', 'amqp'),
);
