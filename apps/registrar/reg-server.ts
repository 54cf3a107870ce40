/**
 * reg_server: the registrar's gen_listener (Whistle's reg_server).
 *
 * Contract
 * - init: opens a RegistrarCore (databases and design documents made current, the cache
 *   primed from the stored registrations), schedules the expiry sweep, and only then is
 *   the queue declared and bound: a registrar answers nothing before it knows what is
 *   stored. A core left by a crashed predecessor is closed first.
 * - Queue: the named, shared `<settings.queue>_reg_success` (not auto-deleted, so
 *   reg_success messages wait while the registrar restarts and several registrars share
 *   the load), acked only once the registration is in the database (after-handlers): a
 *   registrar killed mid-write gets the message again. Binding: registrar
 *   `registration.success.*.*`; responder reg-success-handler.ts. authn_req and reg_query
 *   are reg_authn's (reg-authn.ts), on a no-ack queue, using this process's core.
 * - Invalid messages never reach the responders (gen_listener validates against the
 *   catalogue, logs and answers the API error).
 * - handleInfo `sweep`: expired registrations leave cache and database, then the next
 *   sweep is scheduled. Calls: `{op: 'sweep', now?}` (sweep now, or as if at `now`;
 *   answers the expired ids), `stats`.
 * - terminate: pending registration writes are drained, feeds and cache closed.
 * - A crash (fault injection) skips terminate, so gen_listener leaves the old consumer on
 *   the shared queue; responders of an older incarnation hand their message back (nack,
 *   requeue) and stop that consumer (stale-guard.ts), so nothing is lost to it.
 */
import { ok, noreply, reply, type ProcessContext } from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { regSuccessKey } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import type { DocumentStore } from '../../src/store/index.ts';
import { RegistrarCore } from './core.ts';
import { handleRegSuccess } from './reg-success-handler.ts';
import { liveOnly } from './stale-guard.ts';
import type { RegistrarSettings } from './settings.ts';

export const regSuccessQueue = (s: RegistrarSettings): string => `${s.queue}_reg_success`;

export const REG_SERVER = 'reg_server';

/** reg_server's arguments; `core` is the slot init fills for the responders to use. */
export class RegServerArgs {
  core: RegistrarCore | undefined;
  /** Bumped by each init: a consumer left behind by a crashed incarnation sees it changed. */
  generation = 0;
  constructor(
    readonly store: DocumentStore,
    readonly settings: RegistrarSettings,
    readonly appVersion: string,
  ) {}
}

interface State {
  core: RegistrarCore;
}

/** `sweep` may name the time to sweep at (ms since the epoch), for tests of expiry. */
type Call = { op: 'sweep'; now?: number } | 'stats';

export function requireCore(a: RegServerArgs): RegistrarCore {
  if (a.core === undefined) throw new Error('reg_server: responder ran before init');
  return a.core;
}

async function sweep(core: RegistrarCore, ctx: ProcessContext, now = Date.now()): Promise<string[]> {
  const gone = await core.table.sweep(now).catch((err: unknown) => {
    ctx.log.error({ err: (err as Error).message }, 'expiry sweep: database delete failed (entries left the cache)');
    return [] as string[];
  });
  if (gone.length > 0) ctx.log.info({ expired: gone.length }, 'expired registrations removed');
  return gone;
}

export const RegServer: GenListenerBehaviour<State, RegServerArgs, Call> = {
  name: REG_SERVER,
  async init(args, ctx) {
    ctx.trapExit(true);
    args.generation++;
    if (args.core !== undefined) await args.core.close();
    args.core = undefined;
    const { core, primed } = await RegistrarCore.open(args.store, args.settings, ctx.log, ctx.runtime.node);
    args.core = core;
    ctx.log.info({ ...primed, queue: args.settings.queue }, 'registrar: cache primed from the database');
    ctx.sendAfter(args.settings.sweepIntervalMs, 'sweep');
    return ok({ core });
  },
  listen(args) {
    return {
      queue: regSuccessQueue(args.settings),
      queueOptions: { autoDelete: false },
      selfBinding: false,
      ackMode: 'after-handlers',
      prefetch: args.settings.prefetch,
      concurrency: args.settings.concurrency,
      bindings: [{ exchange: 'registrar', routingKey: regSuccessKey('*', '*') }],
      responders: [
        { category: 'directory', name: 'reg_success', handler: liveOnly(args, true, () => args.core !== undefined, (m, ctx) => handleRegSuccess(requireCore(args).table, m, ctx)) },
      ],
    };
  },
  async handleInfo(msg, s, ctx) {
    if (msg === 'sweep') {
      await sweep(s.core, ctx);
      ctx.sendAfter(s.core.sweepIntervalMs, 'sweep');
    } else if ((msg as { type?: unknown })?.type !== 'gen_listener' && (msg as { type?: unknown })?.type !== 'EXIT') {
      ctx.log.warn({ msg: String(msg) }, 'reg_server: unexpected message dropped');
    }
    return noreply(s);
  },
  async handleCall(req, _from, s, ctx) {
    if (typeof req === 'object' && req?.op === 'sweep') return reply(await sweep(s.core, ctx, req.now), s);
    return reply({ registrations: s.core.table.size, cache: s.core.cache.stats(), pendingWrites: s.core.table.writer.pendingCount, age: s.core.age }, s);
  },
  async terminate(_reason, s) {
    await s.core.close();
  },
  describe: (s) => ({ registrations: s.core.table.all(Date.now()).length, age_s: s.core.age }),
};

export function regServerChildSpec(args: RegServerArgs, transport: BusTransport) {
  return GenListener.childSpec(REG_SERVER, RegServer, args, { transport, name: REG_SERVER, appName: 'registrar', appVersion: args.appVersion, shutdown: 10_000 });
}
