/**
 * A callflow's `metadata` (Kazoo's cb_callflows get_metadata / create_metadata): what a
 * GET of one callflow adds so that a client can name the documents the flow points at.
 *
 * Contract
 * - `callflowMetadata(store, db, flow)` walks the flow from its root: each node's
 *   `data.id` (or `data.faxbox_id`) and each key of its `children` (branch names such as
 *   temporal route ids) is looked up once in the account's database; a document found
 *   gives `{<id>: {name?, numbers?, pvt_type?}}` (a user's name is `first_name last_name`).
 *   Ids that are no document (unknown, deleted, `_`, ill-formed) are left out; a store
 *   failure other than not_found / invalid rejects (the GET answers it as any store error).
 */
import { isStoreError, type DocumentStore } from '../../src/store/index.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function referencedIds(flow: unknown, out: Set<string>): void {
  if (!isObj(flow)) return;
  const data = isObj(flow.data) ? flow.data : {};
  const id = data.id ?? data.faxbox_id;
  if (typeof id === 'string' && id !== '') out.add(id);
  if (!isObj(flow.children)) return;
  for (const [key, child] of Object.entries(flow.children)) {
    out.add(key);
    referencedIds(child, out);
  }
}

function describe(doc: Obj): Obj {
  const meta: Obj = {};
  if (doc.pvt_type === 'user') {
    const name = `${typeof doc.first_name === 'string' ? doc.first_name : ''} ${typeof doc.last_name === 'string' ? doc.last_name : ''}`;
    if (name.trim() !== '') meta.name = name;
  } else if (doc.name !== undefined) meta.name = doc.name;
  if (doc.numbers !== undefined) meta.numbers = doc.numbers;
  if (doc.pvt_type !== undefined) meta.pvt_type = doc.pvt_type;
  return meta;
}

export async function callflowMetadata(store: DocumentStore, db: string, flow: unknown): Promise<Obj> {
  const ids = new Set<string>();
  referencedIds(flow, ids);
  const found = await Promise.all(
    [...ids].map(async (id) => {
      try {
        const doc = await store.get(db, id);
        return doc.pvt_deleted === true ? undefined : ([id, describe(doc)] as const);
      } catch (err) {
        if (isStoreError(err, 'not_found') || isStoreError(err, 'invalid')) return undefined;
        throw err;
      }
    }),
  );
  return Object.fromEntries(found.filter((e) => e !== undefined));
}
