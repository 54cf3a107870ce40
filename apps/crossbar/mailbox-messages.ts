/**
 * The voicemail messages of an account as apps/callflow's voicemail store keeps them:
 * `mailbox_message` documents in the account's MODBs of this and last month (Kazoo keeps
 * them by month). `recentMessages` answers them, for every box, oldest first (by
 * `metadata.timestamp`, Gregorian seconds; an earlier Unix value read as the same time);
 * `metadataOf` is a message as crossbar answers it (its timestamp in Gregorian seconds); `countsByBox` the number of messages
 * not deleted per box.
 */
import { asGregorianSeconds } from '../../src/api/time.ts';
import type { DocumentStore } from '../../src/store/index.ts';
import { modbOf } from '../callflow/voicemail-store.ts';

type Obj = Record<string, unknown>;

export async function recentMessages(store: DocumentStore, accountId: string): Promise<Obj[]> {
  const found: Obj[] = [];
  for (const db of [modbOf(accountId, 1), modbOf(accountId)]) {
    if (!(await store.dbExists(db))) continue;
    for (const r of (await store.allDocs(db, { includeDocs: true })).rows) {
      const d = r.doc as Obj | undefined;
      if (d?.pvt_type === 'mailbox_message') found.push(d);
    }
  }
  const ts = (d: Obj): number => asGregorianSeconds((d.metadata as Obj | undefined)?.timestamp) ?? 0;
  return found.sort((x, y) => ts(x) - ts(y));
}

/** Kazoo's message form: its metadata, `media_id` the message id, `folder` new when unset,
 * `timestamp` in Gregorian seconds (an earlier Fife's Unix value converted). */
export const metadataOf = (doc: Obj): Obj => {
  const metadata = (doc.metadata ?? {}) as Obj;
  const timestamp = asGregorianSeconds(metadata.timestamp);
  return { folder: 'new', ...metadata, ...(timestamp === undefined ? {} : { timestamp }), media_id: doc._id };
};

export const countsByBox = (messages: Obj[]): Map<unknown, number> => {
  const counts = new Map<unknown, number>();
  for (const d of messages)
    if (metadataOf(d).folder !== 'deleted') counts.set(d.source_id, (counts.get(d.source_id) ?? 0) + 1);
  return counts;
};
