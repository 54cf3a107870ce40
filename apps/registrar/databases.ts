/**
 * The registrar's databases and their design documents (loaded from ./couchdb at start,
 * as Whistle's registrar loaded priv/couchdb).
 *
 * Contract
 * - `ensureRegistrarDbs(store)` creates `accounts` and `registrations` when missing and
 *   makes their design documents current; `ensureAccountDb(store, db)` does the same for
 *   one account database (created when missing). Both are idempotent and safe to run
 *   from several nodes at once (ensureDesignDocs resolves conflicts).
 * - REGISTRATIONS_DB holds one document per live registration (id = the cache id).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ACCOUNTS_DB,
  ensureDesignDocs,
  readDesignDocs,
  type DesignDoc,
  type DocumentStore,
} from '../../src/store/index.ts';

export const REGISTRATIONS_DB = 'registrations';
export { ACCOUNTS_DB };

const HERE = dirname(fileURLToPath(import.meta.url));
let loaded: { accounts: DesignDoc[]; account: DesignDoc[]; registrations: DesignDoc[] } | undefined;

function designDocs(): NonNullable<typeof loaded> {
  return (loaded ??= {
    accounts: readDesignDocs(join(HERE, 'couchdb', 'accounts')),
    account: readDesignDocs(join(HERE, 'couchdb', 'account')),
    registrations: readDesignDocs(join(HERE, 'couchdb', 'registrations')),
  });
}

export async function ensureRegistrarDbs(store: DocumentStore): Promise<void> {
  const d = designDocs();
  await store.createDb(ACCOUNTS_DB);
  await store.createDb(REGISTRATIONS_DB);
  await ensureDesignDocs(store, ACCOUNTS_DB, d.accounts);
  await ensureDesignDocs(store, REGISTRATIONS_DB, d.registrations);
}

export async function ensureAccountDb(store: DocumentStore, accountDb: string): Promise<void> {
  await store.createDb(accountDb);
  await ensureDesignDocs(store, accountDb, designDocs().account);
}
