/**
 * cache_sync: keeps a StoreCache in step with document changes announced on the bus.
 *
 * A gen_listener bound to the `configuration` exchange for the watched databases (`'*'`:
 * all): `doc_created|doc_edited|doc_deleted.<db>.#`. Every valid doc change notice is
 * turned into a DocChange (src/store docChangeFromConfMessage) and handed to
 * `cache.onDocChange`, which drops the entries that came from that document (or type, or
 * database). A notice that is not a change is logged at debug and ignored; an invalid one
 * never reaches here (the catalogue refuses it at the listener).
 *
 * `publishDocChange(bus, action, {database, id, type, rev}, ctx)` is the other side: what
 * a writer announces after saving, so every node's caches drop their copy (Kazoo apps do
 * this after a write through crossbar).
 *
 * Lives in the node layer because it joins the bus and the store, which know nothing of
 * each other.
 */
import { ok, type ChildSpec } from '../kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../bus/gen-listener.ts';
import { build, destination, type BuildContext } from '../api/index.ts';
import { docChangeFromConfMessage, type StoreCache } from '../store/index.ts';
import type { BusTransport } from '../bus/index.ts';

export interface CacheSyncArgs {
  cache: StoreCache;
  /** Databases to watch, as they travel in routing keys; default all. */
  databases?: string[];
}

const ACTIONS = ['doc_created', 'doc_edited', 'doc_deleted'];

export const CacheSync: GenListenerBehaviour<CacheSyncArgs, CacheSyncArgs> = {
  name: 'cache_sync',
  init: (args) => ok(args),
  listen: (args) => ({
    bindings: (args.databases ?? ['*']).flatMap((db) =>
      ACTIONS.map((a) => ({ exchange: 'configuration', routingKey: `${a}.${db}.#` })),
    ),
    responders: [
      {
        category: 'configuration',
        name: '*',
        handler: (m, ctx) => {
          const r = docChangeFromConfMessage(m);
          if (r.kind !== 'change') {
            ctx.log.debug({ reason: r.reason }, 'cache_sync: not a document change');
            return;
          }
          const dropped = args.cache.onDocChange(r.change);
          if (dropped > 0)
            ctx.log.debug(
              { database: r.change.database, id: r.change.id, dropped },
              'cache_sync: entries dropped',
            );
        },
      },
    ],
  }),
};

export const cacheSyncChildSpec = (id: string, args: CacheSyncArgs, transport: BusTransport): ChildSpec =>
  GenListener.childSpec(id, CacheSync, args, { transport });

export async function publishDocChange(
  bus: BusTransport,
  action: 'created' | 'edited' | 'deleted',
  doc: { database: string; id: string; type: string; rev?: string },
  ctx: BuildContext,
): Promise<void> {
  const msg = build(
    `doc_${action}`,
    { ID: doc.id, Database: doc.database, Type: doc.type, Rev: doc.rev },
    ctx,
  );
  const to = destination(`doc_${action}`, msg);
  await bus.publish(to.exchange, to.routingKey, JSON.stringify(msg), { contentType: 'application/json' });
}
