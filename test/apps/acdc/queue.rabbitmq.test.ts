/**
 * ACDC (queue.suite.ts) on RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped with
 * one loud line when the broker is absent; a failure under FIFE_REQUIRE_SERVICES=1.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { acdcSuite } from './queue.suite.ts';
import { startAcdc } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('acdc on RabbitMQ', () =>
  acdcSuite((queue) => startAcdc({ amqpUrl: RABBITMQ_URL, queue })),
);
