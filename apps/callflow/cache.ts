/**
 * cf_cache: the callflow app's document cache (Kazoo's callflow_cache), a gen_listener
 * registered as `callflow_cache` that owns a StoreCache and the ChangeFollower keeping it
 * true to the store's change feeds.
 *
 * Contract (GenServer.call, through the helpers below; each answers `{ok}` or `{error}`)
 * - `cfAccount(rt, {accountId?, realm?})`: the account id and database, by id or by realm
 *   (accounts/listing_by_realm); undefined when none.
 * - `cfLookup(rt, db, number)`: the callflow for the number (lookup.ts), cached under
 *   ['callflow', db, number] with origins: the callflow document it came from and every
 *   callflow of the database (a new or edited callflow can change which one matches).
 * - `cfDoc(rt, db, id)` / `cfOwned(rt, db, ownerId, type)`: documents for the modules,
 *   cached with their document (or, for listings, their types) as origins.
 * - The first use of an account database makes its design documents current
 *   (couchdb/account) and starts following its change feed before anything is read from
 *   it, so an edit made after a read always drops that read: the next call follows the
 *   edit. Each drop is logged (`callflow cache: entries dropped`, with db and id).
 * - It is also a gen_listener on `configuration` / `doc_<action>.*.#`: the doc-change
 *   notices other nodes publish (src/node/cache-sync.ts publishDocChange, Kazoo's
 *   crossbar) drop the same entries as the feeds do.
 * - The work runs beside the mailbox (the answers go back with GenServer.reply); a store
 *   error is answered as `{error}` to that caller only. terminate closes the feeds and
 *   the cache, and so does any other end of the process (killed, or an exit signal it does
 *   not trap: terminate does not run then).
 * - Fast path (the route_req path, Kazoo's callflow_cache read from ETS): what
 *   `cfAccount` and `cfLookup` answered is also kept in the protected table
 *   `callflow_cache_fast` owned by this process, read by the helpers directly (no
 *   message, no mailbox); a miss goes to the process. A row is written only while its
 *   StoreCache entry is there (so a change that raced the load is never hidden), expires
 *   with it, and every doc change of its database (feed or bus) drops it before the
 *   StoreCache hears of the change. An account named by id is kept once its database is
 *   ready (that never changes back).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GenServer,
  Table,
  noreply,
  ok,
  type From,
  type Runtime,
  type ChildSpec,
} from '../../src/kernel/index.ts';
import {
  ACCOUNTS_DB,
  ChangeFollower,
  StoreCache,
  accountDbName,
  ensureDesignDocs,
  plainDbName,
  docChangeFromConfMessage,
  readDesignDocs,
  type DocChange,
  type DocumentStore,
} from '../../src/store/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import { lookupCallflow, type Found } from './lookup.ts';

export const CF_CACHE = 'callflow_cache';
export const CF_FAST_TABLE = 'callflow_cache_fast';
/** Rows past this drop the whole fast table (the StoreCache keeps its own bound). */
const FAST_MAX = 10_000;
/** How long a cached answer lives without a change (the StoreCache's and the fast rows'). */
const FAST_TTL_MS = 3_600_000;
const DESIGN = readDesignDocs(join(dirname(fileURLToPath(import.meta.url)), 'couchdb', 'account'));

export interface CacheArgs {
  store: DocumentStore;
}

type Req =
  | { op: 'account'; accountId?: string; realm?: string }
  | { op: 'lookup'; db: string; number: string }
  | { op: 'doc'; db: string; id: string }
  | { op: 'owned'; db: string; ownerId: string; type: string };

type Account = { accountId: string; accountDb: string };
/** A fast row: the answer, the plain name of the database it came from, when it expires. */
interface FastRow {
  readonly value: Account | Found;
  readonly db: string;
  readonly expiresAt: number;
}

/** The StoreCache, whose every doc change first drops the fast rows of its database. */
class MirroredCache extends StoreCache {
  fast: Table<string, FastRow> | undefined;
  override onDocChange(change: DocChange): number {
    const db = plainDbName(change.database);
    this.fast?.matchDelete((r) => r.db === db);
    return super.onDocChange(change);
  }
}

const fastKey = (r: Req): string | undefined =>
  r.op === 'account'
    ? r.accountId !== undefined
      ? `account\u0000${r.accountId}`
      : `realm\u0000${(r.realm ?? '').toLowerCase()}`
    : r.op === 'lookup'
      ? `callflow\u0000${plainDbName(r.db)}\u0000${r.number}`
      : undefined;

/** Called in this process when `req` was answered `value`: mirrors it while the cache holds it. */
function mirror(s: State, r: Req, value: unknown): void {
  const key = fastKey(r);
  if (key === undefined || value === undefined || s.cache.fast === undefined) return;
  let db = '';
  if (r.op === 'account' && r.accountId === undefined) {
    if (s.cache.get(['account_by_realm', (r.realm ?? '').toLowerCase()]) === undefined) return;
    db = plainDbName(ACCOUNTS_DB);
  } else if (r.op === 'lookup') {
    db = plainDbName(r.db);
    if (s.cache.get(['callflow', db, r.number]) === undefined) return;
  }
  if (s.cache.fast.size >= FAST_MAX) s.cache.fast.deleteAll();
  s.cache.fast.insert(key, {
    value: value as Account | Found,
    db,
    expiresAt: db === '' ? Infinity : Date.now() + s.ttlMs,
  });
}

/** The fast row for `r`, read without a message; undefined on a miss. */
function fastRead<T>(rt: Runtime, r: Req): T | undefined {
  if (Table.whereis(rt, CF_FAST_TABLE) === undefined) return undefined;
  const row = Table.reader<string, FastRow>(rt, CF_FAST_TABLE).lookup(fastKey(r)!);
  return row !== undefined && row.expiresAt > Date.now() ? (row.value as T) : undefined;
}

interface State {
  store: DocumentStore;
  cache: MirroredCache;
  /** The StoreCache's entry lifetime (fast rows expire with their entries). */
  ttlMs: number;
  follower: ChangeFollower;
  /** Account databases made ready (design documents, change feed). */
  ready: Map<string, Promise<void>>;
}

function prepare(s: State, db: string, designs: boolean): Promise<void> {
  const name = plainDbName(db);
  let p = s.ready.get(name);
  if (p === undefined) {
    p = (async () => {
      if (designs) await ensureDesignDocs(s.store, db, DESIGN);
      await s.follower.watch(db);
    })();
    p.catch(() => s.ready.delete(name));
    s.ready.set(name, p);
  }
  return p;
}

async function work(s: State, r: Req): Promise<unknown> {
  switch (r.op) {
    case 'account': {
      if (r.accountId !== undefined) {
        const db = accountDbName(r.accountId, 'encoded');
        await prepare(s, db, true);
        return { accountId: r.accountId, accountDb: db };
      }
      await prepare(s, ACCOUNTS_DB, false);
      const realm = (r.realm ?? '').toLowerCase();
      const v = await s.cache.fetch(
        ['account_by_realm', realm],
        async () =>
          (await s.store.view(ACCOUNTS_DB, 'accounts/listing_by_realm', { key: realm })).rows[0]?.value ??
          null,
        { origins: [{ database: ACCOUNTS_DB }] },
      );
      const a = v as { account_id?: string } | null;
      if (a?.account_id === undefined) return undefined;
      const db = accountDbName(a.account_id, 'encoded');
      await prepare(s, db, true);
      return { accountId: a.account_id, accountDb: db };
    }
    case 'lookup': {
      await prepare(s, r.db, true);
      let docId: string | undefined;
      const found = await s.cache.fetch<Found | null>(
        ['callflow', plainDbName(r.db), r.number],
        async () => {
          const f = (await lookupCallflow(s.store, r.db, r.number)) ?? null;
          docId = f?.docId;
          return f;
        },
        { origins: [{ database: r.db, type: 'callflow' }] },
      );
      // The entry also names the document it came from: re-stored with it, only when the
      // fetch stored the value (no change raced the load).
      const key = ['callflow', plainDbName(r.db), r.number];
      if (found !== null && docId !== undefined && s.cache.get(key) !== undefined)
        s.cache.store(key, found, {
          origins: [
            { database: r.db, id: docId },
            { database: r.db, type: 'callflow' },
          ],
        });
      return found ?? undefined;
    }
    case 'doc':
      await prepare(s, r.db, true);
      return s.cache.openDoc(s.store, r.db, r.id);
    case 'owned': {
      await prepare(s, r.db, true);
      return s.cache.fetch(
        ['owned', plainDbName(r.db), r.ownerId, r.type],
        async () =>
          (await s.store.view(r.db, 'attributes/owned', { key: [r.ownerId, r.type] })).rows
            .map((row) => row.id)
            .filter((id): id is string => typeof id === 'string'),
        {
          origins: [
            { database: r.db, type: r.type },
            { database: r.db, type: 'user' },
          ],
        },
      );
    }
  }
}

export const CfCache: GenListenerBehaviour<State, CacheArgs, Req, { op: 'doc_change'; change: DocChange }> = {
  name: 'callflow_cache',
  listen: () => ({
    queue: '',
    bindings: ['doc_created', 'doc_edited', 'doc_deleted'].map((a) => ({
      exchange: 'configuration',
      routingKey: `${a}.*.#`,
    })),
    responders: [
      {
        category: 'configuration',
        name: '*',
        handler: (m, hctx) => {
          const r = docChangeFromConfMessage(m);
          if (r.kind === 'change')
            GenServer.cast(hctx.runtime, hctx.server, { op: 'doc_change', change: r.change });
        },
      },
    ],
  }),
  handleCast(c, s) {
    s.cache.onDocChange(c.change);
    return noreply(s);
  },
  init(args, ctx) {
    const cache = new MirroredCache({ logger: ctx.log, defaultTtlMs: FAST_TTL_MS });
    cache.fast = Table.create<string, FastRow>(ctx, { name: CF_FAST_TABLE, access: 'protected' });
    cache.onInvalidate((e) =>
      ctx.log.info(
        { db: e.change.database, id: e.change.id, dropped: e.erased },
        'callflow cache: entries dropped',
      ),
    );
    const follower = new ChangeFollower({ store: args.store, cache, logger: ctx.log });
    // terminate does not run when the process is killed or ends by an exit signal it does
    // not trap (a sibling's restart under rest_for_one): the feeds and the cache still go
    // with it, or each such end would leave feeds polling the store for ever.
    ctx.signal.addEventListener(
      'abort',
      () => {
        void follower.close();
        cache.close();
      },
      { once: true },
    );
    return ok({ store: args.store, cache, ttlMs: FAST_TTL_MS, follower, ready: new Map() });
  },
  handleCall(req, from: From, s) {
    work(s, req).then(
      (v) => {
        mirror(s, req, v);
        GenServer.reply(from, { ok: v });
      },
      (err: unknown) => GenServer.reply(from, { error: err instanceof Error ? err.message : String(err) }),
    );
    return noreply(s);
  },
  async terminate(_reason, s) {
    await s.follower.close();
    s.cache.close();
  },
};

export const cfCacheChildSpec = (args: CacheArgs, transport: BusTransport): ChildSpec =>
  GenListener.childSpec('callflow_cache', CfCache, args, {
    transport,
    name: CF_CACHE,
    shutdown: 5000,
    appName: 'callflow',
  });

async function ask<T>(rt: Runtime, req: Req): Promise<T> {
  const r = (await GenServer.call(rt, CF_CACHE, req)) as { ok?: T; error?: string };
  if (r.error !== undefined) throw new Error(r.error);
  return r.ok as T;
}

/** Asks the table first, then the process. */
function fastOrAsk<T>(rt: Runtime, req: Req): Promise<T | undefined> {
  const v = fastRead<T>(rt, req);
  return v !== undefined ? Promise.resolve(v) : ask<T | undefined>(rt, req);
}

export const cfAccount = (rt: Runtime, q: { accountId?: string; realm?: string }) =>
  fastOrAsk<Account>(rt, { op: 'account', ...q });
export const cfLookup = (rt: Runtime, db: string, number: string) =>
  fastOrAsk<Found>(rt, { op: 'lookup', db, number });
export const cfDoc = (rt: Runtime, db: string, id: string) =>
  ask<Record<string, unknown>>(rt, { op: 'doc', db, id });
export const cfOwned = (rt: Runtime, db: string, ownerId: string, type: string) =>
  ask<string[]>(rt, { op: 'owned', db, ownerId, type });
