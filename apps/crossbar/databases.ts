/**
 * crossbar's databases and design documents (./couchdb, installed as Kazoo's crossbar
 * installs priv/couchdb/views): the `accounts` views it lists and logs in with
 * (crossbar_accounts) and each account database's listings (crossbar_listings). The
 * documents are the ones the other apps read (the registrar and callflow install their
 * own views in the same databases), so a device written here is the registrar's.
 *
 * Contract
 * - `Databases.system()` makes `accounts` and `system_config` exist with their design
 *   documents; `Databases.account(db)` the same for one account database (created when
 *   missing). Each runs once per Databases object and database; both are idempotent and
 *   safe from several nodes at once (ensureDesignDocs settles conflicts). The optional
 *   `ready(db)` hook runs once each database is made, before either resolves.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ACCOUNTS_DB,
  SYSTEM_CONFIG_DB,
  ensureDesignDocs,
  readDesignDocs,
  type DesignDoc,
  type DocumentStore,
} from '../../src/store/index.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
let loaded: { accounts: DesignDoc[]; account: DesignDoc[] } | undefined;

function designDocs(): NonNullable<typeof loaded> {
  return (loaded ??= {
    accounts: readDesignDocs(join(HERE, 'couchdb', 'accounts')),
    account: readDesignDocs(join(HERE, 'couchdb', 'account')),
  });
}

export class Databases {
  private readonly done = new Map<string, Promise<void>>();
  constructor(
    private readonly store: DocumentStore,
    /** Runs once a database is ready, before any request reads it (the cache follows it). */
    private readonly ready: (db: string) => Promise<void> = async () => undefined,
  ) {}

  private once(key: string, run: () => Promise<void>): Promise<void> {
    let p = this.done.get(key);
    if (p === undefined) {
      p = run();
      this.done.set(key, p);
      // A failure is not remembered: the next request tries again.
      p.catch(() => this.done.delete(key));
    }
    return p;
  }

  system(): Promise<void> {
    return this.once('', async () => {
      await this.store.createDb(ACCOUNTS_DB);
      await ensureDesignDocs(this.store, ACCOUNTS_DB, designDocs().accounts);
      await this.store.createDb(SYSTEM_CONFIG_DB);
      await this.ready(ACCOUNTS_DB);
    });
  }

  account(db: string): Promise<void> {
    return this.once(db, async () => {
      await this.store.createDb(db);
      await ensureDesignDocs(this.store, db, designDocs().account);
      await this.ready(db);
    });
  }
}
