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
 *   once (mailbox order decides) and casts the database writes to reg_store (reg-store.ts,
 *   started before it); reg_store's `reg_store_written` messages come back and only when
 *   all of them have is the call answered (`{result, id}`, or `{result: 'rejected',
 *   reason}`, or `{result, id, error}` when the store refused the document: the
 *   registration stays in the tables; or `{result, id, requeue: true}` when reg_store is
 *   not running: the responder hands the message back). reg_query's database finds
 *   arrive as the cast `{op: 'adopt', docs}` (their revisions are passed to reg_store).
 * - Queue: the named, shared `<settings.queue>_reg_success` (not auto-deleted, so
 *   reg_success messages wait while the registrar restarts and several registrars share
 *   the load), acked only once the registration is in the database (after-handlers): a
 *   registrar killed mid-write gets the message again. Binding: registrar
 *   `registration.success.*.*`; responder reg-success-handler.ts.
 * - Invalid messages never reach the responders (gen_listener validates against the
 *   catalogue, logs and answers the API error). Other info messages are the kernel's
 *   unexpected ones.
 * - handleInfo `sweep`: expired registrations leave the tables and their deletes go to
 *   reg_store, then the next sweep is scheduled. Calls: `{op: 'sweep', now?}` (sweep now,
 *   or as if at `now`; answers the expired ids once the database has forgotten them),
 *   `stats` (`pendingWrites`: calls and sweeps waiting for reg_store).
 * - reg_server monitors reg_store: if it ends (crash), or when reg_server stops
 *   (beforeStop, so that its running responders can finish), every reg_success still
 *   waiting is answered `requeue`: its message comes again, to the successor or to
 *   another registrar, and is applied again (the same write, harmless).
 * - Other nodes' deletes: reg_server follows the registrations database's change feed
 *   (from 'now', before priming, at a start; from the last change its predecessor applied,
 *   kept in the table `registrar_reg_feed`, at a restart). A deleted document it holds
 *   (another node's reg_success moved the phone to a new Contact, unregistered it, or
 *   swept it) leaves its tables at once, so no node answers reg_query with a Contact the
 *   database no longer has. A document read before its deletion was heard (a reg_query's
 *   `adopt` racing the delete) is not adopted: deletions are remembered by revision for
 *   10 minutes. An interrupted feed resumes where it was; one that ends (database
 *   deleted) is logged at error.
 * - The writes themselves belong to reg_store: a crash of reg_server (which skips
 *   terminate) leaves its tables to the keeper and its queued writes to reg_store, which
 *   still lands them; the unacked reg_success messages come again to the successor.
 */
import {
  GenServer,
  TableKeeper,
  isDownMessage,
  ok,
  noreply,
  reply,
  unexpected,
  type From,
  type ProcessContext,
  type Table,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { regSuccessKey } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import {
  ACCOUNTS_DB,
  type Change,
  type ChangeSubscription,
  type DocumentStore,
  type SavedDoc,
} from '../../src/store/index.ts';
import { ensureAccountDb, ensureRegistrarDbs, REGISTRATIONS_DB } from './databases.ts';
import { REG_STORE, isRegWritten, noteRevs, writeRegistrations, type RegWrite } from './reg-store.ts';
import {
  RegistrationTable,
  REGS_TABLE,
  REG_FEED_TABLE,
  REG_USERS_TABLE,
  type Registration,
} from './registrations.ts';
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

/** A set of writes handed to reg_store, and what to do once all have come back. */
type JobEnd =
  | { kind: 'reg_success'; from: From; result: 'stored' | 'updated' | 'removed'; id: string }
  | { kind: 'sweep'; from?: From; ids: string[] }
  | { kind: 'prime'; expired: number };
interface Job {
  remaining: number;
  error?: string;
  end: JobEnd;
}

interface State {
  table: RegistrationTable;
  /** The registrations database's change feed: deletes made through other nodes. */
  feed: ChangeSubscription | undefined;
  /** `seq` -> the last change applied (kept across restarts with the tables). */
  feedSeq: Table<string, string>;
  /** Ids deleted (per the feed) -> the deletion's revision number and when it was heard. */
  gone: Map<string, { n: number; at: number }>;
  startedAt: number;
  sweepIntervalMs: number;
  jobs: Map<number, Job>;
  nextTag: number;
}

/** What the reg_success call answers. */
export type RegSuccessReply =
  | { result: 'stored' | 'updated' | 'removed'; id: string; error?: string; requeue?: true }
  | { result: 'rejected'; reason: string };

type Call = { op: 'sweep'; now?: number } | { op: 'reg_success'; msg: Record<string, unknown> } | 'stats';
type Cast = { op: 'adopt'; docs: SavedDoc[] };
type FeedMsg = { type: 'reg_feed_change'; sub: ChangeSubscription; change: Change };

/** How long a deletion heard on the feed keeps an older revision from being adopted. */
const GONE_KEEP_MS = 10 * 60_000;

const revNumber = (rev: string): number => Number.parseInt(rev, 10) || 0;

/**
 * Follows the registrations database from `since`; each change comes back as a message.
 * The feed ends with the process, however it ends.
 */
function followRegistrations(store: DocumentStore, ctx: ProcessContext, since: string): ChangeSubscription {
  const self = ctx.self;
  const sub: ChangeSubscription = store.follow(REGISTRATIONS_DB, {
    since,
    onChange: (change) => ctx.send(self, { type: 'reg_feed_change', sub, change } satisfies FeedMsg),
    onError: (err) => {
      if (err.code === 'unavailable' || err.code === 'failed')
        ctx.log.warn(
          { code: err.code, reason: err.reason },
          'registrations change feed interrupted; resumes from where it was',
        );
      else
        ctx.log.error(
          { code: err.code, reason: err.reason },
          'registrations change feed ended: deletes made through other nodes are no longer heard',
        );
    },
    onRecover: () => ctx.log.info('registrations change feed resumed'),
  });
  void ctx.runtime.awaitExit(self).then(() => sub.stop());
  return sub;
}

const isFeedMsg = (m: unknown): m is FeedMsg => (m as FeedMsg)?.type === 'reg_feed_change';

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

const NOT_RUNNING = 'reg_store is not running';

/** Answers every job still waiting (reg_store gone, or reg_server stopping). */
function abandonJobs(s: State, ctx: ProcessContext): void {
  for (const job of s.jobs.values()) {
    job.error = NOT_RUNNING;
    finishJob(job, ctx);
  }
  s.jobs.clear();
}

/** Hands `writes` to reg_store; `end` runs when all have come back (at once if none). */
function submit(s: State, ctx: ProcessContext, writes: RegWrite[], end: JobEnd): void {
  const tag = s.nextTag++;
  const job: Job = { remaining: writes.length, end };
  if (writes.length > 0 && !writeRegistrations(ctx, writes, tag)) job.error = NOT_RUNNING;
  else if (writes.length > 0) return void s.jobs.set(tag, job);
  finishJob(job, ctx);
}

function finishJob(job: Job, ctx: ProcessContext): void {
  const { end, error } = job;
  if (end.kind === 'reg_success') {
    const out: RegSuccessReply =
      error === NOT_RUNNING
        ? { result: end.result, id: end.id, error, requeue: true }
        : { result: end.result, id: end.id, error };
    GenServer.reply(end.from, out);
    return;
  }
  if (error !== undefined)
    ctx.log.error({ err: error, kind: end.kind }, 'registrations: database deletes failed');
  if (end.kind === 'prime') {
    if (end.expired > 0) ctx.log.info({ expired: end.expired }, 'expired registration documents deleted');
    return;
  }
  if (end.ids.length > 0) ctx.log.info({ expired: end.ids.length }, 'expired registrations removed');
  if (end.from !== undefined) GenServer.reply(end.from, end.ids);
}

function sweep(s: State, ctx: ProcessContext, now: number, from?: From): void {
  const writes = s.table.sweep(now);
  submit(s, ctx, writes, { kind: 'sweep', from, ids: writes.map((w) => w.id) });
}

export const RegServer: GenListenerBehaviour<State, RegServerArgs, Call, Cast> = {
  name: REG_SERVER,
  async init(args, ctx) {
    ctx.trapExit(true);
    const regs = await TableKeeper.claim<string, Registration>(ctx, REG_TABLES, REGS_TABLE);
    const users = await TableKeeper.claim<string, readonly string[]>(ctx, REG_TABLES, REG_USERS_TABLE);
    const feedSeq = await TableKeeper.claim<string, string>(ctx, REG_TABLES, REG_FEED_TABLE);
    const table = new RegistrationTable(regs.table, users.table, args.store, REGISTRATIONS_DB);
    ctx.monitor(REG_STORE);
    const s: State = {
      table,
      feed: undefined,
      feedSeq: feedSeq.table,
      gone: new Map(),
      startedAt: Date.now(),
      sweepIntervalMs: args.settings.sweepIntervalMs,
      jobs: new Map(),
      nextTag: 0,
    };
    const since = s.feedSeq.lookup('seq');
    if (regs.inherited && users.inherited && since !== undefined) {
      // The feed goes on from the last change the predecessor applied: deletes made
      // through other nodes meanwhile still reach the inherited tables.
      s.feed = followRegistrations(args.store, ctx, since);
      ctx.log.info(
        { registrations: table.size, queue: args.settings.queue },
        'registrar: registrations kept across the restart',
      );
    } else {
      await ensureDatabases(args.store, ctx);
      // Followed before the tables are read: a delete after the read is heard.
      s.feed = followRegistrations(args.store, ctx, 'now');
      await s.feed.ready;
      s.feedSeq.insert('seq', String(s.feed.lastSeq));
      const primed = await table.prime(Date.now());
      noteRevs(ctx, primed.revs);
      submit(s, ctx, primed.deletes, { kind: 'prime', expired: primed.deletes.length });
      ctx.log.info(
        { loaded: primed.loaded, expired: primed.deletes.length, queue: args.settings.queue },
        'registrar: registrations primed from the database',
      );
    }
    ctx.sendAfter(args.settings.sweepIntervalMs, 'sweep');
    return ok(s);
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
  handleInfo(msg, s, ctx) {
    if (isFeedMsg(msg)) {
      if (msg.sub !== s.feed) return noreply(s);
      const { change } = msg;
      if (change.deleted) {
        s.gone.set(change.id, { n: revNumber(change.rev), at: Date.now() });
        if (s.table.drop(change.id))
          ctx.log.debug({ id: change.id }, 'registration deleted through another node: forgotten');
      }
      s.feedSeq.insert('seq', String(change.seq));
      return noreply(s);
    }
    if (msg === 'sweep') {
      const now = Date.now();
      for (const [id, g] of s.gone) if (now - g.at > GONE_KEEP_MS) s.gone.delete(id);
      sweep(s, ctx, Date.now());
      ctx.sendAfter(s.sweepIntervalMs, 'sweep');
      return noreply(s);
    }
    if (isRegWritten(msg)) {
      const job = typeof msg.tag === 'number' ? s.jobs.get(msg.tag) : undefined;
      if (job === undefined) return unexpected(msg, s);
      if (msg.error !== undefined) job.error ??= msg.error;
      if (--job.remaining === 0) {
        s.jobs.delete(msg.tag as number);
        finishJob(job, ctx);
      }
      return noreply(s);
    }
    if (isDownMessage(msg)) {
      ctx.log.warn({ waiting: s.jobs.size }, 'reg_store ended: waiting reg_success handed back');
      abandonJobs(s, ctx);
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
      submit(s, ctx, out.writes, { kind: 'reg_success', from, result: out.result, id: out.id });
      return noreply(s);
    }
    if (typeof req === 'object' && req.op === 'sweep') {
      sweep(s, ctx, req.now ?? Date.now(), from);
      return noreply(s);
    }
    return reply(
      {
        registrations: s.table.size,
        pendingWrites: s.jobs.size,
        age: Math.floor((Date.now() - s.startedAt) / 1000),
      },
      s,
    );
  },
  handleCast(msg, s, ctx) {
    if (msg.op === 'adopt') {
      // A document read before its deletion reached the feed is not kept.
      const docs = msg.docs.filter((d) => revNumber(d._rev) > (s.gone.get(d._id)?.n ?? 0));
      const revs = s.table.adopt(docs, Date.now());
      noteRevs(ctx, revs);
      if (revs.length > 0)
        ctx.log.debug({ adopted: revs.length }, 'registrations found in the database kept');
      return noreply(s);
    }
    return unexpected(msg, s);
  },
  beforeStop(_reason, s, ctx) {
    abandonJobs(s, ctx);
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
