/**
 * ecallmgr's reg_lookup and the registrations it hears (reg-lookup.suite.ts) against
 * RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped with one loud line when the
 * broker is absent; a failure under FIFE_REQUIRE_SERVICES=1.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { regLookupSuite } from './reg-lookup.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('ecallmgr reg_lookup on RabbitMQ', () =>
  regLookupSuite(() => startHarness({ amqpUrl: RABBITMQ_URL })),
);
