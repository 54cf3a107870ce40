/**
 * Two registrars (two runtimes, as two nodes) sharing one bus queue and one store: the
 * registrar's cluster behaviour on the embedded bus (two-registrars.test.ts) and on
 * RabbitMQ (two-registrars.rabbitmq.test.ts). A reg_success reaches one of them; a phone
 * that moves to a new Contact, or unregisters, through one must be answered the same way by
 * both: no node goes on answering the old Contact from its tables, and the database keeps
 * no superseded document.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Table } from '../../../src/kernel/index.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { REGISTRATIONS_DB } from '../../../apps/registrar/databases.ts';
import { registrationId } from '../../../apps/registrar/contact.ts';
import { REG_SERVER } from '../../../apps/registrar/reg-server.ts';
import {
  REGS_TABLE,
  REG_USERS_TABLE,
  RegistrationView,
  type Registration,
} from '../../../apps/registrar/registrations.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { query, register, startHarness, until, type Harness } from './support.ts';

/** The registrations a node's tables would answer for a user. */
function held(h: Harness, realm: string, user: string): string[] {
  const view = new RegistrationView(
    Table.reader<string, Registration>(h.rt, REGS_TABLE),
    Table.reader<string, readonly string[]>(h.rt, REG_USERS_TABLE),
  );
  return view.live(realm, user, Date.now()).map((r) => r.id);
}

async function docsOf(h: Harness, realm: string, user: string): Promise<string[]> {
  const res = await h.store.view(REGISTRATIONS_DB, 'registrations/by_user_realm', { key: [realm, user] });
  return res.rows.map((r) => r.id!).sort();
}

const contacts = (a: { Fields?: unknown }): unknown[] =>
  Array.isArray(a.Fields) ? (a.Fields as Array<{ Contact?: unknown }>).map((f) => f.Contact) : [];

export function twoRegistrarsSuite(busUrl?: string): void {
  const open: Harness[] = [];
  afterEach(async () => {
    for (const h of open.splice(0).reverse()) await h.close();
  });

  async function pair(): Promise<[Harness, Harness]> {
    const store = new EmbeddedStore({
      dir: tmpDir('fife-two-registrars-'),
      logger: memoryLogger('store@localhost', 'warn').logger,
    });
    const queue = `registrar_listener_${randomBytes(4).toString('hex')}`;
    const a = await startHarness({ busUrl, store, queue, node: 'reg-a@localhost' });
    open.push(a);
    const b = await startHarness({ busUrl, store, queue, broker: a.broker, node: 'reg-b@localhost' });
    open.push(b);
    return [a, b];
  }

  const at = (user: string, n: number) => `sip:${user}@10.9.${n}.1:5060`;

  describe('two registrars sharing the work', () => {
    it('a phone that moves to a new Contact through either node is answered at the new one only, by both; one document is left', async () => {
      const [a, b] = await pair();
      const realm = `two-${randomBytes(3).toString('hex')}.test`;
      // Registered while only a runs; b then loads them at its start: both hold them.
      const early = ['e0', 'e1', 'e2'];
      await a.startRegistrar();
      for (const u of early) await register(a, u, realm, at(u, 1));
      for (const u of early) await until(async () => (await docsOf(a, realm, u)).length === 1, `${u} stored`);
      await b.startRegistrar();
      for (const u of early) expect(held(b, realm, u)).toEqual([registrationId(at(u, 1))]);
      // Registered with both running: each lands on one of them.
      const late = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'];
      for (const u of late) {
        await register(a, u, realm, at(u, 1));
        await until(async () => (await docsOf(a, realm, u)).length === 1, `${u} stored`);
        // Queries answered by either node: the one that did not store it reads the database.
        for (let k = 0; k < 4; k++) expect(contacts(await query(b, realm, u))).toEqual([at(u, 1)]);
      }
      // Registered with both running and never asked for: only the node that stored one
      // holds it, and the other may be the one that hears its move.
      const quiet = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5'];
      for (const u of quiet) {
        await register(a, u, realm, at(u, 1));
        await until(async () => (await docsOf(a, realm, u)).length === 1, `${u} stored`);
      }
      const everyone = [...early, ...late, ...quiet];
      for (const u of everyone) {
        await register(b, u, realm, at(u, 2));
        await until(async () => (await docsOf(a, realm, u)).includes(registrationId(at(u, 2))), `${u} moved`);
      }
      const want = (u: string) => [registrationId(at(u, 2))];
      await until(
        () =>
          everyone.every(
            (u) =>
              [a, b].every((h) => held(h, realm, u).every((id) => id === want(u)[0])) &&
              held(a, realm, u).length + held(b, realm, u).length > 0,
          ),
        'no node holding an old Contact',
      ).catch(() => undefined);
      for (const u of everyone) {
        for (const h of [a, b]) expect(held(h, realm, u).filter((id) => id !== want(u)[0])).toEqual([]);
        expect(await docsOf(a, realm, u)).toEqual(want(u));
        for (let k = 0; k < 6; k++)
          expect(contacts(await query(k % 2 ? a : b, realm, u))).toEqual([at(u, 2)]);
      }
    });

    it('a reg_server killed and restarted with its tables kept still hears the deletes made through the other node', async () => {
      const [a, b] = await pair();
      const realm = `two-${randomBytes(3).toString('hex')}.test`;
      await a.startRegistrar();
      await register(a, 'mover', realm, at('mover', 1));
      await until(async () => (await docsOf(a, realm, 'mover')).length === 1, 'stored');
      await b.startRegistrar();
      const killed = a.rt.whereis(REG_SERVER)!;
      a.rt.exit(killed, 'kill');
      await until(() => {
        const p = a.rt.whereis(REG_SERVER);
        return p !== undefined && p !== killed;
      }, 'reg_server restarted');
      expect(held(a, realm, 'mover')).toEqual([registrationId(at('mover', 1))]);
      await register(b, 'mover', realm, at('mover', 2));
      await until(
        async () =>
          (await docsOf(a, realm, 'mover')).length === 1 &&
          (await docsOf(a, realm, 'mover'))[0] === registrationId(at('mover', 2)),
        'moved',
      );
      await until(
        () => !held(a, realm, 'mover').includes(registrationId(at('mover', 1))),
        'the old Contact forgotten',
      ).catch(() => undefined);
      expect(held(a, realm, 'mover').filter((id) => id !== registrationId(at('mover', 2)))).toEqual([]);
    });

    it('a phone that unregisters through one node is forgotten by both', async () => {
      const [a, b] = await pair();
      const realm = `two-${randomBytes(3).toString('hex')}.test`;
      await a.startRegistrar();
      await register(a, 'gone', realm, at('gone', 1));
      await until(async () => (await docsOf(a, realm, 'gone')).length === 1, 'stored');
      await b.startRegistrar();
      expect(held(b, realm, 'gone')).toEqual([registrationId(at('gone', 1))]);
      await register(a, 'gone', realm, at('gone', 1), 0);
      await until(async () => (await docsOf(a, realm, 'gone')).length === 0, 'deleted');
      await until(
        () => held(a, realm, 'gone').length + held(b, realm, 'gone').length === 0,
        'both nodes forgot it',
      ).catch(() => undefined);
      expect([held(a, realm, 'gone'), held(b, realm, 'gone')]).toEqual([[], []]);
      for (let k = 0; k < 4; k++) {
        const r = await query(k % 2 ? a : b, realm, 'gone');
        expect(r['Event-Name']).toBe('reg_query_error');
      }
    });
  });
}
