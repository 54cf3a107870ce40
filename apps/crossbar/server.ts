/**
 * buildCrossbar: the fastify application of Kazoo's REST API v2 (not listening yet; the
 * crossbar_http process binds it, http-server.ts).
 *
 * Contract
 * - Every answer, success or error, is Kazoo's envelope (envelope.ts) as
 *   `Content-Type: application/json` exactly, with `X-Request-ID` (the client's or a new
 *   one) and Kazoo's CORS headers; `OPTIONS` on any path is a preflight answered 200
 *   with those headers and no body.
 * - Request bodies are parsed as JSON whatever their content type (Kazoo's clients send
 *   `application/json`, some send none); an empty body is no body; bad JSON is 400
 *   `parse_error`; a body over `max_body_bytes` is 413 with Kazoo's `file.maxSize`
 *   validation error.
 * - Errors (names and data messages as Kazoo's cb_context:add_system_error): CbError as it
 *   says; store conflict 409 datastore_conflict; store not_found 404 bad_identifier;
 *   store unreachable 503 datastore_unreachable; anything else 500
 *   `internal_server_error`, logged with its stack (the client sees no detail).
 *   Unknown paths: 404 `not_found`. Every refusal is logged (info) with its status.
 * - `GET /v2/openapi.json` (no token) answers the OpenAPI document of every route
 *   registered here (openapi.ts), bare (not in the envelope), as OpenAPI tools read it.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { isStoreError } from '../../src/store/index.ts';
import { registerAcdcRoutes } from './acdc-routes.ts';
import { registerAccountRoutes } from './account-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import type { Crossbar } from './context.ts';
import { registerDocRoutes } from './doc-routes.ts';
import { registerDeviceStatusRoute } from './device-status.ts';
import { nodeDigest, sendError } from './envelope.ts';
import { openApiDocument, type RouteInfo } from './openapi.ts';
import { tokenFree } from './answer.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { CbError } from './errors.ts';
import { KINDS } from './kinds.ts';
import { registerMediaRoutes } from './media-routes.ts';
import { registerMessageRoutes } from './message-routes.ts';
import { registerEmptyRoutes } from './empty-routes.ts';
import { registerAppsStoreRoutes } from './apps-store-routes.ts';
import { registerWhitelabelRoutes } from './whitelabel-routes.ts';

/** Kazoo 4.3's CORS headers (api_util:get_cors_headers), the methods being every one Fife serves. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'OPTIONS, GET, PUT, POST, PATCH, DELETE',
  'access-control-allow-headers':
    'content-type, depth, user-agent, x-http-method-override, x-file-size, x-requested-with, if-modified-since, x-file-name, cache-control, x-auth-token, x-kazoo-cluster-id, if-match',
  'access-control-expose-headers':
    'content-type, x-auth-token, x-request-id, x-kazoo-cluster-id, location, etag, etag',
  'access-control-max-age': '86400',
};

function classify(err: FastifyError | Error, maxBody: number): CbError {
  if (err instanceof CbError) return err;
  const code = (err as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new CbError(413, 'validation error', {
      file: {
        maxSize: { message: `Payload or Files must not be more than ${maxBody} bytes`, target: maxBody },
      },
    });
  if (isStoreError(err, 'conflict'))
    return new CbError(409, 'datastore_conflict', { message: 'conflicting documents' });
  if (isStoreError(err, 'not_found'))
    return new CbError(404, 'bad_identifier', { message: 'bad identifier', cause: err.id });
  if (isStoreError(err, 'unavailable'))
    return new CbError(503, 'datastore_unreachable', { message: 'datastore timeout' });
  const status = (err as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new CbError(status, 'invalid request', { message: err.message });
  return new CbError(500, 'internal_server_error', { message: 'internal server error' });
}

export async function buildCrossbar(cb: Crossbar): Promise<FastifyInstance> {
  const node = nodeDigest(cb.node);
  const app = Fastify({
    logger: false,
    bodyLimit: cb.settings.maxBodyBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given)
        ? given
        : randomBytes(16).toString('hex');
    },
  });
  app.decorateRequest('cbMeta', null as never);
  app.addHook('onRequest', async (req, reply) => {
    req.cbMeta = { authToken: '', requestId: req.id, node };
    void reply.headers({ ...CORS_HEADERS, 'x-request-id': req.id });
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        new CbError(400, 'parse_error', {
          message: 'failed to parse request body',
          cause: (err as Error).message,
        }),
        undefined,
      );
    }
  });

  // Audio bodies (media uploads) stay bytes.
  app.addContentTypeParser(/^audio\//, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = classify(err, cb.settings.maxBodyBytes);
    if (!(err instanceof CbError) && e.status >= 500)
      cb.log.error({ err, url: req.url, method: req.method, request_id: req.id }, 'crossbar: request failed');
    else
      cb.log.info(
        { status: e.status, error: e.message, url: req.url, method: req.method },
        'crossbar: request refused',
      );
    const meta = req.cbMeta ?? { authToken: '', requestId: req.id, node };
    return sendError(
      reply.headers({ ...CORS_HEADERS, 'x-request-id': req.id }),
      meta,
      e.status,
      e.message,
      e.data,
    );
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, req.cbMeta, 404, 'not_found', {
      message: 'not found',
      cause: `${req.method} ${req.url.split('?')[0]}`,
    }),
  );

  // Every route registered below is collected for the OpenAPI document (openapi.ts).
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      routes.push({ method, url: r.url, config: r.config as RouteInfo['config'] });
  });

  app.options('*', async (_req, reply) => reply.code(200).header('content-length', '0').send());

  registerAuthRoutes(app, cb);
  registerAccountRoutes(app, cb);
  registerDeviceStatusRoute(app, cb);
  for (const kind of KINDS) registerDocRoutes(app, cb, kind);
  registerMessageRoutes(app, cb);
  registerMediaRoutes(app, cb);
  registerAcdcRoutes(app, cb);
  registerEmptyRoutes(app, cb);
  registerWhitelabelRoutes(app, cb);
  registerAppsStoreRoutes(app, cb);
  let doc: Record<string, unknown> | undefined;
  // The bare document (not in the envelope), as OpenAPI tools read it.
  app.get('/v2/openapi.json', tokenFree, async (_req, reply) =>
    reply
      .code(200)
      .header('content-type', 'application/json')
      .send(Buffer.from(JSON.stringify((doc ??= openApiDocument(routes, FIFE_VERSION))))),
  );
  await app.ready();
  return app;
}
