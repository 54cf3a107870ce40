/**
 * StoreFaults: a fault switch in the store layer, to make a store unreachable on purpose
 * for a while (`fife chaos --store-down MS`).
 *
 * Contract
 * - `installStoreFaults(store)` puts the switch on that store instance (its request
 *   methods: get, save, view, ... and follow's page reads through `changes`) and answers
 *   it. Installed once per instance; a second call answers the same switch.
 * - `unreachableFor(ms)` makes every request made before the time is up reject with
 *   StoreError 'unavailable' (reason `unreachable (fault injection)`), as a store that
 *   cannot be reached does: callers handle it exactly as a real outage. A request already
 *   running is not touched. A new call replaces the time left; `heal()` ends it now.
 *   `onEnd` is called once when a period ends (by time or heal()).
 * - `unreachable` says whether it is on now.
 * - The switch is installed before the node's metrics instrument the store, so the
 *   failures are counted in fife_store_errors_total like any other.
 */
import { StoreError } from './store-error.ts';
import type { DocumentStore } from './document-store.ts';

/** The DocumentStore's requests that reach the engine: the fault switch guards them, the node's metrics time them. */
export const STORE_REQUESTS = [
  'createDb',
  'dbExists',
  'deleteDb',
  'listDbs',
  'get',
  'save',
  'remove',
  'bulkSave',
  'putAttachment',
  'getAttachment',
  'removeAttachment',
  'view',
  'allDocs',
  'changes',
] as const;

export class StoreFaults {
  private until = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended: (() => void) | undefined;

  get unreachable(): boolean {
    return Date.now() < this.until;
  }

  /** Requests fail with 'unavailable' for `ms`; `onEnd` runs when that is over. */
  unreachableFor(ms: number, onEnd?: () => void): void {
    if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`unreachableFor needs ms > 0, got ${ms}`);
    clearTimeout(this.timer);
    this.until = Date.now() + ms;
    this.ended = onEnd;
    this.timer = setTimeout(() => this.heal(), ms);
    this.timer.unref?.();
  }

  heal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const wasOn = this.until !== 0;
    this.until = 0;
    const ended = this.ended;
    this.ended = undefined;
    if (wasOn) ended?.();
  }

  /** Throws the outage error while the switch is on. */
  check(op: string, database: unknown): void {
    if (!this.unreachable) return;
    throw new StoreError('unavailable', 'unreachable (fault injection)', {
      op,
      database: typeof database === 'string' ? database : undefined,
    });
  }
}

const installed = new WeakMap<DocumentStore, StoreFaults>();

export function installStoreFaults(store: DocumentStore): StoreFaults {
  const known = installed.get(store);
  if (known !== undefined) return known;
  const faults = new StoreFaults();
  installed.set(store, faults);
  const target = store as unknown as Record<string, unknown>;
  for (const op of STORE_REQUESTS) {
    const orig = target[op];
    if (typeof orig !== 'function') continue;
    const bound = (orig as (...args: unknown[]) => Promise<unknown>).bind(store);
    target[op] = (...args: unknown[]): Promise<unknown> => {
      try {
        faults.check(op, args[0]);
      } catch (err) {
        return Promise.reject(err);
      }
      return bound(...args);
    };
  }
  return faults;
}
