/**
 * tones, say, set, playseek and store (dialplan-commands.suite.ts) against RabbitMQ at
 * 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is
 * absent; a failure under FIFE_REQUIRE_SERVICES=1. Must not run beside
 * test/bus/behaviour.rabbitmq.test.ts, which stops and starts the broker app.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { dialplanCommandsSuite } from './dialplan-commands.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('ecallmgr dialplan commands on RabbitMQ', () =>
  dialplanCommandsSuite(() => startHarness({ amqpUrl: RABBITMQ_URL })),
);
