/**
 * Kazoo `configuration` doc-change messages (kapi_conf doc_update) turned into cache
 * invalidations, and change-feed entries turned into the same shape.
 */
import { describe, it, expect } from 'vitest';
import { docChangeFromConfMessage, docChangeFromFeed } from '../../src/store/index.ts';

const edited = {
  'Event-Category': 'configuration',
  'Event-Name': 'doc_edited',
  'App-Name': 'crossbar',
  'App-Version': '4.3.0',
  ID: 'dev1',
  Database: 'account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502',
  Type: 'device',
  Rev: '3-abc',
  'Account-ID': '4fe69c5b61015084f1fe5684abc6e502',
};

describe('docChangeFromConfMessage', () => {
  it('reads doc_created / doc_edited / doc_deleted as document changes', () => {
    for (const action of ['created', 'edited', 'deleted'] as const) {
      const res = docChangeFromConfMessage({ ...edited, 'Event-Name': `doc_${action}` });
      expect(res).toEqual({
        kind: 'change',
        change: { database: edited.Database, id: 'dev1', type: 'device', rev: '3-abc', action, scope: 'doc' },
      });
    }
  });

  it('reads the JSON body as a string or a Buffer too', () => {
    expect(docChangeFromConfMessage(JSON.stringify(edited)).kind).toBe('change');
    expect(docChangeFromConfMessage(Buffer.from(JSON.stringify(edited))).kind).toBe('change');
  });

  it('reads db_* events as whole-database changes', () => {
    const res = docChangeFromConfMessage({
      'Event-Category': 'configuration',
      'Event-Name': 'db_deleted',
      ID: 'offnet',
      Database: 'offnet',
      Type: 'database',
    });
    expect(res).toEqual({
      kind: 'change',
      change: { database: 'offnet', id: 'offnet', type: 'database', action: 'deleted', scope: 'db' },
    });
  });

  it('takes a soft-deleted document as deleted', () => {
    const res = docChangeFromConfMessage({ ...edited, 'Is-Soft-Deleted': true });
    expect(res.kind === 'change' && res.change.action).toBe('deleted');
    const asText = docChangeFromConfMessage({ ...edited, 'Is-Soft-Deleted': 'true' });
    expect(asText.kind === 'change' && asText.change.action).toBe('deleted');
  });

  it('ignores well-formed configuration messages that are not document changes', () => {
    expect(docChangeFromConfMessage({ ...edited, 'Event-Name': 'db_views_updated' }).kind).toBe('ignored');
  });

  it('refuses malformed input with a reason instead of throwing', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not JSON/],
      [[1, 2], /not a JSON object/],
      [null, /not a JSON object/],
      [{ ...edited, 'Event-Category': 'call_event' }, /Event-Category/],
      [{ ...edited, 'Event-Name': 'doc_exploded' }, /unknown configuration Event-Name/],
      [{ ...edited, ID: '' }, /ID/],
      [{ ...edited, Database: 5 }, /Database/],
      [{ ...edited, Type: ['device'] }, /Type/],
      [{ ...edited, 'Is-Soft-Deleted': 'maybe' }, /Is-Soft-Deleted/],
    ];
    for (const [body, reason] of cases) {
      const res = docChangeFromConfMessage(body);
      expect(res.kind).toBe('invalid');
      expect(res.kind === 'invalid' && res.reason).toMatch(reason);
    }
  });
});

describe('docChangeFromFeed', () => {
  it('calls revision 1 created, later revisions edited, deletions deleted, and keeps pvt_type', () => {
    expect(
      docChangeFromFeed('accounts', {
        seq: '1',
        id: 'a',
        rev: '1-x',
        deleted: false,
        doc: { _id: 'a', _rev: '1-x', pvt_type: 'account' },
      }),
    ).toEqual({
      database: 'accounts',
      id: 'a',
      rev: '1-x',
      action: 'created',
      scope: 'doc',
      type: 'account',
    });
    expect(docChangeFromFeed('accounts', { seq: '2', id: 'a', rev: '2-y', deleted: false }).action).toBe(
      'edited',
    );
    expect(docChangeFromFeed('accounts', { seq: '3', id: 'a', rev: '3-z', deleted: true }).action).toBe(
      'deleted',
    );
  });
});
