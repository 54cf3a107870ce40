/**
 * DocChange: "a document (or a whole database) changed", the one input that invalidates
 * cache entries, whether it came from a store's change feed or from the bus.
 *
 * Contract
 * - `DocChange` = { database, id, action: 'created' | 'edited' | 'deleted', scope: 'doc' | 'db',
 *   type?, rev? }. For scope 'db' the id is the database name.
 * - `docChangeFromConfMessage(body)` reads a Kazoo `configuration` message (exchange
 *   `configuration`, routing key `doc_<action>.<db>.<type>.<id>`), given as the parsed JSON
 *   object, a JSON string or a Buffer. It is pure and never throws; it answers:
 *   - { kind: 'change', change } for Event-Name doc_created / doc_edited / doc_deleted
 *     (scope 'doc') and db_created / db_edited / db_deleted (scope 'db'). Headers read:
 *     ID and Database (required, non-empty strings), Type, Rev (optional strings),
 *     Is-Soft-Deleted (optional boolean, or "true"/"false" as Kazoo also accepts; true makes the action 'deleted', since a
 *     soft-deleted document is gone for every reader).
 *   - { kind: 'ignored', reason } for other names of the category (db_views_updated,
 *     doc_type_update): well-formed, but not a document change.
 *   - { kind: 'invalid', reason } for anything else: not JSON, not an object, another
 *     Event-Category, a missing or ill-typed header. The reason says which.
 * - `docChangeFromFeed(database, change)` turns a store change-feed entry into a DocChange:
 *   deleted -> 'deleted', revision 1 -> 'created', otherwise 'edited'; the type is the
 *   document's `pvt_type` when the feed carried the document.
 */
import type { Change } from './document-store.ts';

export type DocAction = 'created' | 'edited' | 'deleted';

export interface DocChange {
  database: string;
  id: string;
  action: DocAction;
  scope: 'doc' | 'db';
  type?: string;
  rev?: string;
}

export type ConfMessageResult =
  | { kind: 'change'; change: DocChange }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

const NAMES: Record<string, { scope: 'doc' | 'db'; action: DocAction }> = {
  doc_created: { scope: 'doc', action: 'created' },
  doc_edited: { scope: 'doc', action: 'edited' },
  doc_deleted: { scope: 'doc', action: 'deleted' },
  db_created: { scope: 'db', action: 'created' },
  db_edited: { scope: 'db', action: 'edited' },
  db_deleted: { scope: 'db', action: 'deleted' },
};

const NOT_CHANGES = new Set(['db_views_updated', 'doc_type_update']);

function parseBody(body: unknown): Record<string, unknown> | string {
  let value = body;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (err) {
      return `body is not JSON: ${(err as Error).message}`;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'body is not a JSON object';
  return value as Record<string, unknown>;
}

function optionalString(msg: Record<string, unknown>, header: string): string | undefined | Error {
  const v = msg[header];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : new Error(`${header} must be a string`);
}

export function docChangeFromConfMessage(body: unknown): ConfMessageResult {
  const msg = parseBody(body);
  if (typeof msg === 'string') return { kind: 'invalid', reason: msg };
  const category = msg['Event-Category'];
  const name = msg['Event-Name'];
  if (category !== 'configuration')
    return {
      kind: 'invalid',
      reason: `Event-Category is ${JSON.stringify(category)}, expected "configuration"`,
    };
  if (typeof name !== 'string') return { kind: 'invalid', reason: 'Event-Name is missing' };
  if (NOT_CHANGES.has(name)) return { kind: 'ignored', reason: `${name} is not a document change` };
  const spec = NAMES[name];
  if (spec === undefined)
    return { kind: 'invalid', reason: `unknown configuration Event-Name ${JSON.stringify(name)}` };
  const id = msg.ID;
  const database = msg.Database;
  if (typeof id !== 'string' || id === '')
    return { kind: 'invalid', reason: 'ID must be a non-empty string' };
  if (typeof database !== 'string' || database === '')
    return { kind: 'invalid', reason: 'Database must be a non-empty string' };
  const type = optionalString(msg, 'Type');
  const rev = optionalString(msg, 'Rev');
  if (type instanceof Error) return { kind: 'invalid', reason: type.message };
  if (rev instanceof Error) return { kind: 'invalid', reason: rev.message };
  const softRaw = msg['Is-Soft-Deleted'];
  const soft = softRaw === 'true' ? true : softRaw === 'false' ? false : softRaw;
  if (soft !== undefined && typeof soft !== 'boolean')
    return { kind: 'invalid', reason: 'Is-Soft-Deleted must be a boolean' };
  const change: DocChange = {
    database,
    id,
    scope: spec.scope,
    action: soft === true ? 'deleted' : spec.action,
  };
  if (type !== undefined) change.type = type;
  if (rev !== undefined) change.rev = rev;
  return { kind: 'change', change };
}

export function docChangeFromFeed(database: string, change: Change): DocChange {
  const action: DocAction = change.deleted ? 'deleted' : change.rev.startsWith('1-') ? 'created' : 'edited';
  const out: DocChange = { database, id: change.id, action, scope: 'doc', rev: change.rev };
  const type = change.doc?.pvt_type;
  if (typeof type === 'string') out.type = type;
  return out;
}
