/**
 * Kazoo's private timestamps (src/store/pvt-times.ts): a new document gets pvt_created and
 * pvt_modified of the same Gregorian second; an edit moves pvt_modified only; a Unix value
 * an earlier Fife stored reads (and is rewritten) as the same time in Gregorian seconds.
 */
import { describe, expect, it } from 'vitest';
import { GREGORIAN_OFFSET_S, asGregorianSeconds, gregorianSeconds } from '../../src/api/time.ts';
import { createdSeconds, modifiedSeconds, withPvtTimes } from '../../src/store/index.ts';

describe('pvt times', () => {
  it('a new document (no _rev) gets pvt_created = pvt_modified = now in Gregorian seconds, over any given pvt_created', () => {
    const before = gregorianSeconds();
    const doc = withPvtTimes({ _id: 'x', name: 'n', pvt_created: 5 });
    expect(doc.pvt_created).toBeGreaterThanOrEqual(before);
    expect(doc.pvt_created).toBeLessThanOrEqual(gregorianSeconds());
    expect(doc.pvt_modified).toBe(doc.pvt_created);
    expect(doc.name).toBe('n');
  });

  it('an edit (with _rev) keeps pvt_created and moves pvt_modified; one without pvt_created gets now', () => {
    const created = gregorianSeconds() - 3600;
    const now = gregorianSeconds();
    expect(withPvtTimes({ _id: 'x', _rev: '1-a', pvt_created: created }, now)).toMatchObject({
      pvt_created: created,
      pvt_modified: now,
    });
    expect(withPvtTimes({ _id: 'x', _rev: '1-a' }, now)).toMatchObject({
      pvt_created: now,
      pvt_modified: now,
    });
  });

  it("an earlier Fife's Unix seconds read as Gregorian, and an edit rewrites pvt_created in Gregorian", () => {
    const unix = 1_700_000_000;
    const doc = { _id: 'x', _rev: '3-a', pvt_created: unix, pvt_modified: unix + 10 };
    expect(createdSeconds(doc)).toBe(unix + GREGORIAN_OFFSET_S);
    expect(modifiedSeconds(doc)).toBe(unix + 10 + GREGORIAN_OFFSET_S);
    expect(withPvtTimes(doc).pvt_created).toBe(unix + GREGORIAN_OFFSET_S);
  });

  it('asGregorianSeconds: Gregorian kept, Unix moved, integer text read, anything else undefined', () => {
    const g = gregorianSeconds();
    expect(asGregorianSeconds(g)).toBe(g);
    expect(asGregorianSeconds(g - GREGORIAN_OFFSET_S)).toBe(g);
    expect(asGregorianSeconds(String(g))).toBe(g);
    expect(asGregorianSeconds(' 12 ')).toBe(12 + GREGORIAN_OFFSET_S);
    for (const bad of [undefined, null, '', 'abc', '1e3', '-5', {}, [], Number.NaN, Infinity])
      expect(asGregorianSeconds(bad)).toBeUndefined();
    expect(createdSeconds({ _id: 'x' })).toBeUndefined();
  });
});
