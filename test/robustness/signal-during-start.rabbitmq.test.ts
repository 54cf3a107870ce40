/** A signal during the start of a registrar node on RabbitMQ (signal-during-start-suite.ts). */
import { describe } from 'vitest';
import { rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { signalDuringStartSuite } from './signal-during-start-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('a signal during the start (RabbitMQ)', () =>
  signalDuringStartSuite(isolatedAmqpUrl('fife-robustness')),
);
