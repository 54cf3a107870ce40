import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { cacheSyncSuite } from './cache-sync-suite.ts';

const gate = await rabbitmqGate();
describe.skipIf(!gate.available)('cache_sync on RabbitMQ', () => cacheSyncSuite(RABBITMQ_URL));
