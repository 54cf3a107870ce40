/**
 * Document change notices (Kazoo `kapi_conf`, Event-Category `configuration`): a document
 * was created, edited or deleted, so caches holding it can drop it.
 *
 * Contract
 * - `conf` lists doc_created, doc_edited, doc_deleted (Event-Name = the id).
 * - Published on `configuration` with key `doc_<action>.<db>.<type>.<id>` (`docKey`). As in
 *   Kazoo's `kz_amqp_util:document_routing_key`, only the id is encoded: db and type go in
 *   verbatim (CouchDB database names cannot hold a dot; Kazoo account databases travel in
 *   their `account%2Fab%2Fcd%2F...` form, which encoding again would break). Bind with `'*'`
 *   for any word. Publishing needs Type (the document's pvt_type) to compute the key.
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { Message, MessageDef } from './types.ts';

export type DocAction = 'created' | 'edited' | 'deleted';

export function docKey(action: DocAction | '*', db: string, type: string, id: string): string {
  return routingKey(action === '*' ? '*' : `doc_${action}`, db, type, encodeSegment(id));
}

function keyOf(action: DocAction): (msg: Message) => string {
  return (msg) => {
    const [db, type, id] = [msg.Database, msg.Type, msg.ID];
    if (typeof db !== 'string' || typeof type !== 'string' || typeof id !== 'string') {
      throw new Error(`doc_${action} needs string Database, Type and ID to compute its routing key`);
    }
    return docKey(action, db, type, id);
  };
}

function docChange(action: DocAction): MessageDef {
  return {
    id: `doc_${action}`,
    category: 'configuration',
    name: `doc_${action}`,
    doc: `a document was ${action}`,
    required: ['ID', 'Database'],
    optional: [
      'Account-ID',
      'Date-Created',
      'Date-Modified',
      'Doc',
      'Is-Soft-Deleted',
      'Origin-Cache',
      'Rev',
      'Type',
      'Version',
    ],
    types: {
      ID: 'string',
      Database: 'string',
      Rev: 'string',
      Type: 'string',
      Doc: 'object',
      'Is-Soft-Deleted': 'booleanish',
    },
    route: {
      exchange: 'configuration',
      kind: 'key',
      key: keyOf(action),
      pattern: `doc_${action}.<db>.<type>.<id>`,
    },
  };
}

export const conf: readonly MessageDef[] = [docChange('created'), docChange('edited'), docChange('deleted')];
