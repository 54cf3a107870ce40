/**
 * An app's HTTP server owned by one process (media_mgr's store proxy, crossbar's REST
 * API): the process binds it in init and the server goes with the process.
 *
 * Contract — `listenOwned(ctx, app, opts)`:
 * - Binds `opts.host:opts.port` (0: any free port). A port in use fails with
 *   "<what> cannot listen on HOST:PORT: the address is in use (... set <setting>)", naming
 *   the setting and variable to change; any other failure with its reason. A server that
 *   failed to bind is closed.
 * - Resolves to `{url, close}`: `url` is `http://HOST:PORT` with the bound port (a wildcard
 *   host shown as 127.0.0.1); `close()` closes the server once, however often called.
 * - However the owning process ends (terminate, a kill, an injected crash), the server
 *   goes. Its listening socket closes at once, inside the exit (as OTP closes a dead
 *   process's ports before its links hear of it), so the incarnation its supervisor
 *   starts next finds the port free; open connections and hooks close after. A failed
 *   close is logged.
 */
import type { FastifyInstance } from 'fastify';
import type { ProcessContext } from '../kernel/index.ts';

export interface ListenOptions {
  host: string;
  port: number;
  /** Who listens, for messages: `media_mgr`, `crossbar`. */
  what: string;
  /** Where the port is set, for the address-in-use message. */
  portSetting: string;
}

export interface OwnedServer {
  url: string;
  close(): Promise<void>;
}

function listenError(err: unknown, o: ListenOptions): Error {
  const where = `${o.host}:${o.port}`;
  if ((err as { code?: unknown }).code === 'EADDRINUSE')
    return new Error(
      `${o.what} cannot listen on ${where}: the address is in use (another program or node has it; set ${o.portSetting})`,
      { cause: err },
    );
  return new Error(`${o.what} cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
}

export async function listenOwned(
  ctx: ProcessContext,
  app: FastifyInstance,
  o: ListenOptions,
): Promise<OwnedServer> {
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (err) {
    await app.close();
    throw listenError(err, o);
  }
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  const shown =
    o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host.includes(':') ? `[${o.host}]` : o.host;
  let done: Promise<void> | undefined;
  const close = (): Promise<void> => (done ??= app.close());
  ctx.signal.addEventListener('abort', () => {
    if (app.server.listening) app.server.close();
    void close().catch((err: unknown) =>
      ctx.log.error({ err: (err as Error).message }, `${o.what} server close failed`),
    );
  });
  return { url: `http://${shown}:${bound}`, close };
}
