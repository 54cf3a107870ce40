/**
 * reg_query when the registrations database cannot be read, on the bus given (embedded or
 * RabbitMQ) and the embedded store with its fault switch (src/store/store-faults.ts, as
 * `fife chaos --store-down`).
 *
 * - A query for a user this registrar does not hold in its tables needs the database;
 *   with the store unreachable it is answered at once with reg_query_error carrying
 *   Error-Message (the reason), never left for the asker's timeout, and the failure is
 *   logged with the reason.
 * - ecallmgr's reg_lookup (a bridge's look-up) gets that answer at once and logs the
 *   registrar's failure with its reason, apart from "no registration".
 * - A user held in the tables (registered through this registrar, or found in the
 *   database by an earlier query and adopted) is answered from the tables with the store
 *   down: no database read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { installStoreFaults } from '../../../src/store/index.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { registrationId } from '../../../apps/registrar/contact.ts';
import { GenServer } from '../../../src/kernel/index.ts';
import { REG_LOOKUP, RegLookup, lookupContacts } from '../../../apps/ecallmgr/reg-lookup.ts';
import type { EcallmgrEnv } from '../../../apps/ecallmgr/context.ts';
import { query, register, startHarness, until, written, type Harness } from './support.ts';

export function regQueryFaultSuite(busUrl?: string): void {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
  });
  const fresh = async (): Promise<Harness> => {
    const h = await startHarness({ busUrl });
    harnesses.push(h);
    await h.startRegistrar();
    return h;
  };

  describe('reg_query with the store unreachable', () => {
    it('a user not in the tables is answered reg_query_error with the reason, and the failure is logged', async () => {
      const h = await fresh();
      installStoreFaults(h.store).unreachableFor(60_000);
      const r = await query(h, 'down.test', 'ghost');
      expect(r['Event-Name']).toBe('reg_query_error');
      expect(String(r['Error-Message'])).toMatch(/unreachable/);
      expect(typeof r['Registrar-Age']).toBe('number');
      const line = h.lines.find(
        (l) => l.msg === 'reg_query: registrations database unreadable; answered as failed',
      );
      expect(line).toMatchObject({ realm: 'down.test', user: 'ghost' });
      expect(String(line?.reason)).toMatch(/unreachable/);
      expect(h.lines.some((l) => String(l.msg).startsWith('listener: responder failed'))).toBe(false);
    });

    it("ecallmgr's reg_lookup logs the registrar's failure with its reason, not 'no registration'", async () => {
      const h = await fresh();
      const env = { bus: h.bus, node: h.rt.node } as unknown as EcallmgrEnv;
      // A look-up timeout far beyond the test's: only an answer ends the look-up in time.
      const started = await GenServer.start(
        h.rt,
        RegLookup,
        { env, timeoutMs: 60_000 },
        { name: REG_LOOKUP },
      );
      expect(started.type).toBe('ok');
      installStoreFaults(h.store).unreachableFor(60_000);
      expect(await lookupContacts(h.rt, 'down.test', 'ghost')).toEqual([]);
      const line = h.lines.find((l) => String(l.msg).startsWith('registrar could not look the device up'));
      expect(line).toMatchObject({ realm: 'down.test', user: 'ghost' });
      expect(String(line?.reason)).toMatch(/unreachable/);
      expect(h.lines.some((l) => l.msg === 'registrar: no registration for the device')).toBe(false);
    });

    it('nothing registered (store reachable) stays a plain reg_query_error, without Error-Message', async () => {
      const h = await fresh();
      const r = await query(h, 'up.test', 'ghost');
      expect(r['Event-Name']).toBe('reg_query_error');
      expect(r['Error-Message']).toBeUndefined();
    });

    it('registered here, or found in the database once: answered from the tables with the store down', async () => {
      const h = await fresh();
      const own = 'sip:own@10.0.0.1:5060';
      await register(h, 'own', 'tables.test', `<${own}>`, 3600);
      await written(h, registrationId(own));
      // Stored by another registrar: in the database only.
      const other = 'sip:other@10.0.0.2:5060';
      await h.store.save(REGISTRATIONS_DB, {
        _id: registrationId(other),
        pvt_type: 'registration',
        pvt_expires_at: Date.now() + 3_600_000,
        Realm: 'tables.test',
        Username: 'other',
        Contact: `<${other}>`,
        Expires: 3600,
        'Bridge-RURI': other,
      });
      const first = await query(h, 'tables.test', 'other', ['Bridge-RURI']);
      expect(first.Fields).toEqual([{ 'Bridge-RURI': other }]);
      await until(
        () => h.lines.some((l) => l.msg === 'registrations found in the database kept'),
        'the found registration adopted',
      );
      installStoreFaults(h.store).unreachableFor(60_000);
      for (const [user, contact] of [
        ['own', own],
        ['other', other],
        ['other', other],
      ]) {
        const r = await query(h, 'tables.test', user!, ['Bridge-RURI']);
        expect(r['Event-Name'], user).toBe('reg_query_resp');
        expect(r.Fields).toEqual([{ 'Bridge-RURI': contact }]);
      }
    });
  });
}
