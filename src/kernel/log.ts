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
 * - Process loggers are children: `logger.child({app, proc})`, made lazily
 *   (`lazyChild`): a pino child costs its bindings' serialisation (through the redaction),
 *   and most processes of a call never write a line at the configured level. A lazy child
 *   writes exactly the lines its pino child would; it becomes that child at its first line
 *   at an enabled level (or any other use but `child`, `isLevelEnabled`, `level`), and
 *   its own `child(bindings)` is lazy too.
 * - Lines are pino JSON, for machines. For people (`pretty`: by default when stdout is a
 *   terminal and no destination is given; FIFE_LOG_PRETTY=1 forces it, =0 keeps JSON)
 *   each line is one readable line, through pino-pretty: `HH:MM:ss.l LEVEL msg key=value
 *   ...`, with reasons and errors as text (`reason="Error: boom"`), never JSON blobs or
 *   stacks. The same redaction applies.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger, type DestinationStream } from 'pino';
import { prettyFactory, isColorSupported } from 'pino-pretty';

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

const LEVEL_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/** A lazy child's state: the target of its Proxy (one handler serves them all, so a lazy
 *  child costs two small objects until it logs). */
interface Lazy {
  readonly parent: Logger;
  readonly bindings: Record<string, unknown>;
  real?: Logger;
  /** Methods handed out bound to the pino child, kept while the child's own stays the same. */
  bound?: Map<PropertyKey, { own: unknown; fn: unknown }>;
}

const STATE = Symbol('fife.lazyLogger');

const stateOf = (log: Logger): Lazy | undefined =>
  (log as unknown as Record<symbol, Lazy | undefined>)[STATE];

/** The pino logger behind `log` (made now when `log` is a lazy child). */
const realOf = (log: Logger): Logger => {
  const st = stateOf(log);
  return st === undefined ? log : make(st);
};

const make = (st: Lazy): Logger => (st.real ??= realOf(st.parent).child(st.bindings));

// shared by every lazy child (`this` is the lazy child they are called on)
function isLevelEnabled(this: Logger, level: string): boolean {
  const st = stateOf(this)!;
  return (st.real ?? st.parent).isLevelEnabled(level);
}

function child(this: Logger, b: Record<string, unknown>, o?: object): Logger {
  return o === undefined ? lazyChild(this, b) : make(stateOf(this)!).child(b, o);
}

const LAZY: ProxyHandler<Lazy> = {
  get(st, prop) {
    if (prop === 'isLevelEnabled') return isLevelEnabled;
    if (prop === 'child') return child;
    if (prop === STATE) return st;
    if (st.real === undefined) {
      if (typeof prop === 'string' && LEVEL_METHODS.has(prop) && !st.parent.isLevelEnabled(prop)) return noop;
      if (prop === 'level' || prop === 'levelVal') return st.parent[prop];
    }
    const r = make(st);
    const own: unknown = Reflect.get(r, prop, r);
    if (typeof own !== 'function') return own;
    const b = (st.bound ??= new Map()).get(prop);
    if (b?.own === own) return b.fn;
    const fn = (own as (...args: unknown[]) => unknown).bind(r);
    st.bound.set(prop, { own, fn });
    return fn;
  },
  set: (st, prop, value) => Reflect.set(make(st), prop, value),
  has: (st, prop) => Reflect.has(make(st), prop),
};

/** `parent.child(bindings)`, made only when first needed (see the contract). */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new Proxy<Lazy>({ parent, bindings }, LAZY) as unknown as Logger;
}

const SECRET_KEYS = [
  'password',
  'Password',
  'a1_hash',
  'A1-Hash',
  'Auth-Password',
  'secret',
  'pass',
  'token',
  'authorization',
];
const SECRET_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));

/** True for keys whose values never go into a log line (used when reasons are stringified). */
export const isSecretKey = (k: string): boolean => SECRET_SET.has(k.toLowerCase());
const REDACT_PATHS = SECRET_KEYS.flatMap((k) =>
  [k, `*.${k}`, `*.*.${k}`].map((p) => (k.includes('-') ? p.replace(k, `["${k}"]`) : p)),
);

export interface RootLoggerOptions {
  node: string;
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
  /** Readable lines instead of JSON (default: see the contract). */
  pretty?: boolean;
  /** The destination is the process's stdout (colours for pretty lines on a terminal). */
  toStdout?: boolean;
}

/** Whether logs to stdout are for people: FIFE_LOG_PRETTY=1|0, else whether stdout is a terminal. */
export function prettyWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.FIFE_LOG_PRETTY;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return process.stdout.isTTY === true;
}

/** A reason or error as one line of text: `Error: boom`, `{"bad_arg":1}`, `killed`. */
function reasonText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') {
    const e = v as { type?: unknown; name?: unknown; message: string };
    const type = typeof e.type === 'string' ? e.type : typeof e.name === 'string' ? e.name : 'Error';
    return `${type}: ${e.message}`;
  }
  return JSON.stringify(v) ?? String(v);
}

const REASON_KEYS = new Set(['reason', 'cause', 'err', 'error']);
const SKIP_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node']);

/** ` key=value` for every field but the header's; values with spaces are quoted. */
function fieldsText(log: Record<string, unknown>): string {
  let out = '';
  for (const [k, v] of Object.entries(log)) {
    if (SKIP_KEYS.has(k) || v === undefined) continue;
    const text = REASON_KEYS.has(k)
      ? reasonText(v)
      : typeof v === 'string'
        ? v
        : (JSON.stringify(v) ?? String(v));
    out += ` ${k}=${/\s/.test(text) || text === '' ? JSON.stringify(text) : text}`;
  }
  return out;
}

/** A synchronous destination that writes each JSON line as one readable line to `out`. */
function prettyDestination(out: { write(s: string): unknown }, colorize: boolean): DestinationStream {
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    hideObject: true,
    singleLine: true,
    ignore: 'pid,hostname,node',
    messageFormat: (log, messageKey) =>
      `${String(log[messageKey] ?? '')}${fieldsText(log as Record<string, unknown>)}`,
  });
  return {
    write: (line: string) => {
      const text = pretty(line);
      out.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
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
    (opts.pretty ?? ((opts.destination === undefined || opts.toStdout === true) && prettyWanted()))
      ? prettyDestination(
          opts.destination ?? process.stdout,
          (opts.destination === undefined || opts.toStdout === true) &&
            process.stdout.isTTY === true &&
            isColorSupported,
        )
      : (opts.destination ?? pino.destination({ dest: 1, sync: false })),
  );
}

/** A logger that collects parsed lines in memory: for tests that assert on logs. */
export function memoryLogger(
  node = 'test@localhost',
  level = 'debug',
): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  return { logger: createRootLogger({ node, level, destination }), lines };
}
