/**
 * ACDC ringing agents by originate (originate.suite.ts) on RabbitMQ at 127.0.0.1:5672
 * (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is absent.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { startCfHarness } from '../callflow/harness.ts';
import { originateSuite } from './originate.suite.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('acdc originate on RabbitMQ', () =>
  originateSuite(() => startCfHarness({ amqpUrl: RABBITMQ_URL })),
);
