import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { metricsSuite } from './metrics-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('node metrics and probes on RabbitMQ', () => metricsSuite(RABBITMQ_URL));
