/**
 * The local RabbitMQ for tests: its URL (FIFE_TEST_AMQP_URL, default
 * amqp://guest:guest@127.0.0.1:5672) and a service gate that opens a connection.
 */
import amqp from 'amqplib';
import { serviceGate, type ServiceGate } from '../../support/services.ts';

export const RABBITMQ_URL = process.env.FIFE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export function rabbitmqGate(): Promise<ServiceGate> {
  return serviceGate('RabbitMQ', async () => {
    const c = await amqp.connect(RABBITMQ_URL, { noDelay: true, timeout: 3_000 });
    await c.close();
  });
}
