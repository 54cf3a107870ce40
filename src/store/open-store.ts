/**
 * openStore: picks and opens the DocumentStore a node is configured with.
 *
 * Contract
 * - `url` (what the node reads from FIFE_STORE_URL):
 *   - `http://...` or `https://...`: a CouchDB server or cluster, through nano. Credentials
 *     may be in the URL (`http://admin:secret@db1:5984`); they are used, never logged.
 *   - `embedded` (or empty / undefined): the embedded store in `<dataDir>/store`.
 *   - anything else is a folder path for the embedded store (relative paths are resolved
 *     against the current directory); `file://` URLs are accepted too.
 * - Opening the embedded store needs `dataDir` when no folder is given; without it the
 *   call throws StoreError 'invalid' saying so.
 * - Opening does not contact a CouchDB server: an unreachable server shows up on the first
 *   call as 'unavailable' (use `store.dbExists(...)` or `ensureSystemDbs` at start to check).
 * - The opened store is logged once (kind and credential-free location).
 */
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../kernel/log.ts';
import { CouchStore } from './couch-store.ts';
import { EmbeddedStore } from './embedded-store.ts';
import { StoreError } from './store-error.ts';
import type { DocumentStore } from './document-store.ts';

export interface OpenStoreOptions {
  dataDir?: string;
  logger: Logger;
  /** Passed to the CouchDB adapter. */
  requestTimeoutMs?: number;
  /** Largest attachment either adapter takes (default 32 MiB). */
  maxAttachmentBytes?: number;
}

export function openStore(url: string | undefined, opts: OpenStoreOptions): DocumentStore {
  const spec = (url ?? '').trim();
  let store: DocumentStore;
  if (/^https?:\/\//i.test(spec)) {
    store = new CouchStore({
      url: spec,
      logger: opts.logger,
      requestTimeoutMs: opts.requestTimeoutMs,
      maxAttachmentBytes: opts.maxAttachmentBytes,
    });
  } else {
    store = new EmbeddedStore({
      dir: embeddedDir(spec, opts.dataDir),
      logger: opts.logger,
      maxAttachmentBytes: opts.maxAttachmentBytes,
    });
  }
  opts.logger.info({ store: store.kind, location: store.location }, 'document store opened');
  return store;
}

function embeddedDir(spec: string, dataDir: string | undefined): string {
  if (spec === '' || spec === 'embedded') {
    if (dataDir === undefined || dataDir === '') {
      throw new StoreError(
        'invalid',
        'the embedded store needs a data folder: pass dataDir, or set FIFE_STORE_URL to a folder path or an http(s):// CouchDB URL',
      );
    }
    return join(resolve(dataDir), 'store');
  }
  if (/^file:\/\//i.test(spec)) return fileURLToPath(spec);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new StoreError(
      'invalid',
      `unsupported store URL scheme in ${spec.replace(/\/\/[^/@]*@/, '//')}: use http(s)://, a folder path, or 'embedded'`,
    );
  }
  return resolve(spec);
}
