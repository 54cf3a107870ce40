/**
 * Counters of one listener (or requester), read by metrics, health and tests.
 * received: deliveries seen; handled: messages given to at least one responder;
 * unhandled: valid but no responder matched; invalid: by reason (too_big, not_json,
 * not_object, missing_headers, or the validator's own reasons); handlerErrors: responders
 * that threw or rejected; backlogDropped: dropped because the handler backlog was full;
 * errorReplies: error messages sent back to a Server-ID; lateReplies: replies that
 * arrived after their request finished.
 */

export interface CountersSnapshot {
  readonly received: number;
  readonly handled: number;
  readonly unhandled: number;
  readonly invalidTotal: number;
  readonly invalid: Readonly<Record<string, number>>;
  readonly handlerErrors: number;
  readonly backlogDropped: number;
  readonly errorReplies: number;
  readonly lateReplies: number;
}

export class BusCounters {
  received = 0;
  handled = 0;
  unhandled = 0;
  handlerErrors = 0;
  backlogDropped = 0;
  errorReplies = 0;
  lateReplies = 0;
  private readonly invalid = new Map<string, number>();
  private invalidTotal = 0;

  countInvalid(reason: string): void {
    this.invalidTotal++;
    this.invalid.set(reason, (this.invalid.get(reason) ?? 0) + 1);
  }

  snapshot(): CountersSnapshot {
    return {
      received: this.received,
      handled: this.handled,
      unhandled: this.unhandled,
      invalidTotal: this.invalidTotal,
      invalid: Object.fromEntries(this.invalid),
      handlerErrors: this.handlerErrors,
      backlogDropped: this.backlogDropped,
      errorReplies: this.errorReplies,
      lateReplies: this.lateReplies,
    };
  }
}
