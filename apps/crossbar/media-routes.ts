/**
 * The audio of a media document (Kazoo's cb_media `media/{id}/raw`):
 *
 * - `PUT` / `POST /v2/accounts/{A}/media/{M}/raw` with an `audio/*` body stores the bytes
 *   as the document's one attachment (any earlier attachment goes) and sets
 *   `content_type`, `content_length` and `media_source: "upload"`; answers the document.
 *   A body of another type is 400 `validation error` on `content_type`; an empty body
 *   400 on `file`. Bodies up to the store's attachment limit are taken.
 * - `GET .../raw` answers the bytes with the attachment's Content-Type and
 *   `Content-Disposition: attachment`; a document without audio is 404 bad_identifier.
 * - `sendAttachment` is the download answer shared with voicemail messages.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_MAX_ATTACHMENT_BYTES, type Attachment, withPvtTimes } from '../../src/store/index.ts';
import { params } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope, checkRevision, loadTyped, saving } from './doc-routes.ts';
import { publicDoc } from './docs.ts';
import { sendSuccess } from './envelope.ts';
import { badIdentifier, fieldError } from './errors.ts';

const EXTENSIONS: Record<string, string> = {
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/ogg': 'ogg',
};

/** An upload's audio and its media type; a body that is not non-empty audio/* is a 400 naming the field. */
export function audioBody(req: FastifyRequest): { type: string; audio: Buffer } {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (!type.startsWith('audio/') || !Buffer.isBuffer(req.body))
    throw fieldError('content_type', 'enum', 'the body must be audio (Content-Type audio/*)', {
      value: type,
    });
  if (req.body.length === 0) throw fieldError('file', 'minLength', 'the audio is empty', { target: 1 });
  return { type, audio: req.body };
}

export const firstAttachment = (doc: Record<string, unknown>): string | undefined =>
  Object.keys((doc._attachments ?? {}) as object)[0];

export function sendAttachment(reply: FastifyReply, att: Attachment, filename: string): FastifyReply {
  return reply
    .code(200)
    .header('content-type', att.contentType)
    .header('content-disposition', `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"`)
    .header('content-length', String(att.data.length))
    .send(att.data);
}

export function registerMediaRoutes(app: FastifyInstance, cb: Crossbar): void {
  const raw = '/v2/accounts/:account_id/media/:id/raw';

  app.get(raw, async (req, reply) => {
    const { db } = await accountScope(cb, req);
    const doc = await loadTyped(cb, 'media', db, params(req).id!);
    const name = firstAttachment(doc);
    if (name === undefined) throw badIdentifier(doc._id);
    return sendAttachment(reply, await cb.store.getAttachment(db, doc._id, name), name);
  });

  const upload = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { account, db } = await accountScope(cb, req);
    const doc = await loadTyped(cb, 'media', db, params(req).id!);
    checkRevision(req, doc._rev);
    const { type, audio: body } = audioBody(req);
    const name = `${doc._id}.${EXTENSIONS[type] ?? 'audio'}`;
    const put = await saving(() => cb.store.putAttachment(db, doc._id, name, body, type, doc._rev));
    const fresh = await cb.store.get(db, doc._id);
    const stubs = (fresh._attachments ?? {}) as Record<string, unknown>;
    const saved = await saving(() =>
      cb.store.save(
        db,
        withPvtTimes({
          ...fresh,
          _rev: put.rev,
          _attachments: { [name]: stubs[name] },
          content_type: type,
          content_length: body.length,
          media_source: 'upload',
        }),
      ),
    );
    cb.log.info(
      { account_id: account._id, media_id: doc._id, bytes: body.length, content_type: type },
      'crossbar: media audio stored',
    );
    return sendSuccess(reply, req.cbMeta, 200, publicDoc(saved), { revision: saved._rev });
  };
  const opts = { bodyLimit: DEFAULT_MAX_ATTACHMENT_BYTES, config: { rawBody: 'audio/*' } };
  app.put(raw, opts, upload);
  app.post(raw, opts, upload);
}
