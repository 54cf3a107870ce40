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
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accountModbName, isStoreError, type SavedDoc } from '../../src/store/index.ts';
import { params, query, route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope, loadTyped, saving } from './doc-routes.ts';
import { requestData } from './docs.ts';
import { badIdentifier, fieldError } from './errors.ts';
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
    cb.store.save(db, { ...doc, metadata: { ...(doc.metadata as Obj | undefined), folder } }),
  );
  cb.log.info({ db, message_id: doc._id, folder }, 'crossbar: voicemail message moved');
  return metadataOf(saved);
}

export function registerMessageRoutes(app: FastifyInstance, cb: Crossbar): void {
  const base = '/v2/accounts/:account_id/vmboxes/:id/messages';

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
