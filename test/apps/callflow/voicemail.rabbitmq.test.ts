/**
 * callflow's voicemail end to end (voicemail.suite.ts) on RabbitMQ at 127.0.0.1:5672
 * (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is absent; a failure
 * under FIFE_REQUIRE_SERVICES=1. Must not run beside test/bus/behaviour.rabbitmq.test.ts.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { voicemailSuite } from './voicemail.suite.ts';
import { startVmHarness } from './voicemail-harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('voicemail on RabbitMQ', () =>
  voicemailSuite(() => startVmHarness({ amqpUrl: RABBITMQ_URL })),
);
