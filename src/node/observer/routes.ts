/**
 * The observer's routes on the admin endpoint (admin.ts calls `registerObserverRoutes`).
 *
 *   GET /observer                 the page (page/index.html); its script and style at
 *   GET /observer/observer.js     /observer/observer.js and /observer/observer.css. These
 *   GET /observer/observer.css    three hold no data and answer without the token
 *                                 (OBSERVER_PAGE_PATHS), so a browser can open the page.
 *   GET /observer/stream          server-sent events (observer.ts): `hello`, then `node`
 *                                 per update of any node of the cluster, `gone`; a comment
 *                                 line every 15 s keeps proxies from closing it. Needs the
 *                                 token like every other route; 503 when the node runs no
 *                                 observer.
 *   POST /observer/fault          {node, kind, pid, reason?}: a fault button for another
 *                                 node's process, sent through the bus (observer.ts); 202
 *                                 once sent (the page sees the result in the next update),
 *                                 404 a node the observer has not heard from, 400 a kind
 *                                 that cannot be sent (faults.ts REMOTE_FAULTS).
 *
 * The page takes the token from the URL fragment (`/observer#token=...`, never sent to
 * the server, so never in a log) or from its login field, and sends it as
 * `Authorization: Bearer` on its own requests (the stream is read with fetch, not
 * EventSource, which cannot send a header). Files are read once, at registration.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../kernel/index.ts';
import { sendFault, subscribe, unsubscribe, type FaultRequest, type Sink } from './observer.ts';
import { REMOTE_FAULTS } from './faults.ts';

type Route = (
  method: 'GET' | 'POST',
  url: string,
  opts: { schema?: object },
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
) => void;

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/observer': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/observer/observer.js': { file: 'observer.js', type: 'text/javascript; charset=utf-8' },
  '/observer/observer.css': { file: 'observer.css', type: 'text/css; charset=utf-8' },
};

/** Paths that answer without the admin token (static files, no data). */
export const OBSERVER_PAGE_PATHS: readonly string[] = Object.keys(PAGE_FILES);

const KEEP_ALIVE_MS = 15_000;
/** A page that reads slower than this much is behind is cut off (it reconnects). */
const MAX_BUFFERED = 1024 * 1024;

export function registerObserverRoutes(_app: FastifyInstance, rt: Runtime, route: Route): void {
  for (const [path, { file, type }] of Object.entries(PAGE_FILES)) {
    const body = readFileSync(new URL(`./page/${file}`, import.meta.url), 'utf8');
    route('GET', path, {}, async (_req, reply) =>
      reply
        .type(type)
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'self'; frame-ancestors 'none'")
        .send(body),
    );
  }

  const faultBody = {
    type: 'object',
    required: ['node', 'kind', 'pid'],
    properties: {
      node: { type: 'string', minLength: 1 },
      kind: { type: 'string', enum: [...REMOTE_FAULTS] },
      pid: { type: 'string', minLength: 1 },
      reason: { type: 'string', minLength: 1 },
    },
  };
  route('POST', '/observer/fault', { schema: { body: faultBody } }, async (req, reply) => {
    const f = req.body as FaultRequest;
    const r = await sendFault(rt, f);
    if (r === 'sent') return reply.code(202).send({ type: 'ok', node: f.node, kind: f.kind, pid: f.pid });
    return reply.code(r === 'no_observer' ? 503 : 404).send({
      error: r === 'no_observer' ? 'this node runs no observer' : `no observed node ${f.node}`,
      request_id: req.id,
    });
  });

  route('GET', '/observer/stream', {}, async (req, reply) => {
    if (rt.whereis('observer') === undefined)
      return reply.code(503).send({ error: 'this node runs no observer', request_id: req.id });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let closed = false;
    const sink: Sink = {
      send(event, data) {
        if (closed) return;
        if (res.writableLength > MAX_BUFFERED) throw new Error(`page ${req.id} is too far behind`);
        res.write(`event: ${event}\ndata: ${data}\n\n`);
      },
      close() {
        if (closed) return;
        closed = true;
        res.end();
      },
    };
    const keepAlive = setInterval(() => {
      if (!closed) res.write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    keepAlive.unref();
    res.on('close', () => {
      closed = true;
      clearInterval(keepAlive);
      unsubscribe(rt, sink);
    });
    if (!(await subscribe(rt, sink))) sink.close();
    return reply;
  });
}
