/**
 * CbError: a request refused the way Kazoo's crossbar refuses it. `status` is the HTTP
 * code (sent as a string in the envelope's `error`), `message` Kazoo's error name
 * (bad_identifier, invalid_credentials, "validation error", forbidden, ...), `data` the
 * envelope's data (for validation errors `{field: {code: {message, ...}}}`).
 */
export class CbError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CbError';
  }
}

export const badIdentifier = (id: string): CbError =>
  new CbError(404, 'bad_identifier', { message: 'bad identifier', cause: id });

export const invalidCredentials = (): CbError =>
  new CbError(401, 'invalid_credentials', { message: 'invalid credentials' });

/** Kazoo answers `{message: "forbidden"}`; `cause` names the account out of reach. */
export const forbidden = (cause: string): CbError =>
  new CbError(403, 'forbidden', { message: 'forbidden', cause });

/** One field's problem as Kazoo reports it: `{field: {code: {message, ...}}}`. */
export type FieldErrors = Record<string, Record<string, Record<string, unknown>>>;

export function validationError(errors: FieldErrors): CbError {
  return new CbError(400, 'validation error', errors);
}

export function fieldError(
  field: string,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
) {
  return validationError({ [field]: { [code]: { message, ...extra } } });
}
