/**
 * media_http: the gen_server that owns media_mgr's HTTP server (store-proxy.ts), so the
 * server is supervised like every long-lived thing: a crash of the process closes the
 * server, and its supervisor starts a new one on the same address.
 *
 * Contract
 * - init binds `settings.host:settings.port`; a port in use fails the start with
 *   "media_mgr cannot listen on HOST:PORT: the address is in use (...)", naming the
 *   settings to change. The port is free again by the time the process's exit is seen,
 *   however it ended (terminate awaits the close; a kill closes the listening socket
 *   synchronously as the process ends), so a restarted incarnation can bind it.
 * - `describe()` gives `{url}`: the `url` setting, or `http://HOST:PORT` with the bound
 *   port (mediaBaseUrl reads it).
 * - Binding a non-loopback address is logged as a warning: the proxy has no
 *   authentication, anyone who reaches it reads and writes attachments.
 */
import { GenServer, ok, type GenServerBehaviour, type ProcessContext } from '../../src/kernel/index.ts';
import type { DocumentStore } from '../../src/store/index.ts';
import { MEDIA_HTTP } from './media-urls.ts';
import type { MediaMgrSettings } from './settings.ts';
import { buildStoreProxy } from './store-proxy.ts';

export interface MediaHttpArgs {
  store: DocumentStore;
  settings: MediaMgrSettings;
}

interface State {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

function listenError(err: unknown, s: MediaMgrSettings): Error {
  const code = (err as { code?: unknown }).code;
  const where = `${s.host}:${s.port}`;
  if (code === 'EADDRINUSE')
    return new Error(
      `media_mgr cannot listen on ${where}: the address is in use (another program or node has it; set settings.media_mgr.port or FIFE_MEDIA_MGR_PORT)`,
      { cause: err },
    );
  return new Error(`media_mgr cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
}

export const MediaHttp: GenServerBehaviour<State, MediaHttpArgs> = {
  name: MEDIA_HTTP,
  async init(a, ctx: ProcessContext) {
    ctx.trapExit(true);
    const { host, port } = a.settings;
    const app = await buildStoreProxy({
      store: a.store,
      log: ctx.log,
      maxBodyBytes: a.settings.maxBodyBytes,
    });
    try {
      await app.listen({ host, port });
    } catch (err) {
      await app.close();
      throw listenError(err, a.settings);
    }
    const addr = app.server.address();
    const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const url = a.settings.url ?? `http://${shown}:${bound}`;
    let done: Promise<void> | undefined;
    const close = (): Promise<void> => (done ??= app.close());
    // However the process ends (terminate, a kill, an injected crash), the server goes. The
    // listening socket closes at once, inside the exit (as OTP closes a dead process's
    // ports before its links hear of it), so the incarnation its supervisor starts next
    // finds the port free; connections and hooks close after.
    ctx.signal.addEventListener('abort', () => {
      if (app.server.listening) app.server.close();
      void close().catch((err: unknown) =>
        ctx.log.error({ err: (err as Error).message }, 'media_mgr server close failed'),
      );
    });
    if (LOOPBACK.test(host))
      ctx.log.info({ url, max_body_bytes: a.settings.maxBodyBytes }, 'media_mgr listening');
    else
      ctx.log.warn(
        { url, host },
        'media_mgr listening on a non-loopback address: its store proxy has no authentication',
      );
    return ok({ url, close });
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    await s.close();
  },
};

export const mediaHttpChildSpec = (args: MediaHttpArgs) =>
  GenServer.childSpec('media_http', MediaHttp, args, { name: MEDIA_HTTP, shutdown: 5000 });
