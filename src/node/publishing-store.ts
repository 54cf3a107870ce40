/**
 * publishingStore: a DocumentStore that announces every document write on the bus, so
 * every node's caches drop their copy whichever app wrote (Kazoo's kz_datamgr publishes
 * its doc-change notices from the data layer, kzs_publish, not from crossbar).
 *
 * Contract
 * - `publishingStore(store, bus, ctx, log)` answers a DocumentStore doing exactly what
 *   `store` does; after a write succeeds it publishes Kazoo's notice on the `configuration`
 *   exchange (key `doc_<action>.<db>.<type>.<id>`, src/api/conf.ts), Database in Kazoo's
 *   encoded spelling, Type the document's `pvt_type`, Rev the new revision:
 *   - `save`: `doc_created` for a first revision (`1-...`), else `doc_edited`
 *     (`doc_deleted` when the document was saved with `_deleted: true`);
 *   - `bulkSave`: the same per document that was written (failed rows announce nothing);
 *   - `remove`: `doc_deleted`, its type read from the document before it goes;
 *   - `putAttachment` / `removeAttachment`: `doc_edited`, the type read afterwards.
 *   Design documents (`_design/...`) announce nothing; nor do the types Kazoo 4.3 leaves
 *   out by default (kzs_publish's change_notice_exclude_types: cdr, ledger, audit_log,
 *   login_attempt, pivot_debug, notify_smtp_log), nor anything in the registrar's
 *   `registrations` database (Kazoo keeps registrations in a cache, not in a database;
 *   Fife stores them, rewritten at every REGISTER, and no cache holds them). A document
 *   without a `pvt_type` travels with Type `undefined` (as Kazoo's key does).
 * - The write's answer never waits for, nor fails because of, the publish: a publish (or
 *   type read) that fails is logged at warn with the database and id, and dropped.
 * - Lives in the node layer because it joins the bus and the store, which know nothing of
 *   each other; the node installs it around the store it hands to apps (node.ts).
 */
import type { Logger } from '../kernel/index.ts';
import type { BusTransport } from '../bus/index.ts';
import type { BuildContext } from '../api/index.ts';
import { encodedDbName, type DocumentStore } from '../store/index.ts';
import { publishDocChange } from './cache-sync.ts';

type Action = 'created' | 'edited' | 'deleted';
const NO_TYPE = 'undefined';
const EXCLUDED_TYPES = new Set([
  'cdr',
  'ledger',
  'audit_log',
  'login_attempt',
  'pivot_debug',
  'notify_smtp_log',
]);
const EXCLUDED_DBS = new Set(['registrations']);

export function publishingStore(
  store: DocumentStore,
  bus: BusTransport,
  ctx: BuildContext,
  log: Logger,
): DocumentStore {
  const announce = (db: string, id: string, action: Action, type: unknown, rev?: string): void => {
    if (id.startsWith('_design/') || EXCLUDED_DBS.has(db)) return;
    if (typeof type === 'string' && EXCLUDED_TYPES.has(type)) return;
    let database: string;
    try {
      database = encodedDbName(db);
    } catch {
      database = db;
    }
    const doc = { database, id, type: typeof type === 'string' && type !== '' ? type : NO_TYPE, rev };
    publishDocChange(bus, action, doc, ctx).catch((err: unknown) =>
      log.warn(
        { database, id, action, err: String(err) },
        'doc-change notice not published: other nodes keep their cached copy',
      ),
    );
  };
  /** Announces after the type is read (attachments: the answer has no document). */
  const announceRead = (db: string, id: string, rev: string): void => {
    if (id.startsWith('_design/') || EXCLUDED_DBS.has(db)) return;
    store.get(db, id).then(
      (d) => announce(db, id, 'edited', d.pvt_type, rev),
      (err: unknown) => {
        log.warn({ database: db, id, err: String(err) }, 'doc-change notice: type unreadable, sent without');
        announce(db, id, 'edited', undefined, rev);
      },
    );
  };
  const actionOf = (saved: { _deleted?: boolean }, rev: string): Action =>
    saved._deleted === true ? 'deleted' : rev.startsWith('1-') ? 'created' : 'edited';

  return {
    kind: store.kind,
    location: store.location,
    createDb: (db) => store.createDb(db),
    dbExists: (db) => store.dbExists(db),
    deleteDb: (db) => store.deleteDb(db),
    listDbs: () => store.listDbs(),
    get: (db, id) => store.get(db, id),
    async save(db, doc) {
      const saved = await store.save(db, doc);
      announce(db, saved._id, actionOf(doc, saved._rev), saved.pvt_type ?? doc.pvt_type, saved._rev);
      return saved;
    },
    async remove(db, id, rev) {
      if (EXCLUDED_DBS.has(db)) return store.remove(db, id, rev);
      let type: unknown;
      try {
        type = (await store.get(db, id)).pvt_type;
      } catch {
        // the remove below answers for a missing document
      }
      const r = await store.remove(db, id, rev);
      announce(db, id, 'deleted', type, r.rev);
      return r;
    },
    async bulkSave(db, docs) {
      const results = await store.bulkSave(db, docs);
      results.forEach((r, i) => {
        if (!r.ok) return;
        const doc = docs[i] ?? {};
        announce(db, r.id, actionOf(doc, r.rev), doc.pvt_type, r.rev);
      });
      return results;
    },
    async putAttachment(db, id, name, data, contentType, rev) {
      const r = await store.putAttachment(db, id, name, data, contentType, rev);
      announceRead(db, id, r.rev);
      return r;
    },
    getAttachment: (db, id, name) => store.getAttachment(db, id, name),
    async removeAttachment(db, id, name, rev) {
      const r = await store.removeAttachment(db, id, name, rev);
      announceRead(db, id, r.rev);
      return r;
    },
    view: (db, view, query) => store.view(db, view, query),
    allDocs: (db, query) => store.allDocs(db, query),
    changes: (db, query) => store.changes(db, query),
    follow: (db, opts) => store.follow(db, opts),
    close: () => store.close(),
  };
}
