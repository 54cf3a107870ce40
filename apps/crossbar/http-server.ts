/**
 * crossbar_http: the gen_server that owns crossbar's HTTP server (server.ts), so the REST
 * API is supervised like every long-lived thing: a crash of the process closes the
 * server and its supervisor starts a new one on the same address.
 *
 * Contract
 * - init makes crossbar's databases and design documents current (each followed by the
 *   document cache, doc-cache.ts, from then on), loads (or creates) the
 *   token signing key from the store, and binds `settings.host:settings.port`. A port in
 *   use fails the start with "crossbar cannot listen on HOST:PORT: the address is in use
 *   (...)" naming the settings to change. The port is free again by the time the
 *   process's exit is seen, however it ended (src/node/http-listen.ts), so a restarted
 *   incarnation can bind it. Its document cache's change feeds and its registrar
 *   requester end with it too, a kill included (which skips terminate).
 * - Once listening, a store with no account yet gets one info line (`no account yet: ...`,
 *   field `api`) naming the commands that make the first login (`fife account add`,
 *   `fife user add`).
 * - `describe()` gives `{url}` (`http://HOST:PORT` with the bound port); `crossbarUrl(rt)`
 *   reads it.
 */
import { Requester, type BusTransport } from '../../src/bus/index.ts';
import {
  GenServer,
  ok,
  type GenServerBehaviour,
  type ProcessContext,
  type Runtime,
} from '../../src/kernel/index.ts';
import { ACCOUNTS_DB, type DocumentStore } from '../../src/store/index.ts';
import type { Crossbar } from './context.ts';
import { listenOwned } from '../../src/node/http-listen.ts';
import { Databases } from './databases.ts';
import { CrossbarDocCache } from './doc-cache.ts';
import { buildCrossbar } from './server.ts';
import type { CrossbarSettings } from './settings.ts';
import { TokenKeys } from './tokens.ts';

export const CROSSBAR_HTTP = 'crossbar_http';

/** How long a devices' status waits for the registrar (Kazoo's default request wait). */
const REG_QUERY_TIMEOUT_MS = 2000;

export interface CrossbarHttpArgs {
  store: DocumentStore;
  settings: CrossbarSettings;
  /** The bus the registrar is asked on (devices' status); without it status is refused. */
  bus?: BusTransport;
}

interface State {
  url: string;
  close(): Promise<void>;
  registrar?: Requester;
  docs: CrossbarDocCache;
}

export const CrossbarHttp: GenServerBehaviour<State, CrossbarHttpArgs> = {
  name: CROSSBAR_HTTP,
  async init(a, ctx: ProcessContext) {
    ctx.trapExit(true);
    const { host, port } = a.settings;
    // Reads of accounts and account documents come from a cache the change feeds keep true.
    const docs = new CrossbarDocCache(a.store, ctx.log);
    let registrar: Requester | undefined;
    // However the process ends (a kill skips terminate), its feeds and reply queue end with it.
    ctx.signal.addEventListener('abort', () => void Promise.allSettled([registrar?.stop(), docs.close()]), {
      once: true,
    });
    const dbs = new Databases(docs.store, (db) => docs.watch(db));
    await dbs.system();
    if (a.bus !== undefined) {
      registrar = new Requester({ transport: a.bus, logger: ctx.log, timeoutMs: REG_QUERY_TIMEOUT_MS });
      await registrar.start();
    }
    const cb: Crossbar = {
      registrar,
      store: docs.store,
      dbs,
      keys: await TokenKeys.load(a.store),
      settings: a.settings,
      log: ctx.log,
      node: ctx.runtime.node,
    };
    const app = await buildCrossbar(cb);
    const { url, close } = await listenOwned(ctx, app, {
      host,
      port,
      what: 'crossbar',
      portSetting: 'settings.crossbar.port or FIFE_CROSSBAR_PORT',
    });
    ctx.log.info({ url, max_body_bytes: a.settings.maxBodyBytes }, 'crossbar listening');
    await hintFirstLogin(a.store, `${url}/v2`, ctx);
    return ok({ url, close, registrar, docs });
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    await s.close();
    await s.registrar?.stop();
    await s.docs.close();
  },
};

/**
 * A store without an account yet (a first run): one info line with the API's address and
 * the two commands that make the first login, since no API call can make the first account.
 */
async function hintFirstLogin(store: DocumentStore, api: string, ctx: ProcessContext): Promise<void> {
  let none: boolean;
  try {
    none =
      (await store.view(ACCOUNTS_DB, 'crossbar_accounts/listing_by_name', { limit: 1 })).rows.length === 0;
  } catch (err) {
    // Only a hint: the API serves on; the store's trouble shows on the requests.
    ctx.log.warn({ err: (err as Error).message }, 'crossbar: could not tell whether an account exists');
    return;
  }
  if (!none) return;
  ctx.log.info(
    { api },
    `no account yet: create the first account and its admin user with ` +
      `'fife account add --name NAME --realm SIP_REALM' and ` +
      `'fife user add --account NAME --username USER --password PASSWORD --admin', ` +
      `then log in with PUT ${api}/user_auth`,
  );
}

export const crossbarHttpChildSpec = (args: CrossbarHttpArgs) =>
  GenServer.childSpec('crossbar_http', CrossbarHttp, args, { name: CROSSBAR_HTTP, shutdown: 5000 });

/** Where the crossbar of this node listens, or undefined when it does not run. */
export function crossbarUrl(rt: Runtime): string | undefined {
  const p = rt.resolve(CROSSBAR_HTTP);
  return (p?.meta?.describe?.() as { url?: string } | undefined)?.url;
}
