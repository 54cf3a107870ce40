/**
 * RegistrarCore: what one reg_server owns besides its queue: the cache (StoreCache), the
 * change follower that keeps cached credentials true, the registration table and its
 * batched writer. A plain object; reg_server creates it in init and closes it in
 * terminate (or, after a crash, at the next init).
 *
 * Contract
 * - `RegistrarCore.open(store, settings, log, nodeName)`: databases and design documents exist
 *   (accounts, registrations, every listed account's database), the cache is primed from
 *   the registrations database (and, with settings.prime_credentials, with every device's
 *   credentials), and the core is ready; rejects when the store is
 *   unreachable (the supervisor then retries within its intensity).
 * - `close()` drains pending registration writes, stops the change feeds and the cache;
 *   idempotent.
 */
import { ACCOUNTS_DB, ChangeFollower, StoreCache, type DocumentStore } from '../../src/store/index.ts';
import type { Logger } from '../../src/kernel/index.ts';
import { ensureAccountDb, ensureRegistrarDbs, REGISTRATIONS_DB } from './databases.ts';
import { RegStore } from './reg-store.ts';
import { RegistrationTable } from './registrations.ts';
import { primeCredentials, type CredentialDeps } from './credentials.ts';
import { DeviceBatcher } from './device-batcher.ts';
import type { RegistrarSettings } from './settings.ts';

export class RegistrarCore {
  readonly startedAt = Date.now();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly store: DocumentStore,
    readonly cache: StoreCache,
    readonly follower: ChangeFollower,
    readonly table: RegistrationTable,
    readonly log: Logger,
    readonly nodeName: string,
    readonly sweepIntervalMs: number,
  ) {}

  static async open(store: DocumentStore, settings: RegistrarSettings, log: Logger, nodeName: string): Promise<{ core: RegistrarCore; primed: { loaded: number; expired: number; credentials: number } }> {
    await ensureRegistrarDbs(store);
    const accounts = await store.view(ACCOUNTS_DB, 'accounts/listing_by_realm');
    for (const row of accounts.rows) {
      const db = (row.value as { account_db?: unknown } | null)?.account_db;
      if (typeof db === 'string') await ensureAccountDb(store, db).catch((err: unknown) => log.warn({ db, err: (err as Error).message }, 'account database not ready'));
    }
    const cache = new StoreCache({ maxEntries: settings.cacheMaxEntries, logger: log });
    const follower = new ChangeFollower({ store, cache, logger: log });
    const table = new RegistrationTable(store, REGISTRATIONS_DB, cache, new RegStore(store, REGISTRATIONS_DB, log));
    const primed = await table.prime(Date.now());
    const core = new RegistrarCore(store, cache, follower, table, log, nodeName, settings.sweepIntervalMs);
    const credentials = settings.primeCredentials ? await primeCredentials(core.credentialDeps) : 0;
    return { core, primed: { ...primed, credentials } };
  }

  private deps: CredentialDeps | undefined;

  get credentialDeps(): CredentialDeps {
    return (this.deps ??= { store: this.store, cache: this.cache, watch: (db) => this.follower.watch(db), devices: new DeviceBatcher(this.store), inflight: new Map() });
  }

  /** Seconds since this core started (reg_query's Registrar-Age). */
  get age(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.table.writer.close().catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'registrations not all written at close'));
      await this.follower.close();
      this.cache.close();
    })());
  }
}
