/**
 * decode(): AMQP delivery body to a JSON object, never a throw.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decode, validate } from '../../src/api/index.ts';
import { kamailioAuthnReq } from './kamailio-fixtures.ts';

const LIMIT = { maxBytes: 64 * 1024 };
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function reasonOf(r: ReturnType<typeof decode>): string {
  if (r.ok) throw new Error('expected the body to be refused');
  return r.reason;
}

describe('decode', () => {
  it('plain JSON, with or without content-type, charset allowed', () => {
    for (const contentType of [undefined, 'application/json', 'application/json; charset=utf-8']) {
      const r = decode(json(kamailioAuthnReq()), { contentType }, LIMIT);
      expect(r.ok && r.msg).toEqual(kamailioAuthnReq());
    }
  });

  it('gzip content-encoding', () => {
    const r = decode(
      gzipSync(json(kamailioAuthnReq())),
      { contentType: 'application/json', contentEncoding: 'gzip' },
      LIMIT,
    );
    expect(r.ok && validate(r.msg).ok).toBe(true);
  });

  it('a gzip body that is not gzip', () => {
    expect(reasonOf(decode(json({ a: 1 }), { contentEncoding: 'gzip' }, LIMIT))).toMatch(/gzip/);
  });

  it('an oversized body', () => {
    const big = json({ pad: 'x'.repeat(LIMIT.maxBytes) });
    expect(reasonOf(decode(big, {}, LIMIT))).toMatch(/exceeds the 65536-byte limit/);
  });

  it('a small gzip body that inflates beyond the limit', () => {
    const bomb = gzipSync(json({ pad: 'x'.repeat(10 * LIMIT.maxBytes) }));
    expect(bomb.byteLength).toBeLessThan(LIMIT.maxBytes);
    expect(reasonOf(decode(bomb, { contentEncoding: 'gzip' }, LIMIT))).toMatch(/inflates beyond/);
  });

  it('non-JSON', () => {
    expect(reasonOf(decode(Buffer.from('{"Event-Category": '), {}, LIMIT))).toMatch(/not JSON/);
    expect(reasonOf(decode(Buffer.from(''), {}, LIMIT))).toMatch(/not JSON/);
  });

  it('JSON that is not an object', () => {
    expect(reasonOf(decode(json([1, 2]), {}, LIMIT))).toContain('a list');
    expect(reasonOf(decode(json(null), {}, LIMIT))).toContain('null');
    expect(reasonOf(decode(json('str'), {}, LIMIT))).toContain('a string');
    expect(reasonOf(decode(json(12), {}, LIMIT))).toContain('a number');
  });

  it('invalid UTF-8', () => {
    expect(reasonOf(decode(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), {}, LIMIT))).toMatch(
      /UTF-8/,
    );
  });

  it('other content types and encodings', () => {
    expect(reasonOf(decode(json({}), { contentType: 'application/erlang' }, LIMIT))).toMatch(/content-type/);
    expect(reasonOf(decode(json({}), { contentEncoding: 'br' }, LIMIT))).toMatch(/content-encoding/);
  });

  it('nesting deeper than allowed', () => {
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { a: deep };
    expect(reasonOf(decode(json(deep), {}, LIMIT))).toMatch(/deeper than 32/);
    expect(decode(json(deep), {}, { ...LIMIT, maxDepth: 64 }).ok).toBe(true);
  });

  it('a body that is not bytes', () => {
    expect(reasonOf(decode('{}' as unknown as Buffer, {}, LIMIT))).toMatch(/byte buffer/);
  });
});
