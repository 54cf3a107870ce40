/**
 * ecallmgr's reg_lookup keeps the registrations it hears announced (reg_success,
 * reg_flush), as Kazoo 4.3's ecallmgr_registrar does, and asks the registrar (reg_query)
 * only for a device it has not heard of. Run beside the real registrar on one bus; a spy
 * queue bound to `registration.query.#` counts the reg_queries sent. What a user checks:
 * a bridge finds the phone at its newest contact, and an unregistered or flushed phone is
 * no longer found there.
 */
import { afterEach, expect, it } from 'vitest';
import { build, regFlushKey, regSuccessKey } from '../../../src/api/index.ts';
import { encodeJson, jsonProperties, type RecoveringTransport } from '../../../src/bus/index.ts';
import { lookupContacts } from '../../../apps/ecallmgr/reg-lookup.ts';
import { regSuccess } from '../registrar/support.ts';
import type { Harness } from './harness.ts';
import { startRegistrar, type RegistrarSide } from './registrar-side.ts';

const REALM = 'lookup.test';
const CTX = { appName: 'kamailio', appVersion: '5.6.3', node: 'kamailio@proxy.test' };

export function regLookupSuite(start: () => Promise<Harness>): void {
  let h: Harness | undefined;
  let reg: RegistrarSide | undefined;
  afterEach(async () => {
    await reg?.close();
    await h?.close();
    h = undefined;
    reg = undefined;
  });

  /** The harness, the registrar beside it, and a count of the reg_queries sent. */
  async function setUp(): Promise<{ h: Harness; queries: () => number }> {
    h = await start();
    reg = await startRegistrar(h);
    const bus: RecoveringTransport = h.bus;
    const spy = await bus.assertQueue('', { exclusive: true, autoDelete: true });
    await bus.bindQueue(spy, 'registrar', 'registration.query.#');
    let n = 0;
    await bus.consume(spy, () => void n++, { noAck: true });
    return { h, queries: () => n };
  }

  const announce = async (
    h: Harness,
    user: string,
    contact: string,
    expires: number,
    extra: Record<string, unknown> = {},
  ): Promise<void> => {
    await h.bus.publish(
      'registrar',
      regSuccessKey(REALM, user),
      encodeJson(regSuccess(user, REALM, contact, expires, extra)),
      jsonProperties(),
    );
  };

  /** The contacts reg_lookup answers once they equal `want` (announcements travel the bus). */
  const found = async (h: Harness, user: string, want: string[]): Promise<string[]> => {
    let got: string[] = [];
    for (let i = 0; i < 100; i++) {
      got = await lookupContacts(h.rt, REALM, user);
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return got;
  };

  it('a phone heard registering is found at its contact without a reg_query', async () => {
    const { h, queries } = await setUp();
    await reg!.register('1001', REALM);
    const before = queries();
    for (let i = 0; i < 5; i++)
      expect(await lookupContacts(h.rt, REALM, '1001')).toEqual(['sip:1001@127.0.0.1:5070;transport=udp']);
    expect(queries() - before).toBe(0);
    // a device this node never heard of is asked of the registrar (and is not there)
    expect(await lookupContacts(h.rt, REALM, 'ghost')).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(queries() - before).toBe(1);
  });

  it('a new contact replaces the old; its unregister and a flush forget it', async () => {
    const { h, queries } = await setUp();
    await announce(h, '2001', '<sip:2001@10.0.0.1:5060>', 3600);
    expect(await found(h, '2001', ['sip:2001@10.0.0.1:5060'])).toEqual(['sip:2001@10.0.0.1:5060']);
    await announce(h, '2001', '<sip:2001@10.0.0.2:5062>;expires=3600', 3600);
    expect(await found(h, '2001', ['sip:2001@10.0.0.2:5062'])).toEqual(['sip:2001@10.0.0.2:5062']);
    // an unregister of a contact the phone no longer has changes nothing
    await announce(h, '2001', '<sip:2001@10.0.0.1:5060>', 0);
    // a reg_success the registrar refuses (no SIP contact) changes nothing either
    await announce(h, '2001', 'not a contact', 3600);
    await new Promise((r) => setTimeout(r, 100));
    expect(await lookupContacts(h.rt, REALM, '2001')).toEqual(['sip:2001@10.0.0.2:5062']);
    // the phone leaves: not found here, nor at the registrar
    await announce(h, '2001', '<sip:2001@10.0.0.2:5062>', 0, { Status: 'Unregistered' });
    expect(await found(h, '2001', [])).toEqual([]);

    await announce(h, '2002', '<sip:2002@10.0.0.3:5060>', 3600);
    expect(await found(h, '2002', ['sip:2002@10.0.0.3:5060'])).toEqual(['sip:2002@10.0.0.3:5060']);
    const before = queries();
    const flush = build('reg_flush', { Realm: REALM }, CTX);
    await h.bus.publish('registrar', regFlushKey(REALM), encodeJson(flush), jsonProperties());
    // forgotten here: the registrar is asked (it does not act on reg_flush, and still
    // answers the registration it holds)
    for (let i = 0; i < 100 && queries() === before; i++) {
      expect(await lookupContacts(h.rt, REALM, '2002')).toEqual(['sip:2002@10.0.0.3:5060']);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(queries() - before).toBe(1);
  });

  it('a registration whose Expires ran out is no longer answered from what was heard', async () => {
    const { h, queries } = await setUp();
    await announce(h, '3001', '<sip:3001@10.0.0.4:5060>', 1);
    expect(await found(h, '3001', ['sip:3001@10.0.0.4:5060'])).toEqual(['sip:3001@10.0.0.4:5060']);
    const before = queries();
    await new Promise((r) => setTimeout(r, 1100));
    await lookupContacts(h.rt, REALM, '3001');
    await new Promise((r) => setTimeout(r, 50));
    expect(queries() - before).toBe(1);
  });
}
