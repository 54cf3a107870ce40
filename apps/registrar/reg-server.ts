/**
 * reg_server: the registrar's gen_listener for reg_success (Whistle's reg_server), and the
 * owner of the registration tables (registrations.ts).
 *
 * Contract
 * - init: the tables `registrar_registrations` and `registrar_reg_users` are claimed from
 *   the registrar's TableKeeper (`reg_tables`). Claimed fresh (a start), the databases and
 *   design documents are made current (`accounts`, `registrations`, every listed account's
 *   database) and the tables primed from the registrations database; inherited (a
 *   restart after a crash), they are kept as they are: nothing is read. Then the
 *   expiry sweep is scheduled, and only then is the queue declared and bound: a registrar
 *   answers nothing before it knows what is stored.
 * - Only this process writes the tables. The reg_success responder runs outside the
 *   process: it calls `{op: 'reg_success', msg}`, reg_server applies it to the tables at
 *   once (mailbox order decides) and queues the database write; the write's outcome comes
 *   back as a message and only then is the call answered (`{result, id}`, or `{result:
 *   'rejected', reason}`, or `{result, id, error}` when the write failed: the registration
 *   stays in the tables). reg_query's database finds arrive as the cast `{op: 'adopt', docs}`.
 * - Queue: the named, shared `<settings.queue>_reg_success` (not auto-deleted, so
 *   reg_success messages wait while the registrar restarts and several registrars share
 *   the load), acked only once the registration is in the database (after-handlers): a
 *   registrar killed mid-write gets the message again. Binding: registrar
 *   `registration.success.*.*`; responder reg-success-handler.ts.
 * - Invalid messages never reach the responders (gen_listener validates against the
 *   catalogue, logs and answers the API error). Other info messages are the kernel's
 *   unexpected ones.
 * - handleInfo `sweep`: expired registrations leave tables and database, then the next
 *   sweep is scheduled. Calls: `{op: 'sweep', now?}` (sweep now, or as if at `now`;
 *   answers the expired ids), `stats`.
 * - terminate: pending registration writes are drained. A crash skips terminate: the
 *   tables pass to the keeper with their rows, and the writes already queued still land
 *   (their messages, unacked, come again to the successor, which applies them again).
 */
import {
  GenServer,
  TableKeeper,
  ok,
  noreply,
  reply,
  unexpected,
  type From,
  type ProcessContext,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { regSuccessKey } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import { ACCOUNTS_DB, type DocumentStore, type SavedDoc } from '../../src/store/index.ts';
import { ensureAccountDb, ensureRegistrarDbs, REGISTRATIONS_DB } from './databases.ts';
import { RegStore } from './reg-store.ts';
import { RegistrationTable, REGS_TABLE, REG_USERS_TABLE, type Registration } from './registrations.ts';
import { handleRegSuccess } from './reg-success-handler.ts';
import type { RegistrarSettings } from './settings.ts';

export const regSuccessQueue = (s: RegistrarSettings): string => `${s.queue}_reg_success`;

export const REG_SERVER = 'reg_server';
/** The registrar's TableKeeper: heir of reg_server's and reg_authn's tables. */
export const REG_TABLES = 'reg_tables';

/** reg_server's arguments: read-only configuration, nothing shared. */
export interface RegServerArgs {
  readonly store: DocumentStore;
  readonly settings: RegistrarSettings;
  readonly appVersion: string;
}

interface State {
  table: RegistrationTable;
  startedAt: number;
  sweepIntervalMs: number;
}

/** What the reg_success call answers. */
export type RegSuccessReply =
  | { result: 'stored' | 'updated' | 'removed'; id: string; error?: string }
  | { result: 'rejected'; reason: string };

type Call = { op: 'sweep'; now?: number } | { op: 'reg_success'; msg: Record<string, unknown> } | 'stats';
type Cast = { op: 'adopt'; docs: SavedDoc[] };
type Written = {
  type: 'reg_written';
  from: From;
  result: 'stored' | 'updated' | 'removed';
  id: string;
  error?: string;
};

/** Databases and design documents made current (accounts, registrations, every account db). */
export async function ensureDatabases(store: DocumentStore, ctx: ProcessContext): Promise<void> {
  await ensureRegistrarDbs(store);
  const accounts = await store.view(ACCOUNTS_DB, 'accounts/listing_by_realm');
  for (const row of accounts.rows) {
    const db = (row.value as { account_db?: unknown } | null)?.account_db;
    if (typeof db === 'string')
      await ensureAccountDb(store, db).catch((err: unknown) =>
        ctx.log.warn({ db, err: (err as Error).message }, 'account database not ready'),
      );
  }
}

async function sweep(table: RegistrationTable, ctx: ProcessContext, now = Date.now()): Promise<string[]> {
  const gone = await table.sweep(now).catch((err: unknown) => {
    ctx.log.error(
      { err: (err as Error).message },
      'expiry sweep: database delete failed (entries left the tables)',
    );
    return [] as string[];
  });
  if (gone.length > 0) ctx.log.info({ expired: gone.length }, 'expired registrations removed');
  return gone;
}

const isWritten = (m: unknown): m is Written => (m as Written)?.type === 'reg_written';

export const RegServer: GenListenerBehaviour<State, RegServerArgs, Call, Cast> = {
  name: REG_SERVER,
  async init(args, ctx) {
    ctx.trapExit(true);
    const regs = await TableKeeper.claim<string, Registration>(ctx, REG_TABLES, REGS_TABLE);
    const users = await TableKeeper.claim<string, readonly string[]>(ctx, REG_TABLES, REG_USERS_TABLE);
    const table = new RegistrationTable(
      regs.table,
      users.table,
      args.store,
      REGISTRATIONS_DB,
      new RegStore(args.store, REGISTRATIONS_DB, ctx.log),
    );
    if (regs.inherited && users.inherited) {
      ctx.log.info(
        { registrations: table.size, queue: args.settings.queue },
        'registrar: registrations kept across the restart',
      );
    } else {
      await ensureDatabases(args.store, ctx);
      const primed = await table.prime(Date.now());
      ctx.log.info(
        { ...primed, queue: args.settings.queue },
        'registrar: registrations primed from the database',
      );
    }
    ctx.sendAfter(args.settings.sweepIntervalMs, 'sweep');
    return ok({ table, startedAt: Date.now(), sweepIntervalMs: args.settings.sweepIntervalMs });
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
      responders: [{ category: 'directory', name: 'reg_success', handler: handleRegSuccess }],
    };
  },
  async handleInfo(msg, s, ctx) {
    if (msg === 'sweep') {
      await sweep(s.table, ctx);
      ctx.sendAfter(s.sweepIntervalMs, 'sweep');
      return noreply(s);
    }
    if (isWritten(msg)) {
      GenServer.reply(msg.from, {
        result: msg.result,
        id: msg.id,
        error: msg.error,
      } satisfies RegSuccessReply);
      return noreply(s);
    }
    const type = (msg as { type?: unknown })?.type;
    if (type === 'gen_listener' || type === 'EXIT') return noreply(s);
    return unexpected(msg, s);
  },
  handleCall(req, from, s, ctx) {
    if (typeof req === 'object' && req.op === 'reg_success') {
      const out = s.table.apply(req.msg, Date.now());
      if (out.result === 'rejected') return reply<State, RegSuccessReply>(out, s);
      const self = ctx.self;
      const written = (error?: string): void =>
        ctx.send(self, {
          type: 'reg_written',
          from,
          result: out.result,
          id: out.id,
          error,
        } satisfies Written);
      out.persisted.then(
        () => written(),
        (err: unknown) => written((err as Error).message),
      );
      return noreply(s);
    }
    if (typeof req === 'object' && req.op === 'sweep')
      return sweep(s.table, ctx, req.now).then((gone) => reply(gone, s));
    return reply(
      {
        registrations: s.table.size,
        pendingWrites: s.table.writer.pendingCount,
        age: Math.floor((Date.now() - s.startedAt) / 1000),
      },
      s,
    );
  },
  handleCast(msg, s, ctx) {
    if (msg.op === 'adopt') {
      const n = s.table.adopt(msg.docs, Date.now());
      if (n > 0) ctx.log.debug({ adopted: n }, 'registrations found in the database kept');
      return noreply(s);
    }
    return unexpected(msg, s);
  },
  async terminate(_reason, s, ctx) {
    await s.table.writer
      .close()
      .catch((err: unknown) =>
        ctx.log.error({ err: (err as Error).message }, 'registrations not all written at close'),
      );
  },
  describe: (s) => ({
    registrations: s.table.all(Date.now()).length,
    age_s: Math.floor((Date.now() - s.startedAt) / 1000),
  }),
};

export function regServerChildSpec(args: RegServerArgs, transport: BusTransport) {
  return GenListener.childSpec(REG_SERVER, RegServer, args, {
    transport,
    name: REG_SERVER,
    appName: 'registrar',
    appVersion: args.appVersion,
    shutdown: 10_000,
  });
}
