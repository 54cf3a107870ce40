/**
 * Call-center queues as crossbar documents and the account's agents listed (Kazoo 4.3's
 * cb_queues, cb_agents), driven over HTTP: create, list, read, replace, patch, delete; every
 * field's problem at once; the authorization matrix (an unrelated account's token refused,
 * a parent's allowed); and a queue created over HTTP picked up by a running acdc tree
 * reading the account database (its manager answers the queue's stats). The store is the
 * caller's, a fresh one: embedded in acdc-queues.test.ts, a pouchdb-server of its own in
 * acdc-queues.couchdb.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../../../src/store/index.ts';
import { Supervisor } from '../../../src/kernel/index.ts';
import { acdcTree } from '../../../supervisors/acdc.sup.ts';
import { seedAccounts, startCrossbar, type CbHarness } from './support.ts';

let cb: CbHarness;
const ids: Record<string, string> = {};
const tokens: Record<string, string> = {};

export function describeAcdcQueues(label: string, open?: () => Promise<DocumentStore>): void {
  describe(`crossbar queues and agents: ${label}`, () => {
    beforeAll(async () => {
      cb = await startCrossbar({ store: open === undefined ? undefined : await open() });
      await seedAccounts(cb, ids, tokens);
    }, 30_000);
    afterAll(async () => {
      await cb?.close();
    });

    const acct = (): string => `/v2/accounts/${ids.customer}`;

    it('queues: create, list with name and strategy, get, replace, patch, delete; every bad field named', async () => {
      const t = tokens.reseller!;
      const made = await cb.call('PUT', `${acct()}/queues`, {
        token: t,
        data: { name: 'Sales', agent_ring_timeout: 20, caller_exit_key: '*' },
      });
      expect(made.status, made.text).toBe(201);
      const id = made.body.data.id as string;
      expect(made.body.data).toMatchObject({
        name: 'Sales',
        strategy: 'round_robin',
        agent_ring_timeout: 20,
        agent_wrapup_time: 0,
        connection_timeout: 3600,
        enter_when_empty: true,
        caller_exit_key: '*',
      });
      const list = await cb.call('GET', `${acct()}/queues`, { token: t });
      expect(list.status, list.text).toBe(200);
      expect(list.body.data).toEqual([{ id, name: 'Sales', strategy: 'round_robin' }]);
      const one = await cb.call('GET', `${acct()}/queues/${id}`, { token: t });
      expect(one.body.data).toMatchObject({ id, name: 'Sales', agent_ring_timeout: 20 });
      const replaced = await cb.call('POST', `${acct()}/queues/${id}`, {
        token: t,
        data: { name: 'Support', strategy: 'most_idle' },
      });
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.body.data).toMatchObject({
        name: 'Support',
        strategy: 'most_idle',
        agent_ring_timeout: 15,
      });
      const patched = await cb.call('PATCH', `${acct()}/queues/${id}`, {
        token: t,
        data: { max_queue_size: 5 },
      });
      expect(patched.body.data).toMatchObject({ name: 'Support', strategy: 'most_idle', max_queue_size: 5 });
      const bad = await cb.call('PUT', `${acct()}/queues`, {
        token: t,
        data: { strategy: 'random', agent_ring_timeout: 0, caller_exit_key: 'x', max_priority: 300 },
      });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body.data).sort()).toEqual(
        ['agent_ring_timeout', 'caller_exit_key', 'max_priority', 'name', 'strategy'].sort(),
      );
      expect(bad.body.data.strategy).toHaveProperty('enum');
      expect(bad.body.data.name).toHaveProperty('required');
      expect((await cb.call('DELETE', `${acct()}/queues/${id}`, { token: t })).status).toBe(200);
      expect((await cb.call('GET', `${acct()}/queues/${id}`, { token: t })).status).toBe(404);
    });

    it("agents: the account's users with queues, listed with their queues", async () => {
      const t = tokens.reseller!;
      const q = (await cb.call('PUT', `${acct()}/queues`, { token: t, data: { name: 'Sales' } })).body.data
        .id;
      const agent = await cb.call('PUT', `${acct()}/users`, {
        token: t,
        data: { first_name: 'Ada', last_name: 'Agent', queues: [q] },
      });
      expect(agent.status, agent.text).toBe(201);
      await cb.call('PUT', `${acct()}/users`, { token: t, data: { first_name: 'Not', last_name: 'Agent' } });
      const list = await cb.call('GET', `${acct()}/agents`, { token: t });
      expect(list.status, list.text).toBe(200);
      expect(list.body.data).toEqual([
        { id: agent.body.data.id, first_name: 'Ada', last_name: 'Agent', queues: [q] },
      ]);
    });

    it('queues and agents: an unrelated account’s token is 403, a parent’s allowed', async () => {
      const r = tokens.reseller!;
      const u = tokens.unrelated!;
      const q = (await cb.call('PUT', `${acct()}/queues`, { token: r, data: { name: 'Q' } })).body.data.id;
      const calls: Array<[string, string, unknown?]> = [
        ['GET', `${acct()}/queues`],
        ['PUT', `${acct()}/queues`, { name: 'N' }],
        ['GET', `${acct()}/queues/${q}`],
        ['PATCH', `${acct()}/queues/${q}`, { name: 'Q2' }],
        ['POST', `${acct()}/queues/${q}`, { name: 'Q3' }],
        ['GET', `${acct()}/agents`],
        ['DELETE', `${acct()}/queues/${q}`],
      ];
      for (const [m, p, d] of calls) {
        const refused = await cb.call(m, p, { token: u, data: d });
        expect(refused.status, `${m} ${p}`).toBe(403);
        const allowed = await cb.call(m, p, { token: r, data: d });
        expect([200, 201], `${m} ${p}: ${allowed.text}`).toContain(allowed.status);
      }
      expect((await cb.call('GET', `${acct()}/queues`)).status).toBe(401);
      expect((await cb.call('GET', `${acct()}/agents`)).status).toBe(401);
    });

    it('a queue created over HTTP is started by acdc reading the account database (its stats answer), deleted stopped', async () => {
      const t = tokens.reseller!;
      const r = await Supervisor.start(
        cb.h.rt,
        acdcTree({
          bus: cb.h.bus,
          node: cb.h.rt.node,
          store: cb.store,
          settings: { account_id: ids.customer },
        }),
        { name: 'acdc_sup' },
      );
      expect(r.type).toBe('ok');
      const q = (await cb.call('PUT', `${acct()}/queues`, { token: t, data: { name: 'Live' } })).body.data.id;
      let res = await cb.call('GET', `${acct()}/queues/${q}/stats`, { token: t });
      for (const end = Date.now() + 10_000; res.status !== 200 && Date.now() < end;)
        res = await cb.call('GET', `${acct()}/queues/${q}/stats`, { token: t });
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ queue_id: q, waiting: 0, answered: 0, agents_logged_in: 0 });
      // Deleted over HTTP: acdc stops its manager, nobody answers the stats any more.
      expect((await cb.call('DELETE', `${acct()}/queues/${q}`, { token: t })).status).toBe(200);
      for (const end = Date.now() + 15_000; res.status === 200 && Date.now() < end;)
        res = await cb.call('GET', `${acct()}/queues/${q}/stats`, { token: t });
      expect(res.status, res.text).toBe(404);
      if (r.type === 'ok') {
        const exited = cb.h.rt.awaitExit(r.pid);
        cb.h.rt.exit(r.pid, 'shutdown');
        await exited;
      }
    });
  });
}
