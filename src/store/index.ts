/**
 * The store layer's public surface: import from here, not from the files behind it.
 * See README.md beside this file for what each part does and how it is configured.
 */
export type {
  AllDocsQuery,
  Attachment,
  AttachmentStub,
  BulkResult,
  Change,
  ChangeSubscription,
  ChangesPage,
  ChangesQuery,
  DesignDoc,
  Doc,
  DocInput,
  DocumentStore,
  FollowOptions,
  SaveResult,
  SavedDoc,
  Seq,
  ViewQuery,
  ViewResult,
  ViewRow,
} from './document-store.ts';
export { FEED_BACKOFF } from './document-store.ts';
export {
  StoreError,
  isStoreError,
  stripCredentials,
  toStoreError,
  type StoreErrorCode,
} from './store-error.ts';
export {
  ACCOUNTS_DB,
  ALERTS_DB,
  OFFNET_DB,
  SIP_AUTH_DB,
  SYSTEM_CONFIG_DB,
  SYSTEM_DATA_DB,
  SYSTEM_DBS,
  SYSTEM_SCHEMAS_DB,
  TOKEN_AUTH_DB,
  accountDbName,
  accountIdFromDb,
  accountModbName,
  canonicalDbName,
  checkDocId,
  encodedDbName,
  isAccountId,
  plainDbName,
  type AccountDbFormat,
} from './db-names.ts';
export { createdSeconds, modifiedSeconds, withPvtTimes } from './pvt-times.ts';
export { CouchStore, type CouchStoreOptions } from './couch-store.ts';
export { EmbeddedStore, type EmbeddedStoreOptions } from './embedded-store.ts';
export { openStore, type OpenStoreOptions } from './open-store.ts';
export {
  StoreCache,
  storeCacheTotals,
  type CacheKey,
  type CacheOrigin,
  type CacheStats,
  type CacheStoreOptions,
  type InvalidationEvent,
  type StoreCacheOptions,
} from './store-cache.ts';
export {
  docChangeFromConfMessage,
  docChangeFromFeed,
  type ConfMessageResult,
  type DocAction,
  type DocChange,
} from './doc-change.ts';
export { ChangeFollower, type ChangeFollowerOptions } from './change-follower.ts';
export {
  checkDesignDoc,
  ensureDesignDocs,
  ensureSystemDbs,
  readDesignDocs,
  type DesignDocReport,
} from './design-docs.ts';
export {
  RetryingWriter,
  WRITE_BACKOFF,
  type ConflictResolver,
  type RetryingWriterOptions,
} from './retrying-writer.ts';
export { newDocId } from './doc-json.ts';
export { StoreFaults, installStoreFaults, STORE_REQUESTS } from './store-faults.ts';
export { DEFAULT_MAX_ATTACHMENT_BYTES, checkAttachmentName } from './attachments.ts';
