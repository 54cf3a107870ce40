/**
 * The URLs of media_mgr's store proxy, for the apps that hand them to a switch (Kazoo's
 * kz_media_url:store for recordings, playback by URL).
 *
 * Contract
 * - `mediaStoreUrl(base, db, doc, attachment)` is `<base>/store/<db>/<doc>/<attachment>`,
 *   each part percent-encoded (an account database `account/ab/cd/...` becomes
 *   `account%2Fab%2Fcd%2F...`, Kazoo's encoded form). The same URL takes the PUT of the
 *   recording and serves its GET. Bad parts throw StoreError 'invalid' (the store's rules).
 * - `mediaBaseUrl(rt)` is the base URL of the media_mgr running in this node (its
 *   `url` setting, or where its server listens), or undefined when it does not run. The
 *   app's `base_url` operation answers the same to operators and other nodes' tools.
 */
import type { Runtime } from '../../src/kernel/index.ts';
import { canonicalDbName, checkAttachmentName, checkDocId } from '../../src/store/index.ts';

export const MEDIA_HTTP = 'media_mgr_http';

export function mediaStoreUrl(base: string, db: string, doc: string, attachment: string): string {
  const name = canonicalDbName(db);
  checkDocId(doc, name);
  checkAttachmentName(attachment, { database: name, id: doc });
  const parts = [name, doc, attachment].map(encodeURIComponent).join('/');
  return `${base.replace(/\/+$/, '')}/store/${parts}`;
}

export function mediaBaseUrl(rt: Runtime): string | undefined {
  const p = rt.resolve(MEDIA_HTTP);
  return (p?.meta?.describe?.() as { url?: string } | undefined)?.url;
}
