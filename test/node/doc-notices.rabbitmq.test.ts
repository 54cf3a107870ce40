import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { docNoticesSuite } from './doc-notices-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('doc-change notices from the store layer, RabbitMQ', () =>
  docNoticesSuite(RABBITMQ_URL),
);
