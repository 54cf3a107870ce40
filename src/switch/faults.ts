/**
 * Fault-injection settings the ESL sessions consult: what a misbehaving switch does.
 *
 * Contract
 * - Every setting is off by default and can be changed at any time; sessions read it on
 *   each command, reply or event, so a change applies at once to every connection.
 * - `stallReplies()` holds every command reply (sessions keep their FIFO: later commands
 *   wait behind) until the returned release function is called; `replyDelayMs` delays
 *   each reply instead.
 * - `eventDelayMs` holds each event frame that long before writing it (per session the
 *   order is kept, as FreeSWITCH's per-listener event queue keeps it).
 * - `eventsBeforeReply` writes a sendmsg's first events before its `+OK` reply, an order
 *   FreeSWITCH produces when the session thread runs before the socket thread replies.
 * - `refuse` lists command words (`api`, `sendmsg`, `bgapi`, ... or `api:<cmd>`) answered
 *   with `-ERR <refuseText>` (api: an api/response body with it) instead of running.
 * - `fragmentWrites` splits every frame written into 1..7-byte TCP writes, to exercise
 *   clients' reassembly.
 * - `swallowEvents` drops event frames whose name is in the set (events lost, as when a
 *   listener's queue overflows).
 * - `appDelayMs` maps an application name (`multiset`, `playback`, ...) to a delay: each
 *   execution of it waits that long before doing its work, as a busy switch's session
 *   thread does; uuid_break or a hangup end the wait early (the application then runs).
 * - `partitioned` (set through Switch.partition(), which also heals) holds every byte in
 *   both directions with the sockets left open, as a network partition does: nothing
 *   arrives meanwhile, and nothing is lost once it heals (TCP's guarantee).
 */

export class SwitchFaults {
  replyDelayMs = 0;
  eventDelayMs = 0;
  eventsBeforeReply = false;
  fragmentWrites = false;
  partitioned = false;
  refuseText = 'command refused';
  readonly refuse = new Set<string>();
  readonly swallowEvents = new Set<string>();
  readonly appDelayMs = new Map<string, number>();
  private gate: Promise<void> | undefined;
  private release: (() => void) | undefined;

  /** Holds all replies until the returned function is called. */
  stallReplies(): () => void {
    this.release?.();
    this.gate = new Promise<void>((resolve) => {
      this.release = () => {
        this.gate = undefined;
        this.release = undefined;
        resolve();
      };
    });
    return this.release ?? (() => undefined);
  }

  /** Resolves when replies may be written. */
  async beforeReply(): Promise<void> {
    if (this.gate !== undefined) await this.gate;
    if (this.replyDelayMs > 0) await new Promise((r) => setTimeout(r, this.replyDelayMs));
  }

  isRefused(command: string, arg: string): boolean {
    if (this.refuse.size === 0) return false;
    const sub = arg.split(/\s+/)[0] ?? '';
    return this.refuse.has(command) || this.refuse.has(`${command}:${sub}`);
  }

  /** Back to a well-behaved switch (releases a stall). */
  reset(): void {
    this.replyDelayMs = 0;
    this.eventDelayMs = 0;
    this.eventsBeforeReply = false;
    this.fragmentWrites = false;
    this.refuse.clear();
    this.swallowEvents.clear();
    this.appDelayMs.clear();
    this.release?.();
  }
}
