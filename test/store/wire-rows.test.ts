import { describe, expect, it } from 'vitest';
import { toBulkResults } from '../../src/store/wire-rows.ts';

describe('_bulk_docs rows', () => {
  it('come back in the order of the documents sent, even when the server answers a conflict last', () => {
    const docs = [{ _id: 'b1' }, { _id: 'b2' }, { _id: 'b3' }];
    const raw = [
      { id: 'b1', ok: true, rev: '1-a' },
      { id: 'b3', ok: true, rev: '1-c' },
      { id: 'b2', error: 'conflict', reason: 'Document update conflict', status: 409 },
    ];
    const res = toBulkResults(raw, docs, 'db');
    expect(res.map((r) => [r.id, r.ok])).toEqual([
      ['b1', true],
      ['b2', false],
      ['b3', true],
    ]);
    expect(res[1]).toMatchObject({ ok: false, error: { code: 'conflict', id: 'b2' } });
  });
});
