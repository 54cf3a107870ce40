/**
 * Insert-At: where a dialplan command goes in a call's command queue (Kazoo's
 * `ecallmgr_call_control` semantics). Pure functions over arrays.
 *
 * Contract — `insertCommand(queue, command)` returns `{queue, now, flush, dropped}`:
 * - `tail` (also when Insert-At is absent): appended; it runs when everything before it
 *   has finished.
 * - `head`: put in front; it runs next, after the command executing now completes (it
 *   does not interrupt it).
 * - `now`: not queued: returned in `now` to execute at once, beside whatever is running;
 *   the queue is unchanged. A `noop` with `now` and `Filter-Applications` also removes the
 *   commands at the head of the queue whose Application-Name (or `{Application-Name}`
 *   object) is in that list, up to the first one that is not (they are in `dropped`).
 * - `flush`: the queue is emptied (the old commands are in `dropped`), `flush` is true
 *   (the caller stops the current application and treats it as finished), and the queue
 *   holds this command alone.
 * - A `queue` command is expanded into its `Commands`, each merged over the envelope of
 *   the `queue` message (Call-ID, Server-ID, Msg-ID, App-Name...), and those are inserted
 *   as Kazoo's ecallmgr_call_control inserts them (insert_queue_command_into_queue/3 folds
 *   the list from its end, one insertion per command): `tail` and `flush` queue them in
 *   reverse list order, `head` in list order; `now` runs them at once in list order
 *   (execute_queue_commands/3).
 * The input queue is never mutated.
 */
import type { Envelope } from '../../src/bus/index.ts';

export type InsertAt = 'head' | 'tail' | 'flush' | 'now';

export interface Inserted {
  readonly queue: Envelope[];
  readonly now: Envelope[];
  readonly flush: boolean;
  readonly dropped: Envelope[];
}

const ENVELOPE_KEYS = [
  'Call-ID',
  'Server-ID',
  'Msg-ID',
  'App-Name',
  'App-Version',
  'Node',
  'Event-Category',
  'Event-Name',
  'Account-ID',
];

export function insertAtOf(cmd: Envelope): InsertAt {
  const v = cmd['Insert-At'];
  return v === 'head' || v === 'flush' || v === 'now' ? v : 'tail';
}

export const appOf = (cmd: Envelope): string =>
  typeof cmd['Application-Name'] === 'string' ? cmd['Application-Name'] : '';

/** A `queue` command's sub-commands, each with the queue message's envelope; others as is. */
export function expandCommand(cmd: Envelope): Envelope[] {
  if (appOf(cmd) !== 'queue' || !Array.isArray(cmd.Commands)) return [cmd];
  const base: Record<string, unknown> = {};
  for (const k of ENVELOPE_KEYS) if (cmd[k] !== undefined) base[k] = cmd[k];
  return (cmd.Commands as unknown[])
    .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null && !Array.isArray(c))
    .map((c) => {
      const { 'Insert-At': _ignored, ...rest } = c;
      return { ...base, ...rest } as Envelope;
    });
}

/** The application names a noop's Filter-Applications lists (strings or {Application-Name}). */
export function filterApplications(cmd: Envelope): Set<string> {
  const list = cmd['Filter-Applications'];
  const out = new Set<string>();
  if (!Array.isArray(list)) return out;
  for (const f of list) {
    if (typeof f === 'string') out.add(f);
    else if (
      typeof f === 'object' &&
      f !== null &&
      typeof (f as Record<string, unknown>)['Application-Name'] === 'string'
    )
      out.add((f as Record<string, string>)['Application-Name']!);
  }
  return out;
}

export function insertCommand(queue: readonly Envelope[], cmd: Envelope): Inserted {
  const cmds = expandCommand(cmd);
  // Kazoo folds a queue's list from its end, each command appended (tail) or pushed in
  // front (head): appended, the last runs first.
  const appended = appOf(cmd) === 'queue' ? [...cmds].reverse() : cmds;
  switch (insertAtOf(cmd)) {
    case 'tail':
      return { queue: [...queue, ...appended], now: [], flush: false, dropped: [] };
    case 'head':
      return { queue: [...cmds, ...queue], now: [], flush: false, dropped: [] };
    case 'flush':
      return { queue: appended, now: [], flush: true, dropped: [...queue] };
    case 'now': {
      if (appOf(cmd) !== 'noop') return { queue: [...queue], now: cmds, flush: false, dropped: [] };
      const filter = filterApplications(cmd);
      let i = 0;
      while (i < queue.length && filter.has(appOf(queue[i]!))) i++;
      return { queue: queue.slice(i), now: cmds, flush: false, dropped: queue.slice(0, i) };
    }
  }
}
