/**
 * Exit reasons, as OTP has them.
 *
 * - `'normal'`: the process finished its work. Not a crash: links ignore it (unless they
 *   trap exits), transient children are not restarted, nothing is logged as an error.
 * - `'shutdown'` and `{ shutdown: detail }`: the process was told to stop. Not a crash.
 * - `'kill'`: sent with `exit(pid, 'kill')`, it cannot be trapped; the process dies
 *   with reason `'killed'`, which links see (and may trap) like any crash.
 * - anything else, usually the Error a callback threw: a crash. Logged, propagated
 *   through links, restarted by supervisors.
 *
 * To end a process with a chosen reason from inside a callback, throw `new Exit(reason)`
 * (OTP's `exit(Reason)`); a thrown Error ends it with that Error as reason.
 */
import { isSecretKey } from './log.ts';

export type ExitReason = unknown;

export const NORMAL = 'normal';
export const SHUTDOWN = 'shutdown';
export const KILL = 'kill';
export const KILLED = 'killed';

export class Exit extends Error {
  constructor(readonly reason: ExitReason) {
    super(`exit: ${formatReason(reason)}`);
    this.name = 'Exit';
  }
}

export const isShutdown = (r: ExitReason): boolean =>
  r === SHUTDOWN ||
  (typeof r === 'object' &&
    r !== null &&
    !(r instanceof Error) &&
    Object.keys(r).length === 1 &&
    'shutdown' in r);

/** True for the reasons that are not crashes: normal, shutdown, {shutdown: _}. */
export const isNormalExit = (r: ExitReason): boolean => r === NORMAL || isShutdown(r);

/** A short human-readable form of any reason, for logs and errors. */
export function formatReason(r: ExitReason): string {
  if (typeof r === 'string') return r;
  if (r instanceof Error) return `${r.name}: ${r.message}`;
  try {
    return (
      JSON.stringify(r, (k, v: unknown) =>
        isSecretKey(k)
          ? '[redacted]'
          : v instanceof Error
            ? `${v.name}: ${v.message}`
            : typeof v === 'bigint'
              ? String(v)
              : v,
      ) ?? String(r)
    );
  } catch {
    return String(r);
  }
}

/** The reason as a log-friendly value: Errors become {type, message, stack}. */
export function reasonForLog(r: ExitReason): unknown {
  if (r instanceof Error) return { type: r.name, message: r.message, stack: r.stack };
  return typeof r === 'object' && r !== null ? formatReason(r) : r;
}
