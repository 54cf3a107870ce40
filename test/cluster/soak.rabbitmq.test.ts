/**
 * The soak bench's short run in CI: `runSoak` (bench/soak/soak.bench.ts) for 2 minutes
 * (FIFE_SOAK_MINUTES to change it, e.g. 0.5 locally; FIFE_SOAK_KINDS the fault kinds): three
 * nodes (registrar, ecallmgr, callflow) on RabbitMQ and pouchdb-server, phones registering
 * through Kamailio with SIPp, calls placed on a switch simulator per node and bridged by
 * callflow, each node under a seeded chaos schedule. A user checks that no phone that
 * registered is lost (a steady pool of phones re-registering from new Contacts: every
 * phone whose last REGISTER SIPp saw answered 200 is found by reg_query at the end, at
 * that Contact and no older one)
 * and that no call is stuck (none up past its deadline, no leg left on a switch, no process
 * of a call left on a node: the bench's header defines it), on a cluster that did restart
 * processes and take faults. The figures (calls abandoned, restarts by reason, each node's
 * memory trend, nodes slow to stop) are printed, not asserted. Under FIFE_REQUIRE_SERVICES=1 a missing Kamailio, SIPp, RabbitMQ or
 * CouchDB-protocol server fails the suite.
 */
import { describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { serviceGate } from '../support/services.ts';
import { kamailioProbe } from '../support/kamailio.ts';
import { TEST_AMQP_URL } from '../support/rabbitmq-vhost.ts';
import { printSoak, runSoak } from '../../bench/soak/soak.bench.ts';

const MINUTES = Number(process.env.FIFE_SOAK_MINUTES ?? 2);
const gate = await serviceGate('Kamailio + SIPp + RabbitMQ', async () => {
  await kamailioProbe();
  const c = await amqp.connect(TEST_AMQP_URL, { timeout: 3000 });
  await c.close();
});

describe.skipIf(!gate.available)('soak: three nodes under seeded faults, phones registering, calls', () => {
  it(
    `${MINUTES} min: no registration lost, no call stuck; faults were injected and processes restarted`,
    async () => {
      const r = await runSoak({ minutes: MINUTES, seed: 42, kinds: process.env.FIFE_SOAK_KINDS?.split(',') });
      printSoak(r);
      expect(r.sippSuccessful).toBeGreaterThan(0);
      expect(Object.values(r.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(r.registered).toBeGreaterThan(0);
      expect(r.lostSample).toEqual([]);
      expect(r.registrationsLost).toBe(0);
      expect(r.calls.bridged).toBeGreaterThan(0);
      expect(r.stuck).toEqual({ aLegs: [], legsLeft: [], onNodes: [], procs: [] });
      expect(r.callsStuck).toBe(0);
      expect(r.foundAtEnd).toBe(r.registered);
      expect(Object.values(r.nodeExits)).toEqual([null, null, null]);
    },
    MINUTES * 60_000 + 180_000,
  );
});
