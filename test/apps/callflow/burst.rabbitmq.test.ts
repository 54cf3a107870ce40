/**
 * The routing burst (burst.suite.ts) on RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL).
 * Skipped with one loud line when the broker is absent. Like every *.rabbitmq.test.ts it
 * must not run beside test/bus/behaviour.rabbitmq.test.ts.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { burstSuite } from './burst.suite.ts';
import { startCfHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('callflow: a burst of calls at routing (RabbitMQ)', () =>
  burstSuite(() => startCfHarness({ amqpUrl: RABBITMQ_URL }), 100),
);
