/**
 * RegStore: writes registration documents to the registrations database in batches
 * (write-behind with a completion promise per write), so a burst of REGISTERs costs a
 * few bulk writes instead of one round trip each.
 *
 * Contract
 * - `put(doc)` / `delete(id)` resolve once that id's latest state is in the database
 *   (later calls for the same id before a flush supersede earlier ones and share their
 *   completion). They reject with the store's error when the write failed.
 * - Revisions are remembered (`noteRev` at priming, then from each write); ids with no
 *   known revision are looked up in one `allDocs` per batch. A conflict (another node
 *   wrote meanwhile) re-reads the revision and retries, at most 3 times.
 * - A flush starts on the next tick after a write arrives (or at once past `maxBatch`
 *   pending ids); one flush runs at a time.
 * - `drain()` resolves when nothing is pending or in flight; `close()` drains, then
 *   refuses further writes.
 */
import type { Doc, DocInput, DocumentStore } from '../../src/store/index.ts';
import type { Logger } from '../../src/kernel/index.ts';

interface Pending {
  doc: DocInput | undefined;
  attempts: number;
  waiters: Array<{ resolve(): void; reject(err: unknown): void }>;
}

export class RegStore {
  private pending = new Map<string, Pending>();
  private readonly revs = new Map<string, string>();
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly store: DocumentStore,
    private readonly db: string,
    private readonly log: Logger,
    private readonly maxBatch = 500,
  ) {}

  noteRev(id: string, rev: string): void {
    this.revs.set(id, rev);
  }

  put(doc: Doc): Promise<void> {
    return this.enqueue(doc._id, doc);
  }

  delete(id: string): Promise<void> {
    return this.enqueue(id, undefined);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  drain(): Promise<void> {
    if (this.pending.size === 0 && this.flushing === undefined) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }

  private enqueue(id: string, doc: DocInput | undefined): Promise<void> {
    if (this.closed) return Promise.reject(new Error('registration store is closed'));
    return new Promise((resolve, reject) => {
      const p = this.pending.get(id);
      if (p !== undefined) {
        p.doc = doc;
        p.waiters.push({ resolve, reject });
      } else this.pending.set(id, { doc, attempts: 0, waiters: [{ resolve, reject }] });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing !== undefined || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.flushing === undefined && this.pending.size > 0) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, this.maxBatch);
        for (const [id] of batch) this.pending.delete(id);
        await this.write(batch);
      }
    } finally {
      this.flushing = undefined;
      if (this.pending.size > 0) this.schedule();
      else for (const r of this.idle.splice(0)) r();
    }
  }

  private async write(batch: Array<[string, Pending]>): Promise<void> {
    try {
      await this.learnRevs(batch.filter(([id]) => !this.revs.has(id)).map(([id]) => id));
    } catch (err) {
      for (const [, p] of batch) for (const w of p.waiters) w.reject(err);
      return;
    }
    const writes: Array<[string, Pending]> = [];
    const docs: DocInput[] = [];
    for (const [id, p] of batch) {
      const rev = this.revs.get(id);
      if (p.doc === undefined && rev === undefined) {
        for (const w of p.waiters) w.resolve();
        continue;
      }
      writes.push([id, p]);
      docs.push(
        p.doc === undefined ? { _id: id, _rev: rev, _deleted: true } : { ...p.doc, _id: id, _rev: rev },
      );
    }
    if (docs.length === 0) return;
    let results;
    try {
      results = await this.store.bulkSave(this.db, docs);
    } catch (err) {
      this.log.error({ err: (err as Error).message, docs: docs.length }, 'registrations: batch write failed');
      for (const [, p] of writes) for (const w of p.waiters) w.reject(err);
      return;
    }
    results.forEach((r, i) => {
      const [id, p] = writes[i]!;
      if (r.ok) {
        if (p.doc === undefined) this.revs.delete(id);
        else this.revs.set(id, r.rev);
        for (const w of p.waiters) w.resolve();
      } else if (r.error.code === 'conflict' && p.attempts < 3) {
        this.revs.delete(id);
        const newer = this.pending.get(id);
        if (newer !== undefined) newer.waiters.push(...p.waiters);
        else this.pending.set(id, { ...p, attempts: p.attempts + 1 });
      } else {
        this.log.error({ id, code: r.error.code, reason: r.error.reason }, 'registrations: write refused');
        for (const w of p.waiters) w.reject(r.error);
      }
    });
  }

  private async learnRevs(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const res = await this.store.allDocs(this.db, { keys: ids });
    for (const row of res.rows) {
      const v = row.value as { rev?: string; deleted?: boolean } | undefined;
      if (row.id !== undefined && v?.rev !== undefined && v.deleted !== true) this.revs.set(row.id, v.rev);
    }
  }
}
