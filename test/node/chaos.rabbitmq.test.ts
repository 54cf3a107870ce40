import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { chaosSuite } from './chaos-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('fault injection on a node on RabbitMQ', () => chaosSuite(RABBITMQ_URL));
