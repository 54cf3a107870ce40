/**
 * A vmbox's voicemail messages (Kazoo 4.3's cb_vmboxes `vmboxes/{B}/messages`), read from
 * where apps/callflow's voicemail store writes them: documents of pvt_type
 * `mailbox_message` with `source_id` the box, in the account's monthly databases (the
 * message id `YYYYMM-<hex>` names its month), the audio their attachment.
 *
 * - `GET .../messages`: the box's messages of this and last month's MODB, oldest first,
 *   each its `metadata` (timestamp, from, to, caller_id_number, caller_id_name, call_id,
 *   folder, length, media_id); messages in folder `deleted` are left out, as Kazoo does.
 * - `GET .../messages/{M}`: the message's metadata. `POST` with `{folder}` or `?folder=`
 *   (new, saved, deleted) moves it; `DELETE` moves it to `deleted` (Kazoo's soft delete). Both answer
 *   the metadata after the move.
 * - `GET .../messages/{M}/raw`: the audio, as a download.
 * - A message id that is malformed, unknown, or of another box: 404 bad_identifier.
 * - `PUT .../messages` with an `audio/*` body (Kazoo's upload of a message): a new
 *   message of the box, stored as apps/callflow's voicemail store stores a recorded one
 *   (this month's MODB, `media_source: "upload"`), its metadata from the query string
 *   (`caller_id_name`, `caller_id_number`, `from`, `to`, `call_id`, `folder`, `length`,
 *   `timestamp` in Gregorian seconds, default now, a Unix value converted;
 *   checked with vmMessageSchema); 201 with its metadata. Another body type: 400 on
 *   `content_type`; an empty body: 400 on `file`.
 * - `POST .../messages` `{data: {messages: [ids], folder}}` (or `?folder=`) moves those
 *   messages (all the box's messages not deleted when `messages` is absent); `DELETE
 *   .../messages` the same to `deleted`. Answers Kazoo's `{succeeded: [ids], failed:
 *   {id: reason}}`: an id that is not a message of this box fails alone.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accountModbName, isStoreError, withPvtTimes, type SavedDoc } from '../../src/store/index.ts';
import { randomBytes } from 'node:crypto';
import { asGregorianSeconds, gregorianSeconds } from '../../src/api/time.ts';
import { DEFAULT_MAX_ATTACHMENT_BYTES } from '../../src/store/index.ts';
import { messageDocId, modbOf } from '../callflow/voicemail-store.ts';
import { body, params, query, route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope, loadTyped, saving } from './doc-routes.ts';
import { requestData } from './docs.ts';
import { badIdentifier, CbError, fieldError } from './errors.ts';
import { audioBody } from './media-routes.ts';
import { vmBulkSchema, vmMessageSchema } from './schemas.ts';
import { validator } from './validate.ts';
import { metadataOf, recentMessages } from './mailbox-messages.ts';
import { firstAttachment, sendAttachment } from './media-routes.ts';

type Obj = Record<string, unknown>;
const FOLDERS = ['new', 'saved', 'deleted'];

async function boxScope(cb: Crossbar, req: FastifyRequest): Promise<{ accountId: string; box: SavedDoc }> {
  const { account, db } = await accountScope(cb, req);
  return { accountId: account._id, box: await loadTyped(cb, 'vmbox', db, params(req).id!) };
}

async function loadMessage(
  cb: Crossbar,
  accountId: string,
  boxId: string,
  id: string,
): Promise<[string, SavedDoc]> {
  const month = /^(\d{4})(\d{2})-[0-9a-f]+$/.exec(id);
  if (month !== null) {
    const db = accountModbName(accountId, Number(month[1]), Number(month[2]));
    try {
      const doc = await cb.store.get(db, id);
      if (doc.pvt_type === 'mailbox_message' && doc.source_id === boxId) return [db, doc];
    } catch (err) {
      if (!isStoreError(err, 'not_found') && !isStoreError(err, 'invalid')) throw err;
    }
  }
  throw badIdentifier(id);
}

async function moveTo(cb: Crossbar, db: string, doc: SavedDoc, folder: string): Promise<Obj> {
  const saved = await saving(() =>
    cb.store.save(db, withPvtTimes({ ...doc, metadata: { ...(doc.metadata as Obj | undefined), folder } })),
  );
  cb.log.info({ db, message_id: doc._id, folder }, 'crossbar: voicemail message moved');
  return metadataOf(saved);
}

const validateMessage = validator(vmMessageSchema);
const validateBulk = validator(vmBulkSchema);
const EXTENSIONS: Record<string, string> = { 'audio/mpeg': 'mp3', 'audio/mp3': 'mp3', 'audio/ogg': 'ogg' };

/** The query's message metadata, numbers given as text turned into numbers before the check. */
function uploadMetadata(q: Obj): Obj {
  const m: Obj = {};
  for (const k of Object.keys(vmMessageSchema.properties)) {
    const v = q[k];
    if (typeof v !== 'string') continue;
    if (k === 'timestamp') m[k] = asGregorianSeconds(v) ?? v;
    else m[k] = k === 'length' && /^\d+$/.test(v) ? Number(v) : v;
  }
  return validateMessage(m);
}

export function registerMessageRoutes(app: FastifyInstance, cb: Crossbar): void {
  const base = '/v2/accounts/:account_id/vmboxes/:id/messages';

  app.put(
    base,
    { bodyLimit: DEFAULT_MAX_ATTACHMENT_BYTES, config: { rawBody: 'audio/*' } },
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const { type, audio } = audioBody(req);
      const meta = uploadMetadata(query(req));
      const db = modbOf(accountId);
      await cb.store.createDb(db);
      const now = new Date();
      const id = messageDocId(now);
      const t = gregorianSeconds(now.getTime());
      const saved = await cb.store.save(
        db,
        withPvtTimes(
          {
            _id: id,
            pvt_type: 'mailbox_message',
            pvt_account_id: accountId,
            pvt_account_db: db,
            utc_seconds: t,
            source_type: 'mailbox',
            source_id: box._id,
            media_source: 'upload',
            streamable: true,
            name: `mailbox ${String(box.mailbox)} message ${now.toISOString()}`,
            description: 'voicemail message uploaded over the REST API',
            metadata: {
              timestamp: t,
              from: '',
              to: '',
              caller_id_number: '',
              caller_id_name: '',
              call_id: randomBytes(16).toString('hex'),
              length: 0,
              ...meta,
              media_id: id,
            },
          },
          t,
        ),
      );
      const name = `${id}.${EXTENSIONS[type] ?? 'wav'}`;
      await cb.store.putAttachment(db, id, name, audio, type, saved._rev);
      const stored = await cb.store.get(db, id);
      cb.log.info(
        { account_id: accountId, vmbox_id: box._id, message_id: id, bytes: audio.length },
        'crossbar: voicemail message uploaded',
      );
      return { status: 201, data: metadataOf(stored), revision: stored._rev };
    }),
  );

  const bulk = (deleting: boolean) =>
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const data = validateBulk(requestData(req.body));
      const folder = deleting ? 'deleted' : (query(req).folder ?? data.folder);
      if (typeof folder !== 'string' || !FOLDERS.includes(folder))
        throw fieldError('folder', 'enum', 'Value not found in enumerated list of values', {
          target: FOLDERS,
          value: folder,
        });
      const wanted =
        (data.messages as string[] | undefined) ??
        (await recentMessages(cb.store, accountId))
          .filter((d) => d.source_id === box._id && metadataOf(d).folder !== 'deleted')
          .map((d) => d._id as string);
      const succeeded: string[] = [];
      const failed: Obj = {};
      for (const id of wanted) {
        try {
          const [db, doc] = await loadMessage(cb, accountId, box._id, id);
          await moveTo(cb, db, doc, folder);
          succeeded.push(id);
        } catch (err) {
          if (!(err instanceof CbError)) throw err;
          failed[id] = err.status === 404 ? 'not_found' : err.message;
        }
      }
      return { data: { succeeded, failed } };
    });
  app.post(base, body('vmbox_messages', vmBulkSchema), bulk(false));
  app.delete(base, body('vmbox_messages', vmBulkSchema), bulk(true));

  app.get(
    base,
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const found = (await recentMessages(cb.store, accountId))
        .filter((d) => d.source_id === box._id)
        .map(metadataOf)
        .filter((m) => m.folder !== 'deleted');
      return { data: found };
    }),
  );

  app.get(
    `${base}/:message_id`,
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const [, doc] = await loadMessage(cb, accountId, box._id, params(req).message_id!);
      return { data: metadataOf(doc), revision: doc._rev };
    }),
  );

  app.post(
    `${base}/:message_id`,
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const folder = query(req).folder ?? requestData(req.body).folder;
      if (typeof folder !== 'string' || !FOLDERS.includes(folder))
        throw fieldError('folder', 'enum', 'Value not found in enumerated list of values', {
          target: FOLDERS,
          value: folder,
        });
      const [db, doc] = await loadMessage(cb, accountId, box._id, params(req).message_id!);
      return { data: await moveTo(cb, db, doc, folder) };
    }),
  );

  app.delete(
    `${base}/:message_id`,
    route(async (req) => {
      const { accountId, box } = await boxScope(cb, req);
      const [db, doc] = await loadMessage(cb, accountId, box._id, params(req).message_id!);
      return { data: await moveTo(cb, db, doc, 'deleted') };
    }),
  );

  app.get(`${base}/:message_id/raw`, async (req, reply) => {
    const { accountId, box } = await boxScope(cb, req);
    const [db, doc] = await loadMessage(cb, accountId, box._id, params(req).message_id!);
    const name = firstAttachment(doc);
    if (name === undefined) throw badIdentifier(doc._id);
    return sendAttachment(reply, await cb.store.getAttachment(db, doc._id, name), name);
  });
}
