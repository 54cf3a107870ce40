/**
 * A store wrapper for tests that check a process leaves no change feed behind: the
 * subscriptions `follow` made and not yet stopped are counted (`open()`); everything else
 * passes through to the real store.
 */
import type { ChangeSubscription, DocumentStore } from '../../src/store/index.ts';

/** The store, with the subscriptions `follow` made and not yet stopped counted. */
export function countingFeeds(store: DocumentStore): { store: DocumentStore; open: () => number } {
  const open = new Set<ChangeSubscription>();
  const counted = new Proxy(store, {
    get(target, key) {
      if (key === 'follow')
        return (...args: Parameters<DocumentStore['follow']>) => {
          const sub = target.follow(...args);
          open.add(sub);
          return {
            get lastSeq() {
              return sub.lastSeq;
            },
            ready: sub.ready,
            stop: async () => {
              await sub.stop();
              open.delete(sub);
            },
          } satisfies ChangeSubscription;
        };
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: counted, open: () => open.size };
}
