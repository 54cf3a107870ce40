/**
 * The bus behaviour suite on RabbitMQ at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL), then the
 * broker-side fault tests (close_connection, stop_app/start_app). They share this file on
 * purpose: vitest runs one file's tests in order, so stopping the broker app never hits the
 * behaviour suite mid-flight. Skipped with one loud line when the broker is absent, a
 * failure under FIFE_REQUIRE_SERVICES=1.
 */
import { describe } from 'vitest';
import { makeEnv } from './support/bus-env.ts';
import { RABBITMQ_URL, rabbitmqGate } from './support/rabbitmq.ts';
import { brokerFaults } from './suite/broker-faults.ts';
import { busBehaviourSuite } from './suite/bus-behaviour.ts';

const gate = await rabbitmqGate();
const env = makeEnv('rabbitmq', RABBITMQ_URL, () => undefined, { url: 'amqp://guest:guest@127.0.0.1:1' });

describe.skipIf(!gate.available)('bus on RabbitMQ', () => busBehaviourSuite(() => env));
describe.skipIf(!gate.available)('RabbitMQ broker-side faults', () => brokerFaults(RABBITMQ_URL));
