/**
 * DeviceBatcher: coalesces device look-ups by SIP username into one view query per
 * account database (`devices/sip_credentials` with `keys`), so a burst of first-time
 * REGISTERs (cold cache) costs a few store round trips instead of one each.
 *
 * Contract
 * - `find(db, username)` resolves the device document whose sip.username is `username`
 *   (lower-cased key), or undefined. Calls made in the same turn of the event loop for the
 *   same database share one query; a username asked twice shares one answer.
 * - A database without the design document (written by hand) gets it (`ensureAccountDb`)
 *   and is asked again once; a database that does not exist answers undefined for all.
 * - A failed query rejects every caller of that batch with the store's error.
 */
import { isStoreError, type DocumentStore, type SavedDoc } from '../../src/store/index.ts';
import { ensureAccountDb } from './databases.ts';

type Waiter = { resolve(d: SavedDoc | undefined): void; reject(e: unknown): void };

export class DeviceBatcher {
  private pending = new Map<string, Map<string, Waiter[]>>();
  private scheduled = false;

  constructor(private readonly store: DocumentStore) {}

  find(db: string, username: string): Promise<SavedDoc | undefined> {
    return new Promise((resolve, reject) => {
      let users = this.pending.get(db);
      if (users === undefined) this.pending.set(db, (users = new Map()));
      const ws = users.get(username);
      if (ws !== undefined) ws.push({ resolve, reject });
      else users.set(username, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [db, users] of batches) void this.run(db, users);
  }

  private async run(db: string, users: Map<string, Waiter[]>): Promise<void> {
    const keys = [...users.keys()];
    try {
      const docs = await this.query(db, keys);
      for (const [u, ws] of users) for (const w of ws) w.resolve(docs.get(u));
    } catch (err) {
      for (const ws of users.values()) for (const w of ws) w.reject(err);
    }
  }

  private async query(db: string, keys: string[]): Promise<Map<string, SavedDoc>> {
    const ask = () => this.store.view(db, 'devices/sip_credentials', { keys, includeDocs: true });
    let res;
    try {
      res = await ask();
    } catch (err) {
      if (!isStoreError(err) || err.code !== 'not_found') throw err;
      if (!(await this.store.dbExists(db))) return new Map();
      await ensureAccountDb(this.store, db);
      res = await ask();
    }
    const out = new Map<string, SavedDoc>();
    for (const row of res.rows) if (row.doc && !out.has(String(row.key))) out.set(String(row.key), row.doc);
    return out;
  }
}
