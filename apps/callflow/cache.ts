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
 *   the cache.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenServer, noreply, ok, type From, type Runtime, type ChildSpec } from '../../src/kernel/index.ts';
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
const DESIGN = readDesignDocs(join(dirname(fileURLToPath(import.meta.url)), 'couchdb', 'account'));

export interface CacheArgs {
  store: DocumentStore;
}

type Req =
  | { op: 'account'; accountId?: string; realm?: string }
  | { op: 'lookup'; db: string; number: string }
  | { op: 'doc'; db: string; id: string }
  | { op: 'owned'; db: string; ownerId: string; type: string };

interface State {
  store: DocumentStore;
  cache: StoreCache;
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
    const cache = new StoreCache({ logger: ctx.log });
    cache.onInvalidate((e) =>
      ctx.log.info(
        { db: e.change.database, id: e.change.id, dropped: e.erased },
        'callflow cache: entries dropped',
      ),
    );
    const follower = new ChangeFollower({ store: args.store, cache, logger: ctx.log });
    return ok({ store: args.store, cache, follower, ready: new Map() });
  },
  handleCall(req, from: From, s) {
    work(s, req).then(
      (v) => GenServer.reply(from, { ok: v }),
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

export const cfAccount = (rt: Runtime, q: { accountId?: string; realm?: string }) =>
  ask<{ accountId: string; accountDb: string } | undefined>(rt, { op: 'account', ...q });
export const cfLookup = (rt: Runtime, db: string, number: string) =>
  ask<Found | undefined>(rt, { op: 'lookup', db, number });
export const cfDoc = (rt: Runtime, db: string, id: string) =>
  ask<Record<string, unknown>>(rt, { op: 'doc', db, id });
export const cfOwned = (rt: Runtime, db: string, ownerId: string, type: string) =>
  ask<string[]>(rt, { op: 'owned', db, ownerId, type });
