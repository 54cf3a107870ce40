/**
 * reg_authn: the registrar's gen_listener for the questions: authn_req (both Kamailio
 * namings) and reg_query; the owner of the credentials table (credentials.ts) and of the
 * change feeds that keep it true.
 *
 * Contract
 * - init: claims `registrar_credentials` from the registrar's TableKeeper (`reg_tables`).
 *   Claimed fresh (a start): follows the accounts database and, with
 *   settings.prime_credentials, loads every device's credentials. Inherited (a restart
 *   after a crash): the rows are kept; for each database followed before, the changes
 *   since the last sequence its predecessor applied are applied first (rows they touch
 *   go), then the database is followed from there. All this before the queue is bound,
 *   so nothing changed in the gap is answered, and nothing else is re-read. The feeds end
 *   with the process, however it ends.
 * - Only this process writes the table. Its responders (outside the process) read it
 *   through a reader and send what they load: the cast `{op: 'remember', key, value,
 *   origins, epoch}`; `{op: 'watch', db}` (a call, answered once the feed is established)
 *   comes before they load anything of a database. Feed changes arrive as messages.
 * - Queue: the named, shared `settings.queue` (Kazoo's `registrar_listener`), not
 *   auto-deleted: requests published while the registrar restarts wait for it. Consumed
 *   without acks as Kazoo does (answers are idempotent; a request in flight in a registrar
 *   that dies is lost and the proxy asks again after its timeout); with settings
 *   `authn_ack: true` each is acked once answered and redelivered after such a death.
 *   Bindings: callmgr `authn.req.*`, registrar `authn.endpoint.req.*`,
 *   `registration.query.*.*`.
 * - Responders: authn_req (authn-handler.ts), reg_query (reg-query-handler.ts, reading
 *   reg_server's tables; registrations found only in the database go to reg_server).
 *   A responder still running for an ended incarnation reads the same tables and sends
 *   to the registered names, so it answers with the current state and writes nothing
 *   itself.
 * - Registrar-Age: seconds since this incarnation started.
 * - Other info messages are the kernel's unexpected ones.
 */
import {
  GenServer,
  Table,
  TableKeeper,
  ok,
  noreply,
  reply,
  unexpected,
  type From,
  type ProcessContext,
  type Runtime,
} from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { authnEndpointReqKey, authnReqKey, regQueryKey, type BuildContext } from '../../src/api/index.ts';
import type { BusTransport } from '../../src/bus/index.ts';
import {
  ACCOUNTS_DB,
  canonicalDbName,
  type Change,
  type ChangeSubscription,
  type SavedDoc,
  type StoreError,
} from '../../src/store/index.ts';
import { handleAuthnReq, transportPublisher } from './authn-handler.ts';
import { handleRegQuery } from './reg-query-handler.ts';
import { REG_SERVER, REG_TABLES, type RegServerArgs } from './reg-server.ts';
import { RegistrationView, REGS_TABLE, REG_USERS_TABLE } from './registrations.ts';
import {
  CredentialTable,
  CREDS_TABLE,
  primeCredentials,
  type CredentialDeps,
  type CredRow,
} from './credentials.ts';
import { DeviceBatcher } from './device-batcher.ts';

export const REG_AUTHN = 'reg_authn';

interface Feed {
  sub: ChangeSubscription;
  ready: boolean;
  waiters: From[];
}

/** reg_authn's arguments: reg_server's configuration and the transport its replies leave by. */
export interface RegAuthnArgs extends RegServerArgs {
  readonly transport: BusTransport;
}

interface State {
  creds: CredentialTable;
  feeds: Map<string, Feed>;
  args: RegAuthnArgs;
  ctx: ProcessContext;
}

type Call = { op: 'watch'; db: string } | 'stats';
type Cast = { op: 'remember'; key: string; value: unknown; origins: string[]; epoch: number };
type FeedMsg =
  | { type: 'feed_change'; sub: ChangeSubscription; db: string; change: Change }
  | { type: 'feed_ready'; sub: ChangeSubscription; db: string; error?: string }
  | { type: 'feed_ended'; sub: ChangeSubscription; db: string; err: StoreError };

/**
 * Starts following `db` (from `since`, or now); its changes, readiness and end come back
 * as messages. The subscription is kept in the state at once.
 */
function follow(
  args: RegAuthnArgs,
  ctx: ProcessContext,
  feeds: Map<string, Feed>,
  db: string,
  since?: string,
): Feed {
  const self = ctx.self;
  const feed: Feed = { sub: undefined as unknown as ChangeSubscription, ready: false, waiters: [] };
  const sub = args.store.follow(db, {
    since,
    onChange: (change) => ctx.send(self, { type: 'feed_change', sub, db, change } satisfies FeedMsg),
    onError: (err) => {
      if (err.code === 'unavailable' || err.code === 'failed')
        ctx.log.warn(
          { db, code: err.code, reason: err.reason },
          'change feed interrupted; kept credentials are served until it resumes',
        );
      else ctx.send(self, { type: 'feed_ended', sub, db, err } satisfies FeedMsg);
    },
    onRecover: () => ctx.log.info({ db }, 'change feed resumed'),
  });
  feed.sub = sub;
  feeds.set(db, feed);
  sub.ready.then(
    () => ctx.send(self, { type: 'feed_ready', sub, db } satisfies FeedMsg),
    (err: unknown) =>
      ctx.send(self, { type: 'feed_ready', sub, db, error: (err as Error).message } satisfies FeedMsg),
  );
  return feed;
}

/** Applies the changes of `db` since `since`, page by page; answers where it got to. */
async function catchUp(
  args: RegAuthnArgs,
  creds: CredentialTable,
  db: string,
  since: string,
): Promise<{ seq: string; dropped: number }> {
  let seq = since;
  let dropped = 0;
  for (;;) {
    const page = await args.store.changes(db, { since: seq, limit: 500 });
    for (const c of page.results) dropped += creds.change(db, c);
    if (page.results.length === 0 || String(page.lastSeq) === seq) return { seq, dropped };
    seq = String(page.lastSeq);
  }
}

const isFeedMsg = (m: unknown): m is FeedMsg => {
  const t = (m as { type?: unknown })?.type;
  return t === 'feed_change' || t === 'feed_ready' || t === 'feed_ended';
};

export const RegAuthn: GenListenerBehaviour<State, RegAuthnArgs, Call, Cast> = {
  name: REG_AUTHN,
  async init(args, ctx) {
    ctx.trapExit(true);
    const claimed = await TableKeeper.claim<string, CredRow | string | number>(ctx, REG_TABLES, CREDS_TABLE);
    const creds = new CredentialTable(claimed.table, args.settings.cacheMaxEntries);
    const feeds = new Map<string, Feed>();
    // However this incarnation ends, its feeds end with it.
    void ctx.runtime
      .awaitExit(ctx.self)
      .then(() => Promise.allSettled([...feeds.values()].map((f) => f.sub.stop())));
    if (claimed.inherited) {
      // Catch up first (what changed while no one followed: the dead incarnation's last
      // moments and the gap), then follow from there: no stale row is ever answered.
      const seqs = creds.sequences();
      let dropped = 0;
      for (const [db, since] of seqs) {
        const caughtUp = await catchUp(args, creds, db, since).catch((err: unknown) => {
          ctx.log.warn(
            { db, err: (err as Error).message },
            'change feed not resumable; credentials from this database dropped',
          );
          dropped += creds.dropDb(db);
          return undefined;
        });
        if (caughtUp === undefined) continue;
        dropped += caughtUp.dropped;
        follow(args, ctx, feeds, db, caughtUp.seq);
      }
      await Promise.all([...feeds.values()].map((f) => f.sub.ready));
      ctx.log.info(
        { credentials: creds.cached, resumed: feeds.size, dropped },
        'registrar: credentials kept across the restart',
      );
      return ok({ creds, feeds, args, ctx });
    }
    // At a start this process is the only reader: the priming writes straight into its table.
    const deps: CredentialDeps = {
      store: args.store,
      table: creds.table,
      watch: async (db) => {
        const name = canonicalDbName(db);
        const { sub } = feeds.get(name) ?? follow(args, ctx, feeds, name);
        await sub.ready;
        creds.followed(name, String(sub.lastSeq));
      },
      remember: (key, value, origins, epoch) => void creds.remember(key, value, origins, epoch),
      devices: new DeviceBatcher(args.store),
      inflight: new Map(),
    };
    await deps.watch(ACCOUNTS_DB);
    const credentials = args.settings.primeCredentials ? await primeCredentials(deps) : 0;
    ctx.log.info(
      { credentials, queue: args.settings.queue },
      'registrar: credentials primed from the database',
    );
    return ok({ creds, feeds, args, ctx });
  },
  listen(args) {
    const startedAt = Date.now();
    const age = (): number => Math.floor((Date.now() - startedAt) / 1000);
    const publish = transportPublisher(args.transport);
    let buildCtx: BuildContext | undefined;
    // Read handles, made on first use (the tables exist once init has run).
    let rt: Runtime | undefined;
    let deps: CredentialDeps | undefined;
    let view: RegistrationView | undefined;
    const credDeps = (r: Runtime): CredentialDeps =>
      (deps ??= {
        store: args.store,
        table: Table.reader(r, CREDS_TABLE),
        watch: async (db) => {
          const failed = await GenServer.call<string | undefined>(r, REG_AUTHN, {
            op: 'watch',
            db,
          } satisfies Call);
          if (failed !== undefined) throw new Error(`cannot follow ${db}: ${failed}`);
        },
        remember: (key, value, origins, epoch) =>
          void GenServer.cast(r, REG_AUTHN, { op: 'remember', key, value, origins, epoch } satisfies Cast),
        devices: new DeviceBatcher(args.store),
        inflight: new Map(),
      });
    const ctxOf = (r: Runtime): BuildContext =>
      (buildCtx ??= { appName: 'registrar', appVersion: args.appVersion, node: r.node });
    return {
      queue: args.settings.queue,
      queueOptions: { autoDelete: false },
      selfBinding: false,
      ackMode: args.settings.authnAck ? 'after-handlers' : 'auto',
      prefetch: args.settings.prefetch,
      concurrency: args.settings.concurrency,
      bindings: [
        { exchange: 'callmgr', routingKey: authnReqKey('*') },
        { exchange: 'registrar', routingKey: authnEndpointReqKey('*') },
        { exchange: 'registrar', routingKey: regQueryKey('*', '*') },
      ],
      responders: [
        {
          category: 'directory',
          name: 'authn_req',
          handler: (m, ctx) => handleAuthnReq(credDeps(ctx.runtime), ctxOf(ctx.runtime), publish, m, ctx),
        },
        {
          category: 'directory',
          name: 'reg_query',
          handler: (m, ctx) => {
            rt ??= ctx.runtime;
            view ??= new RegistrationView(Table.reader(rt, REGS_TABLE), Table.reader(rt, REG_USERS_TABLE));
            const r = rt;
            const adopt = (docs: SavedDoc[]): void =>
              void GenServer.cast(r, REG_SERVER, { op: 'adopt', docs });
            return handleRegQuery({ view, store: args.store, adopt }, age, ctxOf(r), m, ctx);
          },
        },
      ],
    };
  },
  handleCall(req, from, s) {
    if (typeof req === 'object' && req.op === 'watch') {
      const db = canonicalDbName(req.db);
      const feed = s.feeds.get(db) ?? follow(s.args, s.ctx, s.feeds, db);
      if (feed.ready) return reply(undefined, s);
      feed.waiters.push(from);
      return noreply(s);
    }
    return reply({ credentials: s.creds.cached, watching: [...s.feeds.keys()].sort() }, s);
  },
  handleCast(msg, s) {
    if (msg.op === 'remember') {
      s.creds.remember(msg.key, msg.value, msg.origins, msg.epoch);
      return noreply(s);
    }
    return unexpected(msg, s);
  },
  handleInfo(msg, s, ctx) {
    if (isFeedMsg(msg)) {
      const feed = s.feeds.get(msg.db);
      if (feed?.sub !== msg.sub) return noreply(s); // a feed replaced or stopped meanwhile
      if (msg.type === 'feed_change') s.creds.change(msg.db, msg.change);
      else if (msg.type === 'feed_ready') {
        if (msg.error !== undefined) {
          s.feeds.delete(msg.db);
          for (const w of feed.waiters.splice(0)) GenServer.reply(w, msg.error);
        } else {
          feed.ready = true;
          s.creds.followed(msg.db, String(msg.sub.lastSeq));
          for (const w of feed.waiters.splice(0)) GenServer.reply(w, undefined);
        }
      } else {
        s.feeds.delete(msg.db);
        const dropped = s.creds.dropDb(msg.db);
        ctx.log.error(
          { db: msg.db, code: msg.err.code, reason: msg.err.reason, dropped },
          'change feed ended; credentials from this database dropped',
        );
      }
      return noreply(s);
    }
    const type = (msg as { type?: unknown })?.type;
    if (type === 'gen_listener' || type === 'EXIT') return noreply(s);
    return unexpected(msg, s);
  },
};

export function regAuthnChildSpec(args: RegAuthnArgs) {
  return GenListener.childSpec(REG_AUTHN, RegAuthn, args, {
    transport: args.transport,
    name: REG_AUTHN,
    appName: 'registrar',
    appVersion: args.appVersion,
    shutdown: 10_000,
  });
}
