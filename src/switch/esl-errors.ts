/**
 * Errors and the event type of the event-socket client (EslConnection).
 *
 * Contract
 * - EslNotConnectedError: a request was made while the connection is down; nothing was
 *   sent. EslDisconnectedError: the connection went down while the request was pending;
 *   the switch may or may not have acted on it. EslCommandError: the switch answered
 *   `-ERR ...` (the text is in `reply`). EslTimeoutError: no answer in time; the request
 *   may still complete on the switch. EslChannelGoneError: an execute's channel was
 *   destroyed (CHANNEL_DESTROY seen) before its CHANNEL_EXECUTE_COMPLETE (made at many a
 *   normal hang-up, it carries no stack trace).
 * - EslEvent is a switch event as the client sees it: headers as a plain record (values
 *   decoded), body, name (Event-Name), uuid (Unique-ID) and subclass; `eventHeader(ev, h)`
 *   reads one header (without decoding the others when the event can).
 */

export class EslNotConnectedError extends Error {
  override readonly name = 'EslNotConnectedError';
  constructor(target: string, what: string) {
    super(
      `${what}: not connected to the switch at ${target}; the connection retries by itself, wait for its 'up' event and try again`,
    );
  }
}

export class EslDisconnectedError extends Error {
  override readonly name = 'EslDisconnectedError';
  constructor(target: string, what: string, reason: string) {
    super(
      `${what}: connection to the switch at ${target} was lost (${reason}) before an answer came; the switch may or may not have acted on it`,
    );
  }
}

export class EslCommandError extends Error {
  override readonly name = 'EslCommandError';
  constructor(
    what: string,
    readonly reply: string,
  ) {
    super(`${what}: the switch answered ${JSON.stringify(reply.trim())}`);
  }
}

export class EslChannelGoneError extends Error {
  override readonly name = 'EslChannelGoneError';
  constructor(what: string, uuid: string) {
    // The normal end of many a call (an application still running at hangup): no stack
    // trace, which would cost more than the rest of the error and says nothing useful.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${what}: channel ${uuid} was destroyed before the application completed`);
    Error.stackTraceLimit = limit;
  }
}

export class EslTimeoutError extends Error {
  override readonly name = 'EslTimeoutError';
  constructor(what: string, ms: number) {
    super(`${what}: no answer from the switch within ${ms} ms (it may still complete)`);
  }
}

export interface EslEvent {
  readonly name: string;
  readonly subclass: string | undefined;
  readonly uuid: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** One header, read without decoding the whole event when it can be (EslConnection's
   *  events decode their headers the first time `headers` or `body` is read). */
  header?(name: string): string | undefined;
}

/** The value of one header of `ev` (its `header` when it has one: no full decode). */
export function eventHeader(ev: EslEvent, name: string): string | undefined {
  return ev.header !== undefined ? ev.header(name) : ev.headers[name];
}
