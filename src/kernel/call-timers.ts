/**
 * Call timeouts without a timer per call.
 *
 * Contract
 * - `add(c, ms)` arms a timeout of `ms` for pending call `c`; `remove(c)` disarms it (a
 *   reply came, or the call failed). Both O(1): calls with the same timeout wait in one
 *   list in deadline order, and each list has at most one Node timer, armed for its
 *   oldest call.
 * - When a call's deadline passes, `expire(c)` runs (the call fails with `timeout`),
 *   not before: a timer firing early for a later call is re-armed for the rest.
 * - `sweep()` (at each event-loop turn) drops the timer of a list that has emptied, so an
 *   idle runtime holds no timer: a pending call keeps the process alive, an answered one
 *   does not.
 * - Deadlines are read on `Date.now()`; the deadline a timer was armed for counts as
 *   reached when it fires (so fake timers in tests drive it), and a clock stepped back
 *   cannot push a deadline further than its timeout.
 */
export interface Deadline {
  /** @internal */ deadline: number;
  /** @internal */ prev: Deadline | null;
  /** @internal */ next: Deadline | null;
  /** @internal */ list: DeadlineList | null;
}

interface DeadlineList {
  readonly ms: number;
  head: Deadline | null;
  tail: Deadline | null;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the timer was armed for: reached when it fires, whatever Date.now says. */
  armedFor: number;
}

export class CallTimers<C extends Deadline> {
  private readonly lists = new Map<number, DeadlineList>();

  constructor(private readonly expire: (c: C) => void) {}

  add(c: C, ms: number): void {
    let l = this.lists.get(ms);
    if (l === undefined)
      this.lists.set(ms, (l = { ms, head: null, tail: null, timer: undefined, armedFor: 0 }));
    c.deadline = Date.now() + ms;
    c.list = l;
    c.prev = l.tail;
    c.next = null;
    if (l.tail !== null) l.tail.next = c;
    else l.head = c;
    l.tail = c;
    if (l.timer === undefined) this.arm(l, ms, c.deadline);
  }

  remove(c: C): void {
    removeDeadline(c);
  }

  sweep(): void {
    for (const l of this.lists.values()) {
      if (l.head === null && l.timer !== undefined) {
        clearTimeout(l.timer);
        l.timer = undefined;
      }
    }
  }

  stop(): void {
    for (const l of this.lists.values()) if (l.timer !== undefined) clearTimeout(l.timer);
    this.lists.clear();
  }

  private arm(l: DeadlineList, ms: number, deadline: number): void {
    l.armedFor = deadline;
    l.timer = setTimeout(() => this.fire(l), ms);
  }

  private fire(l: DeadlineList): void {
    l.timer = undefined;
    const now = Math.max(Date.now(), l.armedFor);
    while (l.head !== null && (l.head.deadline <= now || l.head.deadline - now > l.ms)) {
      const c = l.head as C;
      removeDeadline(c);
      this.expire(c);
    }
    if (l.head !== null) this.arm(l, l.head.deadline - now, l.head.deadline);
  }
}

/** Disarms `c`'s timeout, if armed (usable without the CallTimers at hand). */
export function removeDeadline(c: Deadline): void {
  const l = c.list;
  if (l === null) return;
  c.list = null;
  if (c.prev !== null) c.prev.next = c.next;
  else l.head = c.next;
  if (c.next !== null) c.next.prev = c.prev;
  else l.tail = c.prev;
  c.prev = c.next = null;
}
