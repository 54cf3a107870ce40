/**
 * Typed errors of the bus. Every error a caller of src/bus can see is one of these, so a
 * caller switches on the class (or `code`) instead of parsing messages.
 *
 * - BusNotConnectedError: no connection within the bounded wait (publish, declare, start).
 * - BusClosedError: the transport was closed while the operation waited.
 * - BusRefusedError: every broker refused the login or the vhost (a permanent failure: a
 *   wrong user or password, an unknown vhost, no permission on it). Names the user and
 *   vhost, never the password.
 * - BusChannelError: the broker refused an operation; `reason` is the AMQP reply name
 *   (NOT_FOUND, RESOURCE_LOCKED, PRECONDITION_FAILED, ACCESS_REFUSED, ...).
 * - BusInvalidArgumentError: the operation cannot be put on the wire (a name, routing key or
 *   consumer tag over AMQP's 255 bytes, a property that does not fit); nothing was sent and
 *   the connection is untouched. Never retried.
 * - PublishNackedError / PublishUnconfirmedError: a confirmed publish was refused, or
 *   could not be confirmed before its deadline (it may or may not have been delivered).
 * - PublishUnroutableError: a confirmed publish with `mandatory` came back (basic.return):
 *   no queue took it (e.g. the reply queue of a process that is gone). Never retried.
 * - RequestTimeoutError / CollectTimeoutError / RequestRejectedError: request/reply outcomes.
 * - LinkLostError is internal: a link operation failed because the connection went away;
 *   RecoveringTransport retries these and never lets them out.
 */

export abstract class BusError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BusNotConnectedError extends BusError {
  readonly code = 'BUS_NOT_CONNECTED';
  constructor(
    readonly operation: string,
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(
      `bus not connected: ${operation} gave up after waiting ${waitedMs} ms for the broker (check FIFE_BUS_URL and that the broker is up)`,
      { cause },
    );
  }
}

export class BusClosedError extends BusError {
  readonly code = 'BUS_CLOSED';
  constructor(readonly operation: string) {
    super(`bus transport closed: ${operation} cannot run`);
  }
}

export class BusRefusedError extends BusError {
  readonly code = 'BUS_REFUSED';
  constructor(
    readonly user: string,
    readonly vhost: string,
    readonly broker: string,
    readonly why: string,
  ) {
    super(`the broker refused user ${user} on vhost ${vhost} — check FIFE_BUS_URL (${broker}: ${why})`);
  }
}

export class BusInvalidArgumentError extends BusError {
  readonly code = 'BUS_INVALID_ARGUMENT';
  constructor(
    readonly operation: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`bus refused ${operation}: ${field} ${problem} (nothing was sent)`);
  }
}

export type ChannelErrorReason =
  | 'NOT_FOUND'
  | 'RESOURCE_LOCKED'
  | 'PRECONDITION_FAILED'
  | 'ACCESS_REFUSED'
  | 'NOT_ALLOWED'
  | 'CHANNEL_ERROR';

const REPLY_CODES: Record<number, ChannelErrorReason> = {
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  530: 'NOT_ALLOWED',
};

export class BusChannelError extends BusError {
  readonly code = 'BUS_CHANNEL_ERROR';
  constructor(
    readonly reason: ChannelErrorReason,
    readonly operation: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`broker refused ${operation}: ${reason} (${detail})`, { cause });
  }

  static fromReplyCode(
    replyCode: number | undefined,
    operation: string,
    detail: string,
    cause?: unknown,
  ): BusChannelError {
    return new BusChannelError(
      (replyCode !== undefined && REPLY_CODES[replyCode]) || 'CHANNEL_ERROR',
      operation,
      detail,
      cause,
    );
  }
}

export class PublishNackedError extends BusError {
  readonly code = 'PUBLISH_NACKED';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
  ) {
    super(`broker nacked the publish to ${exchange || '(default)'}/${routingKey}: it was not stored`);
  }
}

export class PublishUnroutableError extends BusError {
  readonly code = 'PUBLISH_UNROUTABLE';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly replyText: string,
  ) {
    super(
      `publish to ${exchange || '(default)'}/${routingKey} came back unroutable (${replyText}): no queue took it`,
    );
  }
}

export class PublishUnconfirmedError extends BusError {
  readonly code = 'PUBLISH_UNCONFIRMED';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(
      `publish to ${exchange || '(default)'}/${routingKey} not confirmed within ${waitedMs} ms (connection lost; it may or may not have been delivered)`,
      { cause },
    );
  }
}

export class RequestTimeoutError extends BusError {
  readonly code = 'REQUEST_TIMEOUT';
  constructor(
    readonly msgId: string,
    readonly timeoutMs: number,
    readonly what: string,
    readonly repliesSeen: number,
  ) {
    super(
      `no valid reply to ${what} (Msg-ID ${msgId}) within ${timeoutMs} ms; ${repliesSeen} reply(ies) seen`,
    );
  }
}

export class CollectTimeoutError extends BusError {
  readonly code = 'COLLECT_TIMEOUT';
  constructor(
    readonly msgId: string,
    readonly timeoutMs: number,
    readonly what: string,
    readonly replies: ReadonlyArray<Record<string, unknown>>,
  ) {
    super(
      `collecting replies to ${what} (Msg-ID ${msgId}): not done within ${timeoutMs} ms; ${replies.length} reply(ies) collected`,
    );
  }
}

export class RequestRejectedError extends BusError {
  readonly code = 'REQUEST_REJECTED';
  constructor(
    readonly msgId: string,
    readonly what: string,
    readonly reply: Record<string, unknown>,
  ) {
    super(
      `${what} (Msg-ID ${msgId}) got only an invalid or error reply: ${typeof reply['Error-Message'] === 'string' ? reply['Error-Message'] : 'reply failed validation'}`,
    );
  }
}

export class LinkLostError extends BusError {
  readonly code = 'LINK_LOST';
  constructor(operation: string, cause?: unknown) {
    super(`connection lost during ${operation}`, { cause });
  }
}
