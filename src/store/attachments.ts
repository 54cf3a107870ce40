/**
 * Input checks for attachments, shared by both adapters so that they refuse the same things
 * before any I/O (as doc-json.ts does for documents).
 *
 * Contract
 * - An attachment name is a non-empty string of at most 255 characters, not starting with
 *   `_` (CouchDB refuses those), without control characters.
 * - Data is binary: a Buffer or another Uint8Array (turned into a Buffer without a copy).
 *   Strings and anything else are refused; so is data over the adapter's limit
 *   (`maxAttachmentBytes`, default DEFAULT_MAX_ATTACHMENT_BYTES).
 * - A content type is `type/subtype` with optional parameters (`audio/x-wav`,
 *   `text/plain; charset=utf-8`).
 * - `rev`, when given, is a non-empty string.
 * - Every refusal is StoreError 'invalid' naming what was wrong.
 */
import { checkDocId } from './db-names.ts';
import { StoreError } from './store-error.ts';

/** 32 MiB: a voicemail message of an hour in 8 kHz 16-bit WAV is about 55 MiB, of ten minutes 9 MiB. */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024;

const CONTENT_TYPE = /^[A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface AttachmentInput {
  readonly name: string;
  readonly data: Buffer;
  readonly contentType: string;
}

export function checkAttachmentName(name: unknown, ctx: { database: string; id: string }): string {
  const bad = (why: string): never => {
    throw new StoreError('invalid', `attachment name ${JSON.stringify(name)} ${why}`, ctx);
  };
  if (typeof name !== 'string' || name.length === 0) return bad('must be a non-empty string');
  if (name.length > 255) return bad('is longer than 255 characters');
  if (name.startsWith('_')) return bad("starts with '_'");
  if (CONTROL.test(name)) return bad('has control characters');
  return name;
}

/** Checks a whole put: doc id, name, data, content type, rev. Returns the data as a Buffer. */
export function checkAttachmentPut(
  args: { database: string; id: string; name: unknown; data: unknown; contentType: unknown; rev?: unknown },
  maxBytes: number,
): AttachmentInput {
  const ctx = { database: args.database, id: args.id };
  checkDocId(args.id, args.database);
  const name = checkAttachmentName(args.name, ctx);
  if (!(args.data instanceof Uint8Array))
    throw new StoreError(
      'invalid',
      `attachment data must be binary (a Buffer or Uint8Array), got ${typeof args.data === 'string' ? 'a string' : typeof args.data}`,
      ctx,
    );
  const data = Buffer.isBuffer(args.data)
    ? args.data
    : Buffer.from(args.data.buffer, args.data.byteOffset, args.data.byteLength);
  if (data.length > maxBytes)
    throw new StoreError(
      'invalid',
      `attachment of ${data.length} bytes is over the limit of ${maxBytes}`,
      ctx,
    );
  if (typeof args.contentType !== 'string' || !CONTENT_TYPE.test(args.contentType))
    throw new StoreError(
      'invalid',
      `content type must be 'type/subtype', got ${JSON.stringify(args.contentType)}`,
      ctx,
    );
  if (args.rev !== undefined && (typeof args.rev !== 'string' || args.rev === ''))
    throw new StoreError('invalid', `rev must be a non-empty string, got ${JSON.stringify(args.rev)}`, ctx);
  return { name, data, contentType: args.contentType };
}

export function checkMaxBytes(max: number | undefined): number {
  if (max === undefined) return DEFAULT_MAX_ATTACHMENT_BYTES;
  if (!Number.isInteger(max) || max < 1)
    throw new StoreError('invalid', `maxAttachmentBytes must be a positive integer, got ${String(max)}`);
  return max;
}

/**
 * `_attachments` in a document given to save/bulkSave may only hold stubs (`stub: true`)
 * of attachments the document already has; data goes through putAttachment.
 */
export function checkAttachmentStubs(doc: Record<string, unknown>, database: string): void {
  const atts = doc._attachments;
  if (atts === undefined) return;
  const id = typeof doc._id === 'string' ? doc._id : undefined;
  if (typeof atts !== 'object' || atts === null || Array.isArray(atts))
    throw new StoreError('invalid', '_attachments must be an object of attachment stubs', { database, id });
  for (const [name, stub] of Object.entries(atts as Record<string, unknown>)) {
    if (typeof stub !== 'object' || stub === null || (stub as { stub?: unknown }).stub !== true)
      throw new StoreError(
        'invalid',
        `_attachments.${name} must be a stub ({stub: true}) read from the store; put data with putAttachment`,
        { database, id },
      );
  }
}
