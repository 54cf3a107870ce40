/**
 * A plugin's own message family: addFamily puts it in the catalogue, so build, validate and
 * lookup know it; a clash with another family is refused whole; adding it again replaces it.
 */
import { describe, expect, it } from 'vitest';
import { addFamily, build, catalogue, validate, type MessageDef } from '../../src/api/index.ts';

const CTX = { appName: 'ping', appVersion: '1.0.0', node: 'test@localhost' };
const pingReq = (optional: string[] = []): MessageDef => ({
  id: 'ping_req',
  category: 'ping',
  name: 'req',
  doc: 'a plugin asks for a pong',
  required: ['Target'],
  optional,
  types: { Target: 'string' },
  route: {
    exchange: 'kapps',
    kind: 'key',
    key: (m) => `ping.req.${String(m.Target)}`,
    pattern: 'ping.req.<target>',
  },
});

describe('addFamily', () => {
  it('makes a plugin message buildable, valid on arrival and found by lookup', () => {
    expect(() => build('ping_req', { Target: 'x' }, CTX)).toThrow(/no message 'ping_req'/);
    addFamily('ping', [pingReq()]);
    const msg = build('ping_req', { Target: 'x', Extra: 1 }, CTX);
    expect(msg).toMatchObject({
      'Event-Category': 'ping',
      'Event-Name': 'req',
      Target: 'x',
      'App-Name': 'ping',
    });
    expect(msg).not.toHaveProperty('Extra');
    expect(validate(msg)).toMatchObject({ ok: true });
    expect(validate({ ...msg, Target: 7 })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('Target'),
    });
    expect(catalogue.lookup('ping', 'req')?.id).toBe('ping_req');
    expect(catalogue.familyOf('ping_req')).toBe('ping');
    expect(catalogue.familyOf('authn_req')).toBe('built-in');
  });

  it('adding the family again replaces its entries (a plugin loaded anew)', () => {
    addFamily('ping2', [{ ...pingReq(['Note']), id: 'ping2_req', category: 'ping2' }]);
    addFamily('ping2', [{ ...pingReq(['Note', 'Colour']), id: 'ping2_req', category: 'ping2' }]);
    expect(catalogue.get('ping2_req').optional).toEqual(['Note', 'Colour']);
  });

  it("refuses, whole, a family that reuses another family's id or pair, or an unknown exchange", () => {
    const before = catalogue.all().length;
    expect(() =>
      addFamily('thief', [
        { ...pingReq(), id: 'thief_ok', category: 'thief' },
        { ...pingReq(), id: 'authn_req' },
      ]),
    ).toThrow("catalogue entry 'authn_req' of family 'thief' is already defined by family 'built-in'");
    expect(() =>
      addFamily('dup', [{ ...pingReq(), id: 'dup_req', category: 'directory', name: 'authn_req' }]),
    ).toThrow(/share directory\/authn_req/);
    expect(() =>
      addFamily('lost', [
        { ...pingReq(), id: 'lost_req', route: { exchange: 'nowhere' as 'kapps', kind: 'queue' } },
      ]),
    ).toThrow(/exchange 'nowhere'/);
    expect(catalogue.all().length).toBe(before);
    expect(catalogue.has('thief_ok')).toBe(false);
    expect(() => addFamily('built-in', [])).toThrow(/reserved/);
  });
});
