/**
 * Issue 9, item 1 on RabbitMQ (a vhost of its own when rabbitmqctl can make one, so the
 * node's registrar answers only this file's requests): see oversized-names.ts.
 */
import { describe } from 'vitest';
import { rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { oversizedNames } from './oversized-names.ts';

const gate = await rabbitmqGate();
const url = gate.available ? isolatedAmqpUrl('fife-robustness') : '';

describe.skipIf(!gate.available)('oversized AMQP names on RabbitMQ', () => oversizedNames(() => ({ url })));
