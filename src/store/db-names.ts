/**
 * Kazoo's database naming, and the validation both adapters apply before any I/O.
 *
 * Contract
 * - An account id is 32 lower-case hex characters. Its database, in Kazoo's three forms:
 *   'unencoded' `account/ab/cd/efgh...` (CouchDB's real name), 'encoded'
 *   `account%2Fab%2Fcd%2Fefgh...` (the form Kazoo passes in messages and URLs; the default,
 *   as Kazoo's format_account_db), 'raw' the bare id. `accountDbName` throws StoreError
 *   'invalid' for anything that is not an account id (or an account db name in any form).
 *   `accountModbName(id, year, month)` names the monthly database (`...-YYYYMM`).
 * - `accountIdFromDb(name)` gives the id back from any form, or undefined.
 * - `canonicalDbName(name)` turns any accepted spelling into CouchDB's name (`%2F` -> `/`,
 *   and the other escapes of CouchDB's allowed characters) and throws 'invalid' unless the
 *   result matches CouchDB's rule: a lower-case letter, then [a-z0-9_$()+/-]*, at most 238
 *   characters. Names starting with `_` (server databases) are refused.
 * - `plainDbName(name)` does the same decoding without validating (for matching names).
 * - `checkDocId(id)` throws 'invalid' for a non-string, empty, or `_`-prefixed id other than
 *   `_design/<name>` (CouchDB refuses those too).
 * - SYSTEM_DBS lists the system databases a node creates at first start.
 */
import { StoreError } from './store-error.ts';

export const ACCOUNTS_DB = 'accounts';
export const SYSTEM_CONFIG_DB = 'system_config';
export const SYSTEM_DATA_DB = 'system_data';
export const SYSTEM_SCHEMAS_DB = 'system_schemas';
export const SIP_AUTH_DB = 'sip_auth';
export const OFFNET_DB = 'offnet';
export const TOKEN_AUTH_DB = 'token_auth';
export const ALERTS_DB = 'alerts';

export const SYSTEM_DBS: readonly string[] = [
  ACCOUNTS_DB,
  SYSTEM_CONFIG_DB,
  SYSTEM_DATA_DB,
  SYSTEM_SCHEMAS_DB,
  SIP_AUTH_DB,
  OFFNET_DB,
  TOKEN_AUTH_DB,
  ALERTS_DB,
];

export type AccountDbFormat = 'encoded' | 'unencoded' | 'raw';

const ACCOUNT_ID = /^[0-9a-f]{32}$/;
const DB_NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const MAX_DB_NAME = 238;

export function isAccountId(id: unknown): id is string {
  return typeof id === 'string' && ACCOUNT_ID.test(id);
}

/** The account id in any of the three forms (or a modb name), or undefined. */
export function accountIdFromDb(name: string): string | undefined {
  if (isAccountId(name)) return name;
  const m =
    /^account(?:\/|%2f)([0-9a-f]{2})(?:\/|%2f)([0-9a-f]{2})(?:\/|%2f)([0-9a-f]{28})(?:-\d{6})?$/i.exec(name);
  if (m === null) return undefined;
  const id = `${m[1]}${m[2]}${m[3]}`.toLowerCase();
  return isAccountId(id) ? id : undefined;
}

export function accountDbName(accountIdOrDb: string, format: AccountDbFormat = 'encoded'): string {
  const id = accountIdFromDb(accountIdOrDb);
  if (id === undefined) {
    throw new StoreError(
      'invalid',
      `not an account id or account database: ${JSON.stringify(accountIdOrDb)} (expected 32 lower-case hex characters)`,
    );
  }
  if (format === 'raw') return id;
  const sep = format === 'encoded' ? '%2F' : '/';
  return `account${sep}${id.slice(0, 2)}${sep}${id.slice(2, 4)}${sep}${id.slice(4)}`;
}

export function accountModbName(
  accountIdOrDb: string,
  year: number,
  month: number,
  format: Exclude<AccountDbFormat, 'raw'> = 'encoded',
): string {
  if (
    !Number.isInteger(year) ||
    year < 1970 ||
    year > 9999 ||
    !Number.isInteger(month) ||
    month < 1 ||
    month > 12
  ) {
    throw new StoreError('invalid', `bad modb year/month: ${year}/${month}`);
  }
  return `${accountDbName(accountIdOrDb, format)}-${year}${String(month).padStart(2, '0')}`;
}

const ESCAPES: Record<string, string> = {
  '%2f': '/',
  '%24': '$',
  '%28': '(',
  '%29': ')',
  '%2b': '+',
  '%2d': '-',
  '%5f': '_',
};

/** Decodes the escapes of CouchDB's allowed characters without validating (for matching). */
export function plainDbName(name: string): string {
  return name.replace(/%[0-9a-f]{2}/gi, (e) => ESCAPES[e.toLowerCase()] ?? e);
}

export function canonicalDbName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new StoreError('invalid', `database name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  const plain = plainDbName(name);
  if (!DB_NAME.test(plain) || plain.length > MAX_DB_NAME) {
    throw new StoreError(
      'invalid',
      `illegal database name ${JSON.stringify(name)}: use a lower-case letter then a-z 0-9 _ $ ( ) + - /`,
      {
        database: name,
      },
    );
  }
  return plain;
}

/** The URL-encoded spelling of a database name (what Kazoo calls 'encoded'). */
export function encodedDbName(name: string): string {
  return encodeURIComponent(canonicalDbName(name));
}

export function checkDocId(id: unknown, database?: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new StoreError('invalid', `document id must be a non-empty string, got ${JSON.stringify(id)}`, {
      database,
    });
  }
  if (id.startsWith('_') && !/^_design\/[^/]+$/.test(id)) {
    throw new StoreError(
      'invalid',
      `document id ${JSON.stringify(id)} starts with '_' (only _design/<name> is allowed)`,
      { database, id },
    );
  }
  return id;
}
