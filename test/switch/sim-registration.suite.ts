/**
 * Phone registrations reach the registrar as Kamailio's do: the simulator, given a bus,
 * publishes reg_success when a phone registers, again before its Expires runs out, and
 * an unregister (then nothing) when it unregisters; a reg_query finds the phone with a
 * Contact at the simulator. Run on the embedded bus (sim-registration.test.ts) and on
 * RabbitMQ (sim-registration.rabbitmq.test.ts), against the real registrar app.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { memoryLogger } from '../../src/kernel/log.ts';
import { Switch } from '../../src/switch/switch.ts';
import { query, startHarness, until, type Harness } from '../apps/registrar/support.ts';

export function registrationSuite(busUrl?: string): void {
  let h: Harness;
  let sw: Switch;
  let swLines: Array<Record<string, unknown>>;
  beforeEach(async () => {
    const log = memoryLogger('switch-test@localhost', 'debug');
    swLines = log.lines;
    h = await startHarness({ busUrl });
    await h.startRegistrar();
    sw = await Switch.start({
      port: 0,
      bus: h.bus,
      registration: { realm: 'sim.test', expiresS: 1, contactPort: 5070 },
      logger: log.logger,
    });
  });
  afterEach(async () => {
    await sw.close();
    // Stopped with a reg_success still unanswered, the registrar waits for its shutdown
    // budget (10 s): every published one is let through first.
    const published = swLines.filter((l) => l.msg === 'reg_success published').length;
    await until(
      () => h.lines.filter((l) => l.msg === 'registration written').length >= published,
      'the registrar to take every reg_success',
    );
    await h.close();
  });

  const writes = (user: string): number =>
    h.lines.filter((l) => l.msg === 'registration written' && l.user === user).length;

  it('a registered phone is found by reg_query, with its Contact at the simulator', async () => {
    sw.registerEndpoint('1001');
    const r = await until(async () => {
      const q = await query(h, 'sim.test', '1001', ['Contact', 'Username', 'Expires']);
      return q['Event-Name'] === 'reg_query_resp' ? q : undefined;
    }, 'the registration of 1001');
    expect(r.Fields).toEqual([{ Contact: `<sip:1001@127.0.0.1:5070>`, Username: '1001', Expires: 1 }]);
  });

  it('is registered again before its Expires runs out, and after unregister nothing more comes', async () => {
    sw.registerEndpoint('1001');
    await until(() => writes('1001') >= 2, 'a refresh of 1001');
    expect(
      h.lines.some((l) => l.msg === 'registration written' && l.user === '1001' && l.result !== 'new'),
    ).toBe(true);
    expect(sw.unregisterEndpoint('1001')).toBe(true);
    await until(
      async () => (await query(h, 'sim.test', '1001'))['Event-Name'] === 'reg_query_error',
      'the unregister of 1001',
    );
    const after = writes('1001');
    // A full refresh period of another phone passes: 1001 is not heard of again.
    sw.registerEndpoint('1003');
    await until(() => writes('1003') >= 2, 'a refresh of 1003');
    expect(writes('1001')).toBe(after);
    expect((await query(h, 'sim.test', '1001'))['Event-Name']).toBe('reg_query_error');
  });
}
