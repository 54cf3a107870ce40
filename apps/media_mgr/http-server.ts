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
import { listenOwned } from '../../src/node/http-listen.ts';
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
    const server = await listenOwned(ctx, app, {
      host,
      port,
      what: 'media_mgr',
      portSetting: 'settings.media_mgr.port or FIFE_MEDIA_MGR_PORT',
    });
    const url = a.settings.url ?? server.url;
    if (LOOPBACK.test(host))
      ctx.log.info({ url, max_body_bytes: a.settings.maxBodyBytes }, 'media_mgr listening');
    else
      ctx.log.warn(
        { url, host },
        'media_mgr listening on a non-loopback address: its store proxy has no authentication',
      );
    return ok({ url, close: server.close });
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    await s.close();
  },
};

export const mediaHttpChildSpec = (args: MediaHttpArgs) =>
  GenServer.childSpec('media_http', MediaHttp, args, { name: MEDIA_HTTP, shutdown: 5000 });
