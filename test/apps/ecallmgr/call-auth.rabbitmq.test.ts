/**
 * Calls from registered phones authenticated through ecallmgr and the registrar
 * (call-auth.suite.ts) against RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped
 * with one loud line when the broker is absent; a failure under FIFE_REQUIRE_SERVICES=1.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { callAuthSuite } from './call-auth.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('call authentication on RabbitMQ', () =>
  callAuthSuite((o) => startHarness({ ...o, amqpUrl: RABBITMQ_URL })),
);
