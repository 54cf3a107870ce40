/**
 * callflow end to end (calls.suite.ts) on RabbitMQ at 127.0.0.1:5672
 * (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is absent; a failure
 * under FIFE_REQUIRE_SERVICES=1. Like every *.rabbitmq.test.ts it must not run beside
 * test/bus/behaviour.rabbitmq.test.ts.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { callflowSuite } from './calls.suite.ts';
import { startCfHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('callflow calls on RabbitMQ', () =>
  callflowSuite((o) => startCfHarness({ amqpUrl: RABBITMQ_URL, ...o })),
);
