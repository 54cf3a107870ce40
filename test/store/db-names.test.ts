/**
 * Kazoo database naming and the name/id checks both adapters share.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  accountDbName,
  accountIdFromDb,
  accountModbName,
  canonicalDbName,
  checkDocId,
  isStoreError,
  plainDbName,
  SYSTEM_DBS,
} from '../../src/store/index.ts';

const ID = '4fe69c5b61015084f1fe5684abc6e502';
const hexId = fc.stringMatching(/^[0-9a-f]{32}$/);

describe('account database names', () => {
  it('spells an account database in Kazoo’s three forms', () => {
    expect(accountDbName(ID)).toBe('account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502');
    expect(accountDbName(ID, 'unencoded')).toBe('account/4f/e6/9c5b61015084f1fe5684abc6e502');
    expect(accountDbName(ID, 'raw')).toBe(ID);
    expect(accountModbName(ID, 2026, 3)).toBe('account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502-202603');
  });

  it('gets the account id back from any form, modb included', () => {
    fc.assert(
      fc.property(
        hexId,
        fc.constantFrom('encoded', 'unencoded', 'raw') as fc.Arbitrary<'encoded' | 'unencoded' | 'raw'>,
        (id, form) => {
          expect(accountIdFromDb(accountDbName(id, form))).toBe(id);
          expect(accountDbName(accountDbName(id, form), 'encoded')).toBe(accountDbName(id));
        },
      ),
    );
    expect(accountIdFromDb(accountModbName(ID, 2025, 12, 'unencoded'))).toBe(ID);
    expect(accountIdFromDb('accounts')).toBeUndefined();
  });

  it('refuses what is not an account id with a clear invalid error', () => {
    for (const bad of ['', 'xyz', ID.toUpperCase(), `${ID}0`, 'account/4f/e6']) {
      let err: unknown;
      try {
        accountDbName(bad);
      } catch (e) {
        err = e;
      }
      expect(isStoreError(err, 'invalid')).toBe(true);
      expect((err as Error).message).toMatch(/32 lower-case hex/);
    }
    expect(() => accountModbName(ID, 2026, 13)).toThrow(/modb/);
  });
});

describe('database name validation', () => {
  it('accepts CouchDB names and both spellings of an account database, giving the plain name', () => {
    expect(canonicalDbName('system_config')).toBe('system_config');
    expect(canonicalDbName(accountDbName(ID))).toBe(accountDbName(ID, 'unencoded'));
    expect(plainDbName('account%2fab%2Fcd')).toBe('account/ab/cd');
    for (const name of SYSTEM_DBS) expect(canonicalDbName(name)).toBe(name);
  });

  it('refuses names CouchDB would refuse', () => {
    for (const bad of ['', 'Accounts', '1abc', '_users', 'a b', 'a.b', 'x'.repeat(239), 42]) {
      expect(() => canonicalDbName(bad)).toThrow(/database name/);
    }
  });

  it('refuses empty, non-string and reserved document ids, but allows design documents', () => {
    expect(checkDocId('_design/callflow')).toBe('_design/callflow');
    expect(checkDocId('device/with/slashes')).toBe('device/with/slashes');
    for (const bad of ['', '_local/x', '_foo', '_design/', 7, null])
      expect(() => checkDocId(bad)).toThrow(/document id/);
  });
});
