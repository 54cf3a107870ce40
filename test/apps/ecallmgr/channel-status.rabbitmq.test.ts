/**
 * channel_status_req answered by ecallmgr (channel-status.suite.ts) against RabbitMQ at
 * 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is
 * absent; a failure under FIFE_REQUIRE_SERVICES=1.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { channelStatusSuite } from './channel-status.suite.ts';
import { startHarness } from './harness.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('ecallmgr channel status on RabbitMQ', () =>
  channelStatusSuite(() => startHarness({ amqpUrl: RABBITMQ_URL })),
);
