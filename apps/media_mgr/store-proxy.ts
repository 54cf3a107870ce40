/**
 * The routes of media_mgr's HTTP server: Kazoo's media store proxy (kz_media_store_proxy,
 * `/store/...`), where a switch HTTP-PUTs a recording (FreeSWITCH's `http_put`) and from
 * where it, or anyone else, GETs it back for playback. Attachments live in the document
 * store (DocumentStore.putAttachment / getAttachment).
 *
 *   PUT  /store/:db/:doc/:attachment   raw body, its Content-Type (or, without one, the type
 *                                      of the name's extension: .wav .mp3 .ogg ...); stores
 *                                      it as an attachment of the document (created when
 *                                      missing); a conflict (another writer on the same
 *                                      document) is retried on the current revision.
 *                                      201 {ok: true, id, rev}.
 *   GET  /store/:db/:doc/:attachment   the bytes, with Content-Type and Content-Length
 *   HEAD /store/:db/:doc/:attachment   the same headers, no body
 *
 * Answers to bad requests, each `{error, request_id}` with a warn line carrying the same
 * request id: 400 a bad database name, document id or attachment name, or a PUT without a
 * body; 404 an unknown database, document or attachment, or route; 405 another method
 * (with `Allow`); 409 still conflicting after RETRIES attempts; 413 a body over
 * `maxBodyBytes`; 415 a PUT without Content-Type whose name has no known extension; 503
 * the store is unreachable; 500 anything else (logged at error). No request can crash the
 * server's process.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../src/kernel/index.ts';
import {
  canonicalDbName,
  checkAttachmentName,
  checkDocId,
  isStoreError,
  type DocumentStore,
} from '../../src/store/index.ts';

export interface StoreProxyDeps {
  store: DocumentStore;
  log: Logger;
  maxBodyBytes: number;
}

const ROUTE = '/store/:db/:doc/:attachment';
const RETRIES = 10;
const BY_EXTENSION: Record<string, string> = {
  wav: 'audio/x-wav',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  mp4: 'video/mp4',
  png: 'image/png',
  jpg: 'image/jpeg',
};
const STATUS: Record<string, number> = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503 };

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface Target {
  db: string;
  doc: string;
  attachment: string;
}

function target(req: FastifyRequest): Target {
  const p = req.params as Record<string, string>;
  try {
    const db = canonicalDbName(p.db);
    checkDocId(p.doc, db);
    checkAttachmentName(p.attachment, { database: db, id: p.doc ?? '' });
    return { db, doc: p.doc!, attachment: p.attachment! };
  } catch (err) {
    if (isStoreError(err, 'invalid')) throw new HttpError(400, err.reason);
    throw err;
  }
}

function contentType(req: FastifyRequest, attachment: string): string {
  const given = req.headers['content-type'];
  if (given !== undefined && given !== '') return given;
  const ext = /\.([a-z0-9]+)$/i.exec(attachment)?.[1]?.toLowerCase();
  const byExt = ext === undefined ? undefined : BY_EXTENSION[ext];
  if (byExt === undefined)
    throw new HttpError(
      415,
      `PUT needs a Content-Type (or a name ending in ${Object.keys(BY_EXTENSION).join(', ')})`,
    );
  return byExt;
}

/** Stores on the current revision, again on the new one after a conflict (another PUT won). */
async function putOnCurrentRev(store: DocumentStore, t: Target, data: Buffer, type: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    let rev: string | undefined;
    try {
      rev = (await store.get(t.db, t.doc))._rev;
    } catch (err) {
      // No document (or a deleted one): the put creates it. A missing database is the caller's 404.
      if (!isStoreError(err, 'not_found') || err.reason === 'no_db_file') throw err;
    }
    try {
      return (await store.putAttachment(t.db, t.doc, t.attachment, data, type, rev)).rev;
    } catch (err) {
      if (!isStoreError(err, 'conflict') || attempt >= RETRIES) throw err;
    }
  }
}

export async function buildStoreProxy(deps: StoreProxyDeps): Promise<FastifyInstance> {
  // Loaded here, not at import: modules that only build URLs need no server.
  const { default: Fastify } = await import('fastify');
  const { store, log } = deps;
  let nextId = 0;
  const app = Fastify({
    logger: false,
    bodyLimit: deps.maxBodyBytes,
    forceCloseConnections: true,
    genReqId: () => `media-${++nextId}`,
  });
  // Bodies are media, taken as bytes whatever their type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.put(ROUTE, async (req, reply) => {
    const t = target(req);
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0)
      throw new HttpError(400, 'PUT needs the media as its body');
    const type = contentType(req, t.attachment);
    const rev = await putOnCurrentRev(store, t, body, type);
    log.info({ request_id: req.id, ...t, bytes: body.length, content_type: type, rev }, 'media stored');
    return reply.code(201).send({ ok: true, id: t.doc, rev });
  });

  app.get(ROUTE, async (req, reply) => {
    const t = target(req);
    const att = await store.getAttachment(t.db, t.doc, t.attachment);
    log.debug({ request_id: req.id, ...t, bytes: att.data.length }, 'media served');
    return reply.type(att.contentType).header('content-length', att.data.length).send(att.data);
  });

  app.route({
    method: ['DELETE', 'POST', 'PATCH', 'OPTIONS'],
    url: ROUTE,
    onRequest: async (req, reply) => {
      void reply.header('allow', 'GET, HEAD, PUT');
      throw new HttpError(405, `${req.method} not allowed on /store/...; use GET, HEAD or PUT`);
    },
    handler: async () => undefined,
  });

  app.setNotFoundHandler(async (req) => {
    throw new HttpError(404, `no route ${req.method} ${req.url.split('?')[0]} (media is at ${ROUTE})`);
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const storeStatus = isStoreError(err) ? STATUS[err.code] : undefined;
    const status =
      storeStatus ??
      (err instanceof HttpError ||
      (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
        ? (err.statusCode ?? 500)
        : 500);
    const message = isStoreError(err) ? `${err.code}: ${err.reason}` : err.message;
    const where = { request_id: req.id, method: req.method, path: req.url.split('?')[0] };
    if (status >= 500) {
      log.error(
        { ...where, status, err: { message: err.message, stack: err.stack } },
        'media request failed',
      );
      return reply.code(status).send({ error: `${message} (request ${req.id})`, request_id: req.id });
    }
    log.warn({ ...where, status, err: message }, 'media request refused');
    return reply.code(status).send({ error: message, request_id: req.id });
  });
  return app;
}
