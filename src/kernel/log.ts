/**
 * Logging: pino JSON lines carrying `node`, `app`, `proc` (process name or pid) and
 * `call_id`.
 *
 * Contract
 * - `createRootLogger({node, level, destination})` makes the node's root logger. Every
 *   line carries `node`. Secrets are redacted by key (password, a1_hash, ...): any
 *   object logged under those keys, at any depth up to three, prints `[redacted]`.
 * - The call-id of the unit of work in progress is kept in an AsyncLocalStorage
 *   (`withCallId(id, fn)`); the root logger's mixin adds it to every line written inside
 *   `fn`, including its async continuations. The kernel re-enters the call-id a message
 *   was sent with before it runs the receiver's handler, so a call-id follows a message
 *   from process to process (one scheduler drain runs many senders' messages).
 * - Process loggers are children: `logger.child({app, proc})`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export interface LogContext {
  readonly callId?: string;
}

const context = new AsyncLocalStorage<LogContext>();
const EMPTY: LogContext = Object.freeze({});

/** Runs fn with `callId` as the current call-id (for logs and for messages sent from it). */
export function withCallId<T>(callId: string | undefined, fn: () => T): T {
  return context.run(callId === undefined ? EMPTY : { callId }, fn);
}

/** Runs fn inside a given log context (as captured by `currentLogContext`). */
export function withLogContext<T>(ctx: LogContext | undefined, fn: () => T): T {
  return context.run(ctx ?? EMPTY, fn);
}

export function currentLogContext(): LogContext | undefined {
  const c = context.getStore();
  return c === EMPTY ? undefined : c;
}

export function currentCallId(): string | undefined {
  return context.getStore()?.callId;
}

const SECRET_KEYS = ['password', 'Password', 'a1_hash', 'A1-Hash', 'Auth-Password', 'secret', 'pass'];
const SECRET_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));

/** True for keys whose values never go into a log line (used when reasons are stringified). */
export const isSecretKey = (k: string): boolean => SECRET_SET.has(k.toLowerCase());
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`].map((p) => (k.includes('-') ? p.replace(k, `["${k}"]`) : p)));

export interface RootLoggerOptions {
  node: string;
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

export function createRootLogger(opts: RootLoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? process.env.FIFE_LOG_LEVEL ?? 'info',
      base: { node: opts.node },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      mixin() {
        const c = context.getStore();
        return c?.callId === undefined ? {} : { call_id: c.callId };
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that collects parsed lines in memory: for tests that assert on logs. */
export function memoryLogger(node = 'test@localhost', level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  return { logger: createRootLogger({ node, level, destination }), lines };
}
