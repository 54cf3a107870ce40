/**
 * Per-process counters the tree view shows: unexpected messages (every behaviour), and
 * counters a behaviour adds for its process (gen_listener: responder failures).
 *
 * Contract
 * - `noteUnexpected(ctx, server, msg)`: the kernel's rule for a message no callback
 *   expects, as OTP's gen_server logs it: one warn line with the message's type (never
 *   its content) and the server's name, and the process's `unexpected` count goes up.
 * - `messageType(msg)`: an object's string `type` field, an atom-like short string
 *   itself, otherwise the JavaScript type (`object`, `array`, `number`, a class name).
 * - Counters are kept per process object and go with it: a dead process leaves nothing.
 */
import type { ProcessContext } from './process.ts';

export interface ProcStats {
  unexpected: number;
  /** Extra counters a behaviour exposes for its process (read when the tree is taken). */
  counters?: () => Record<string, number>;
}

const stats = new WeakMap<object, ProcStats>();

const statsOf = (ctx: ProcessContext): ProcStats => {
  let s = stats.get(ctx);
  if (s === undefined) stats.set(ctx, (s = { unexpected: 0 }));
  return s;
};

const ATOM_LIKE = /^[A-Za-z_][\w.:-]{0,39}$/;

export function messageType(m: unknown): string {
  if (typeof m === 'string') return ATOM_LIKE.test(m) ? m : 'string';
  if (typeof m !== 'object' || m === null) return m === null ? 'null' : typeof m;
  if (Array.isArray(m)) return 'array';
  const t = (m as { type?: unknown }).type;
  if (typeof t === 'string') return t.length > 64 ? `${t.slice(0, 64)}...` : t;
  const proto = Object.getPrototypeOf(m);
  return proto === Object.prototype || proto === null
    ? 'object'
    : ((proto as { constructor?: { name?: string } }).constructor?.name ?? 'object');
}

export function noteUnexpected(ctx: ProcessContext, server: string, msg: unknown): void {
  const s = statsOf(ctx);
  s.unexpected++;
  ctx.log.warn(
    { server, msg_type: messageType(msg), unexpected: s.unexpected },
    'unexpected message dropped',
  );
}

/** A behaviour exposes extra counters for its process in the tree view. */
export function exposeCounters(ctx: ProcessContext, counters: () => Record<string, number>): void {
  statsOf(ctx).counters = counters;
}

export function procStats(ctx: ProcessContext): ProcStats | undefined {
  return stats.get(ctx);
}
