/**
 * reg_store: the registrar's batched writer of registration documents (write-behind), a
 * gen_server under registrar_sup, so a burst of REGISTERs costs a few bulk writes
 * instead of one round trip each.
 *
 * Contract
 * - Client: `writeRegistrations(ctx, writes, tag)` casts `{op: 'write'}` (each write is
 *   a document to put, or `doc: null` to delete that id); once an id's latest state is in
 *   the database, reg_store sends the writer the message `{type: 'reg_store_written', tag,
 *   id, error?}`, one per id (`error` when the store refused that document: it is then
 *   dropped). Later writes of an id before it is flushed supersede earlier ones and share
 *   their completion. `noteRevs(ctx, [[id, rev]])` tells revisions read elsewhere.
 * - A put marked `supersede` (a new Contact for a user) also deletes, in the same bulk
 *   write, every other registration document of its Realm + Username that the batch does
 *   not write (one by_user_realm read per batch that has such puts): the documents other
 *   nodes stored for the user's old Contacts. A delete that fails (conflict: written again
 *   meanwhile) is logged and left.
 * - Pending writes live in the table `registrar_reg_writes` (id -> the latest document
 *   and who waits for it), claimed from the registrar's TableKeeper (`reg_tables`): a row
 *   leaves it only once the database has the document. A crash of reg_store (batch in
 *   flight or not) leaves the rows to the keeper; the successor claims them and writes
 *   them all again (at worst one extra revision of a document that had landed), and the
 *   waiters still alive get their message. Nothing is lost unless the keeper ends too
 *   (the whole registrar down): then the unwritten rows go, but none of them was
 *   acknowledged (reg_success is acked only after its message came back).
 * - A flush starts when the `flush` message sent to itself on the first write comes
 *   back (so the writes already in the mailbox join the batch), at most `maxBatch` ids
 *   per bulk write, one write in flight at a time. The write runs outside the handler;
 *   its outcome comes back as the message `{type: 'batch_done'}` and only the handler
 *   changes the table.
 * - Revisions are remembered (from `noteRevs` and each write); ids with no known revision
 *   are looked up in one `allDocs` per batch. A conflict re-reads the revision and
 *   retries (3 times, then the id is reported with the error). A failed store call
 *   (network, server down, any error but those below) keeps every row and retries the
 *   batch after the kernel's backoff (src/kernel/backoff.ts), for ever, logged each
 *   time. 'invalid', 'not_found' (the database is gone) and 'closed' will not get better:
 *   the batch's ids are reported with the error and dropped (as RetryingWriter does).
 * - terminate (stop, shutdown): waits for the write in flight, then flushes what is
 *   pending (3 tries); rows still unwritten pass with the table to the keeper.
 * - Calls: `stats` -> {pending, inFlight, failures}.
 */
import {
  GenServer,
  TableKeeper,
  backoffDelay,
  backoffPolicy,
  exposeCounters,
  noreply,
  ok,
  reply,
  unexpected,
  type BackoffPolicy,
  type GenServerBehaviour,
  type Pid,
  type ProcessContext,
  type Table,
} from '../../src/kernel/index.ts';
import { isStoreError, type DocInput, type DocumentStore, type Doc } from '../../src/store/index.ts';

export const REG_STORE = 'reg_store';
export const REG_WRITES_TABLE = 'registrar_reg_writes';

export interface RegWrite {
  id: string;
  /** The document to store, or null to delete the id. */
  doc: Doc | null;
  /** The document replaces every other registration of its Realm + Username in the database. */
  supersede?: true;
}
export interface RegWritten {
  type: 'reg_store_written';
  tag: unknown;
  id: string;
  error?: string;
}

type Waiter = { to: Pid; tag: unknown };
/** A pending write: `seq` grows with each write of the id, so a result knows if it is stale. */
interface Row {
  doc: Doc | null;
  /** A put that replaces the user's other documents (kept while the id is pending). */
  supersede?: boolean;
  seq: number;
  conflicts: number;
  waiters: readonly Waiter[];
}

type Cast =
  | { op: 'write'; writes: RegWrite[]; notify: Pid; tag: unknown }
  | { op: 'revs'; revs: Array<[string, string]> };

/** What a batch write answers (computed outside the handler, applied by it). */
type BatchOutcome =
  | { ok: false; error: string; final: boolean; sent: Array<[string, number]> }
  | {
      ok: true;
      learned: Array<[string, string]>;
      results: Array<{ id: string; seq: number; rev?: string; error?: { code: string; reason: string } }>;
      /** Other documents of superseding users deleted, and those that could not be. */
      superseded: string[];
      supersedeFailed: Array<{ id: string; code: string }>;
    };

interface Flight {
  n: number;
  done: Promise<BatchOutcome>;
}

interface State {
  store: DocumentStore;
  db: string;
  maxBatch: number;
  backoff: BackoffPolicy;
  pending: Table<string, Row>;
  revs: Map<string, string>;
  flight: Flight | undefined;
  flushQueued: boolean;
  retryAttempt: number;
  flights: number;
}

export interface RegStoreArgs {
  readonly store: DocumentStore;
  readonly db: string;
  readonly keeper: string;
  readonly maxBatch?: number;
  readonly backoff?: Partial<BackoffPolicy>;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 };
const MAX_CONFLICTS = 3;
/** Store errors a retry will not cure. */
const FINAL = new Set(['invalid', 'not_found', 'closed']);

/** Casts writes to reg_store; false when it is not running (nothing was queued). */
export function writeRegistrations(ctx: ProcessContext, writes: RegWrite[], tag: unknown): boolean {
  if (writes.length === 0) return true;
  return GenServer.cast(ctx.runtime, REG_STORE, {
    op: 'write',
    writes,
    notify: ctx.self,
    tag,
  } satisfies Cast);
}

export function noteRevs(ctx: ProcessContext, revs: Array<[string, string]>): void {
  if (revs.length > 0) GenServer.cast(ctx.runtime, REG_STORE, { op: 'revs', revs } satisfies Cast);
}

export const isRegWritten = (m: unknown): m is RegWritten => (m as RegWritten)?.type === 'reg_store_written';

function queueFlush(s: State, ctx: ProcessContext): void {
  if (s.flight !== undefined || s.flushQueued || s.pending.size === 0) return;
  s.flushQueued = true;
  ctx.send(ctx.self, 'flush');
}

/** Takes the next batch and starts its write; the outcome comes back as `batch_done`. */
function startFlight(s: State, ctx: ProcessContext): void {
  const batch: Array<[string, Row]> = [];
  for (const e of s.pending.entries()) {
    batch.push(e);
    if (batch.length >= s.maxBatch) break;
  }
  if (batch.length === 0) return;
  const flight: Flight = { n: batch.length, done: writeBatch(s.store, s.db, batch, new Map(s.revs)) };
  s.flight = flight;
  s.flights++;
  const self = ctx.self;
  void flight.done.then((outcome) => ctx.send(self, { type: 'batch_done', flight, outcome }));
}

/** The store round trips of one batch; changes no state, never rejects. */
async function writeBatch(
  store: DocumentStore,
  db: string,
  batch: Array<[string, Row]>,
  revs: Map<string, string>,
): Promise<BatchOutcome> {
  try {
    const learned: Array<[string, string]> = [];
    const unknown = batch.map(([id]) => id).filter((id) => !revs.has(id));
    if (unknown.length > 0) {
      const res = await store.allDocs(db, { keys: unknown });
      for (const row of res.rows) {
        const v = row.value as { rev?: string; deleted?: boolean } | undefined;
        if (row.id !== undefined && v?.rev !== undefined && v.deleted !== true) {
          learned.push([row.id, v.rev]);
          revs.set(row.id, v.rev);
        }
      }
    }
    const results: Extract<BatchOutcome, { ok: true }>['results'] = [];
    const sent: Array<[string, number]> = [];
    const docs: DocInput[] = [];
    for (const [id, row] of batch) {
      const rev = revs.get(id);
      if (row.doc === null && rev === undefined) {
        results.push({ id, seq: row.seq });
        continue;
      }
      sent.push([id, row.seq]);
      docs.push(
        row.doc === null ? { _id: id, _rev: rev, _deleted: true } : { ...row.doc, _id: id, _rev: rev },
      );
    }
    const olds = await supersededDocs(store, db, batch);
    docs.push(...olds.map((o) => ({ _id: o.id, _rev: o.rev, _deleted: true })));
    const superseded: string[] = [];
    const supersedeFailed: Array<{ id: string; code: string }> = [];
    if (docs.length > 0) {
      const saved = await store.bulkSave(db, docs);
      saved.forEach((r, i) => {
        if (i >= sent.length) {
          const id = olds[i - sent.length]!.id;
          if (r.ok) superseded.push(id);
          else supersedeFailed.push({ id, code: r.error.code });
          return;
        }
        const [id, seq] = sent[i]!;
        results.push(
          r.ok ? { id, seq, rev: r.rev } : { id, seq, error: { code: r.error.code, reason: r.error.reason } },
        );
      });
    }
    return { ok: true, learned, results, superseded, supersedeFailed };
  } catch (err) {
    return {
      ok: false,
      error: (err as Error).message,
      final: isStoreError(err) && FINAL.has(err.code),
      sent: batch.map(([id, row]) => [id, row.seq]),
    };
  }
}

/**
 * The documents a batch's superseding puts replace: every registration document of their
 * users (by_user_realm) whose id the batch does not write itself.
 */
async function supersededDocs(
  store: DocumentStore,
  db: string,
  batch: Array<[string, Row]>,
): Promise<Array<{ id: string; rev: string }>> {
  const users = new Map<string, [string, string]>();
  for (const [, row] of batch)
    if (row.supersede === true && row.doc !== null) {
      const key: [string, string] = [
        String(row.doc.Realm).toLowerCase(),
        String(row.doc.Username).toLowerCase(),
      ];
      users.set(key.join('\u0000'), key);
    }
  if (users.size === 0) return [];
  const inBatch = new Set(batch.map(([id]) => id));
  const res = await store.view(db, 'registrations/by_user_realm', {
    keys: [...users.values()],
    includeDocs: true,
  });
  return res.rows.flatMap((r) =>
    r.doc !== undefined && r.doc !== null && !inBatch.has(r.doc._id)
      ? [{ id: r.doc._id, rev: r.doc._rev }]
      : [],
  );
}

/** Applies a batch's outcome to the table (the handler's part). Answers whether it failed. */
function applyOutcome(s: State, ctx: ProcessContext, outcome: BatchOutcome): boolean {
  if (!outcome.ok && outcome.final) {
    ctx.log.error(
      { err: outcome.error, ids: outcome.sent.length },
      'registrations: batch write failed for good',
    );
    for (const [id, seq] of outcome.sent) {
      const row = s.pending.lookup(id);
      if (row !== undefined && row.seq === seq) finish(s, ctx, id, row.waiters, outcome.error);
    }
    return false;
  }
  if (!outcome.ok) {
    s.retryAttempt++;
    ctx.log.error(
      { err: outcome.error, pending: s.pending.size, attempt: s.retryAttempt },
      'registrations: batch write failed; kept, retried',
    );
    return true;
  }
  s.retryAttempt = 0;
  for (const [id, rev] of outcome.learned) s.revs.set(id, rev);
  for (const id of outcome.superseded) s.revs.delete(id);
  if (outcome.superseded.length > 0)
    ctx.log.debug({ ids: outcome.superseded }, 'registrations replaced through another node deleted');
  for (const f of outcome.supersedeFailed) {
    s.revs.delete(f.id);
    // A conflict: the old document changed meanwhile (written again); its node keeps it.
    ctx.log.warn({ id: f.id, code: f.code }, 'registrations: a replaced document could not be deleted');
  }
  for (const r of outcome.results) {
    const row = s.pending.lookup(r.id);
    const current = row !== undefined && row.seq === r.seq;
    if (r.error === undefined) {
      if (r.rev === undefined || row?.doc === null) s.revs.delete(r.id);
      else s.revs.set(r.id, r.rev);
      // A row written again meanwhile stays for the next batch, with its waiters.
      if (current) finish(s, ctx, r.id, row.waiters);
    } else if (r.error.code === 'conflict') {
      s.revs.delete(r.id);
      if (current && row.conflicts >= MAX_CONFLICTS) {
        ctx.log.error({ id: r.id, reason: r.error.reason }, 'registrations: write conflicts again and again');
        finish(s, ctx, r.id, row.waiters, r.error.reason);
      } else if (current) s.pending.insert(r.id, { ...row, conflicts: row.conflicts + 1 });
    } else if (current) {
      ctx.log.error({ id: r.id, code: r.error.code, reason: r.error.reason }, 'registrations: write refused');
      finish(s, ctx, r.id, row.waiters, `${r.error.code}: ${r.error.reason}`);
    }
  }
  return false;
}

function finish(s: State, ctx: ProcessContext, id: string, waiters: readonly Waiter[], error?: string): void {
  s.pending.delete(id);
  for (const w of waiters)
    ctx.send(w.to, { type: 'reg_store_written', tag: w.tag, id, error } satisfies RegWritten);
}

export const RegStore: GenServerBehaviour<State, RegStoreArgs, 'stats', Cast> = {
  name: REG_STORE,
  async init(args, ctx) {
    ctx.trapExit(true);
    const claimed = await TableKeeper.claim<string, Row>(ctx, args.keeper, REG_WRITES_TABLE);
    const s: State = {
      store: args.store,
      db: args.db,
      maxBatch: args.maxBatch ?? 500,
      backoff: backoffPolicy(args.backoff, DEFAULT_BACKOFF),
      pending: claimed.table,
      revs: new Map(),
      flight: undefined,
      flushQueued: false,
      retryAttempt: 0,
      flights: 0,
    };
    exposeCounters(ctx, () => ({ pending: s.pending.size, batches: s.flights }));
    if (claimed.inherited && s.pending.size > 0)
      ctx.log.warn(
        { pending: s.pending.size },
        'registrations: writes left by the previous reg_store taken over; written again',
      );
    queueFlush(s, ctx);
    return ok(s);
  },
  handleCast(msg, s, ctx) {
    if (msg.op === 'write') {
      for (const w of msg.writes) {
        const row = s.pending.lookup(w.id);
        s.pending.insert(w.id, {
          doc: w.doc,
          supersede: w.doc !== null && (w.supersede === true || (row?.supersede ?? false)),
          seq: (row?.seq ?? 0) + 1,
          conflicts: 0,
          waiters: [...(row?.waiters ?? []), { to: msg.notify, tag: msg.tag }],
        });
      }
      queueFlush(s, ctx);
      return noreply(s);
    }
    if (msg.op === 'revs') {
      for (const [id, rev] of msg.revs) s.revs.set(id, rev);
      return noreply(s);
    }
    return unexpected(msg, s);
  },
  handleInfo(msg, s, ctx) {
    if (msg === 'flush' || msg === 'retry') {
      if (msg === 'flush') s.flushQueued = false;
      if (s.flight === undefined && (msg === 'retry' || s.retryAttempt === 0)) startFlight(s, ctx);
      return noreply(s);
    }
    const done = msg as { type?: unknown; flight?: Flight; outcome?: BatchOutcome };
    if (done?.type === 'batch_done' && done.flight === s.flight && done.outcome !== undefined) {
      s.flight = undefined;
      if (applyOutcome(s, ctx, done.outcome))
        ctx.sendAfter(backoffDelay(s.retryAttempt - 1, s.backoff), 'retry');
      else queueFlush(s, ctx);
      return noreply(s);
    }
    if (done?.type === 'EXIT') return noreply(s);
    return unexpected(msg, s);
  },
  handleCall(_req, _from, s) {
    return reply({ pending: s.pending.size, inFlight: s.flight?.n ?? 0, failures: s.retryAttempt }, s);
  },
  async terminate(_reason, s, ctx) {
    if (s.flight !== undefined) applyOutcome(s, ctx, await s.flight.done);
    s.flight = undefined;
    for (let tries = 0; s.pending.size > 0 && tries < 3;) {
      const batch = [...s.pending.entries()].slice(0, s.maxBatch);
      if (applyOutcome(s, ctx, await writeBatch(s.store, s.db, batch, new Map(s.revs)))) tries++;
    }
    if (s.pending.size > 0)
      ctx.log.error({ pending: s.pending.size }, 'registrations: not all written at stop');
  },
  describe: (s) => ({ pending: s.pending.size, in_flight: s.flight?.n ?? 0, failures: s.retryAttempt }),
};

export function regStoreChildSpec(args: RegStoreArgs) {
  return GenServer.childSpec(REG_STORE, RegStore, args, { name: REG_STORE, shutdown: 10_000 });
}
