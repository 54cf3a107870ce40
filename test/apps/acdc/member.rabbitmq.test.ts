/**
 * The acdc_member callflow module with acdc (member.suite.ts) on RabbitMQ at
 * 127.0.0.1:5672 (FIFE_TEST_AMQP_URL). Skipped with one loud line when the broker is absent.
 */
import { describe } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../../bus/support/rabbitmq.ts';
import { startCfHarness } from '../callflow/harness.ts';
import { memberSuite } from './member.suite.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('acdc_member on RabbitMQ', () =>
  memberSuite(() => startCfHarness({ amqpUrl: RABBITMQ_URL })),
);
