/**
 * ecallmgr's router, authn and reg_lookup each own a bus Requester (an anonymous reply
 * queue and its consumer). Killed (the soak's chaos `kill` in ecallmgr_sup), a process's
 * terminate does not run; its requester must still go: after 5 starts and kills of each,
 * the transport consumes no more queues than before and the broker holds no more queues.
 * Before, each kill left a requester consuming for ever (and re-declared on every
 * reconnect): the soak's node killing in ecallmgr_sup had 8 more consumers 9 minutes in.
 * Embedded bus; no switch is needed for these three to start.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GenServer, Runtime, type GenServerBehaviour, type Pid } from '../../../src/kernel/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { EmbeddedBroker, createTransport } from '../../../src/bus/index.ts';
import { ecallmgrSettings } from '../../../apps/ecallmgr/config.ts';
import { switchLink, type EcallmgrEnv } from '../../../apps/ecallmgr/context.ts';
import { Router } from '../../../apps/ecallmgr/router.ts';
import { Authn } from '../../../apps/ecallmgr/authn.ts';
import { RegLookup } from '../../../apps/ecallmgr/reg-lookup.ts';

describe('ecallmgr processes owning a requester, killed', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  // reg_lookup also consumes the registrations announced (reg_success, reg_flush)
  it.each([
    ['router', Router, 1],
    ['authn', Authn, 1],
    ['reg_lookup', RegLookup, 2],
  ] as Array<[string, GenServerBehaviour<unknown, unknown>, number]>)(
    '%s: 5 starts and kills leave no consumer or queue behind',
    async (_name, behaviour, owned) => {
      const { logger } = memoryLogger('ecm-kill@localhost', 'warn');
      const broker = new EmbeddedBroker();
      const bus = createTransport({
        url: 'embedded',
        logger,
        embeddedBroker: broker,
        namePrefix: 'ecm-kill',
      });
      await bus.start();
      const rt = new Runtime({ node: 'ecm-kill@localhost', logger });
      cleanup.push(async () => {
        await rt.shutdown();
        await bus.close();
      });
      const env: EcallmgrEnv = { bus, settings: ecallmgrSettings({}, {}), node: rt.node };
      const link = switchLink({ name: 'sw-kill', host: '127.0.0.1', port: 1, password: 'ClueCon' });
      const consumers = () => bus.topology.consumers.size;
      const queues = () => broker.describe().queues;
      const [c0, q0] = [consumers(), queues()];

      for (let i = 0; i < 5; i++) {
        const r = await GenServer.start(rt, behaviour, { link, env });
        const pid = (r as { pid: Pid }).pid;
        expect(consumers()).toBe(c0 + owned);
        const ended = rt.awaitExit(pid);
        rt.crash(pid, 'killed');
        expect(await ended).toBe('killed');
        await vi.waitFor(() => expect([consumers(), queues()]).toEqual([c0, q0]));
      }
    },
  );
});
