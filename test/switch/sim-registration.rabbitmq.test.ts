/**
 * Phone registrations published by the simulator (sim-registration.suite.ts) on RabbitMQ
 * at 127.0.0.1:5672 (FIFE_TEST_AMQP_URL), and `fife switch-sim --bus amqp://...` doing the
 * same. Skipped with one loud line when the broker is absent; a failure under
 * FIFE_REQUIRE_SERVICES=1. Must not run beside test/bus/behaviour.rabbitmq.test.ts, which
 * stops and starts the broker app.
 */
import { describe, expect, it } from 'vitest';
import { RABBITMQ_URL, rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { runSwitchSim } from '../../src/switch/sim-main.ts';
import { query, startHarness, until } from '../apps/registrar/support.ts';
import { registrationSuite } from './sim-registration.suite.ts';
import { watchedLogger } from './helpers.ts';

const gate = await rabbitmqGate();

describe.skipIf(!gate.available)('simulator phone registrations on RabbitMQ', () => {
  registrationSuite(RABBITMQ_URL);

  it('fife switch-sim --bus amqp://... --register 1001 registers the phone with the registrar', async () => {
    const h = await startHarness({ busUrl: RABBITMQ_URL });
    await h.startRegistrar();
    const sim = await runSwitchSim(
      ['--port', '0', '--bus', RABBITMQ_URL, '--realm', 'cli.test', '--register', '1001'],
      { logger: watchedLogger().logger, signals: false },
    );
    try {
      const r = await until(async () => {
        const q = await query(h, 'cli.test', '1001', ['Contact']);
        return q['Event-Name'] === 'reg_query_resp' ? q : undefined;
      }, 'the registration of 1001');
      expect(r.Fields).toEqual([{ Contact: `<sip:1001@127.0.0.1:5060>` }]);
      await until(
        () => h.lines.some((l) => l.msg === 'registration written' && l.user === '1001'),
        'the write of 1001',
      );
    } finally {
      await sim.stop();
      await h.close();
    }
  });
});
