/**
 * crossbar_http: the gen_server that owns crossbar's HTTP server (server.ts), so the REST
 * API is supervised like every long-lived thing: a crash of the process closes the
 * server and its supervisor starts a new one on the same address.
 *
 * Contract
 * - init makes crossbar's databases and design documents current, loads (or creates) the
 *   token signing key from the store, and binds `settings.host:settings.port`. A port in
 *   use fails the start with "crossbar cannot listen on HOST:PORT: the address is in use
 *   (...)" naming the settings to change. A restarted incarnation first waits for its
 *   predecessor's server to let go of the port.
 * - `describe()` gives `{url}` (`http://HOST:PORT` with the bound port); `crossbarUrl(rt)`
 *   reads it.
 */
import {
  GenServer,
  ok,
  type GenServerBehaviour,
  type ProcessContext,
  type Runtime,
} from '../../src/kernel/index.ts';
import type { DocumentStore } from '../../src/store/index.ts';
import type { Crossbar } from './context.ts';
import { Databases } from './databases.ts';
import { buildCrossbar } from './server.ts';
import type { CrossbarSettings } from './settings.ts';
import { TokenKeys } from './tokens.ts';

export const CROSSBAR_HTTP = 'crossbar_http';

export interface CrossbarHttpArgs {
  store: DocumentStore;
  settings: CrossbarSettings;
}

interface State {
  url: string;
  close(): Promise<void>;
}

/** Servers of ended incarnations still closing, by host:port (module state: one per node process). */
const closing = new Map<string, Promise<void>>();

function listenError(err: unknown, s: CrossbarSettings): Error {
  const where = `${s.host}:${s.port}`;
  if ((err as { code?: unknown }).code === 'EADDRINUSE')
    return new Error(
      `crossbar cannot listen on ${where}: the address is in use (another program or node has it; set settings.crossbar.port or FIFE_CROSSBAR_PORT)`,
      { cause: err },
    );
  return new Error(`crossbar cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
}

export const CrossbarHttp: GenServerBehaviour<State, CrossbarHttpArgs> = {
  name: CROSSBAR_HTTP,
  async init(a, ctx: ProcessContext) {
    ctx.trapExit(true);
    const { host, port } = a.settings;
    const key = `${host}:${port}`;
    if (port !== 0) await closing.get(key);
    const dbs = new Databases(a.store);
    await dbs.system();
    const cb: Crossbar = {
      store: a.store,
      dbs,
      keys: await TokenKeys.load(a.store),
      settings: a.settings,
      log: ctx.log,
      node: ctx.runtime.node,
    };
    const app = await buildCrossbar(cb);
    try {
      await app.listen({ host, port });
    } catch (err) {
      await app.close();
      throw listenError(err, a.settings);
    }
    const addr = app.server.address();
    const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const url = `http://${shown}:${bound}`;
    let done: Promise<void> | undefined;
    const close = (): Promise<void> => {
      if (done !== undefined) return done;
      done = app.close().finally(() => {
        if (closing.get(key) === done) closing.delete(key);
      });
      if (port !== 0) closing.set(key, done);
      return done;
    };
    // However the process ends (terminate, a kill, an injected crash), the server goes.
    ctx.signal.addEventListener(
      'abort',
      () =>
        void close().catch((err: unknown) =>
          ctx.log.error({ err: (err as Error).message }, 'crossbar server close failed'),
        ),
    );
    ctx.log.info({ url, max_body_bytes: a.settings.maxBodyBytes }, 'crossbar listening');
    return ok({ url, close });
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    await s.close();
  },
};

export const crossbarHttpChildSpec = (args: CrossbarHttpArgs) =>
  GenServer.childSpec('crossbar_http', CrossbarHttp, args, { name: CROSSBAR_HTTP, shutdown: 5000 });

/** Where the crossbar of this node listens, or undefined when it does not run. */
export function crossbarUrl(rt: Runtime): string | undefined {
  const p = rt.resolve(CROSSBAR_HTTP);
  return (p?.meta?.describe?.() as { url?: string } | undefined)?.url;
}
