/**
 * A call's end no call_events saw (lost-hangup.suite.ts), on RabbitMQ at 127.0.0.1:5672
 * (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is absent; a failure
 * under FIFE_REQUIRE_SERVICES=1. Like every *.rabbitmq.test.ts file it must not run beside
 * test/bus/behaviour.rabbitmq.test.ts, which stops and starts the broker app.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { lostHangupSuite } from './lost-hangup.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('ecallmgr: a hang-up no call_events saw, on RabbitMQ', () =>
  lostHangupSuite((settings) => startHarness({ amqpUrl: RABBITMQ_URL, settings })),
);
