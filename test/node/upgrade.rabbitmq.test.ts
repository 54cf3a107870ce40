import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { upgradeSuite } from './upgrade-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('upgrading a plugin in a running node on RabbitMQ', () =>
  upgradeSuite(RABBITMQ_URL),
);
