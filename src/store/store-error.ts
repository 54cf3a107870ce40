/**
 * StoreError: the one error type every store call rejects with.
 *
 * Contract
 * - `code` says what the caller can do about it:
 *   - 'conflict'    a write carried a stale or missing revision (HTTP 409; also 412, a
 *                   precondition such as "database exists" failed). Nothing was
 *                   written; re-read, merge and save again (or use a RetryingWriter with a
 *                   conflict resolver).
 *   - 'not_found'   the database or document does not exist (or the document is deleted).
 *                   `reason` is 'missing', 'deleted' or 'no_db_file'.
 *   - 'invalid'     the request was refused before or by the server: bad database name,
 *                   bad document id, non-JSON body, bad view options. Retrying will not help.
 *   - 'unauthorized' the server refused the credentials or the permission (HTTP 401/403):
 *                   fix FIFE_STORE_URL's user/password or the database's security.
 *   - 'unavailable' the store could not be reached (refused, reset, timed out). The write
 *                   may retry later; reads may be served from the cache.
 *   - 'closed'      the store or helper was closed before the call could finish.
 *   - 'failed'      anything else the server reported (5xx, unexpected answers).
 * - `toStoreError(err, ctx)` turns whatever nano or PouchDB threw into a StoreError;
 *   an existing StoreError passes through unchanged. Messages never contain credentials:
 *   any URL userinfo is stripped (see `stripCredentials`).
 */

export type StoreErrorCode =
  'conflict' | 'not_found' | 'invalid' | 'unauthorized' | 'unavailable' | 'closed' | 'failed';

export interface StoreErrorContext {
  readonly op?: string;
  readonly database?: string;
  readonly id?: string;
}

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly reason: string;
  readonly status: number | undefined;
  readonly database: string | undefined;
  readonly id: string | undefined;
  readonly op: string | undefined;

  constructor(
    code: StoreErrorCode,
    reason: string,
    ctx: StoreErrorContext & { status?: number; cause?: unknown } = {},
  ) {
    const where = [ctx.op, ctx.database, ctx.id].filter((x) => x !== undefined).join(' ');
    super(
      stripCredentials(`store ${code}${where ? ` (${where})` : ''}: ${reason}`),
      ctx.cause === undefined ? undefined : { cause: ctx.cause },
    );
    this.code = code;
    this.reason = stripCredentials(reason);
    this.status = ctx.status;
    this.database = ctx.database;
    this.id = ctx.id;
    this.op = ctx.op;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** Removes `user:password@` from every URL in a string. */
export function stripCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

interface RawError {
  statusCode?: unknown;
  status?: unknown;
  error?: unknown;
  reason?: unknown;
  message?: unknown;
  name?: unknown;
  code?: unknown;
}

function codeForStatus(status: number, error: string): StoreErrorCode {
  if (status === 409 || error === 'conflict' || status === 412) return 'conflict';
  if (status === 404 || error === 'not_found') return 'not_found';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status >= 400 && status < 500) return 'invalid';
  if (status === 503 || status === 502 || status === 504) return 'unavailable';
  return 'failed';
}

/** Maps a nano / PouchDB / network error to a StoreError. */
export function toStoreError(err: unknown, ctx: StoreErrorContext = {}): StoreError {
  if (err instanceof StoreError) return err;
  const raw: RawError =
    typeof err === 'object' && err !== null ? (err as RawError) : { message: String(err) };
  const statusRaw = raw.statusCode ?? raw.status;
  const status = typeof statusRaw === 'number' ? statusRaw : undefined;
  const error = typeof raw.error === 'string' ? raw.error : typeof raw.name === 'string' ? raw.name : '';
  const reasonText =
    typeof raw.reason === 'string' ? raw.reason : typeof raw.message === 'string' ? raw.message : String(err);
  if (status !== undefined && status > 0) {
    const code = codeForStatus(status, error);
    const reason = code === 'not_found' ? notFoundReason(reasonText) : reasonText;
    return new StoreError(code, reason, { ...ctx, status, cause: err });
  }
  // No HTTP status: the request never got an answer (refused, reset, aborted, timed out).
  const timedOut =
    raw.name === 'TimeoutError' || raw.name === 'AbortError' || /aborted|timeout/i.test(reasonText);
  return new StoreError('unavailable', timedOut ? `no answer in time (${reasonText})` : reasonText, {
    ...ctx,
    cause: err,
  });
}

function notFoundReason(text: string): string {
  if (/deleted/i.test(text)) return 'deleted';
  if (/database/i.test(text) || /no_db_file/.test(text)) return 'no_db_file';
  return 'missing';
}
