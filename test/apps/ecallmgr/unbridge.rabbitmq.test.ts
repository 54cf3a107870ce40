/**
 * ecallmgr's unbridge and hangup Other-Leg-Only (unbridge.suite.ts) against RabbitMQ at
 * 127.0.0.1:5672 (FIFE_TEST_AMQP_URL), the registrar answering reg_query on the same
 * broker. Skipped with one loud line when the broker is absent; a failure under
 * FIFE_REQUIRE_SERVICES=1. Like every *.rabbitmq.test.ts file it must not run beside
 * test/bus/behaviour.rabbitmq.test.ts, which stops and starts the broker app.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { unbridgeSuite } from './unbridge.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('ecallmgr unbridge on RabbitMQ', () =>
  unbridgeSuite(() => startHarness({ amqpUrl: RABBITMQ_URL })),
);
