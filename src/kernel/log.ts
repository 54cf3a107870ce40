/**
 * Logging: pino JSON lines carrying `node`, `app`, `proc` (process name or pid) and
 * `call_id`.
 *
 * Contract
 * - `createRootLogger({node, level, destination})` makes the node's root logger. Every
 *   line carries `node`. Secrets are redacted by key (password, a1_hash, ...): any
 *   object logged under those keys, at any depth up to three, prints `[redacted]`.
 * - The call-id is kept per process, as Kazoo keeps it in each Erlang process's
 *   dictionary (`kz_util:put_callid`), not in an AsyncLocalStorage: Node 20's
 *   AsyncLocalStorage runs promise hooks on every promise of the node (about a tenth of
 *   the CPU of a complete call in bench/callflow). Two sources, the first that is set:
 *   1. the current context: `withCallId(id, fn)` / `withLogContext(ctx, fn)` set it for
 *      the synchronous run of `fn` (not for its async continuations), and restore it;
 *   2. the logger's own source (`lazyChild(parent, bindings, source)`, inherited by its
 *      children): a process's logger reads the context of the message the process is
 *      handling, its sync part and its async continuations alike (the mailbox is held
 *      until an async handler settles), and keeps it until the next message.
 *   The root logger's mixin adds it as `call_id`, except on a (lazy) child whose own
 *   bindings name a `call_id` (a per-call process's logger): that one stays. A message sent by a process (`ctx.send`,
 *   `ctx.sendAfter`, a GenServer call or cast made in sync code) carries the sender's
 *   context, and the kernel sets it on the receiver while it handles the message, so a
 *   call-id follows a message from process to process. A GenServer call or cast made
 *   after an await (no current context) carries none: send it with `ctx.send`, or log
 *   with an explicit `call_id`.
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
import pino, { type Logger, type DestinationStream } from 'pino';
import { prettyFactory, isColorSupported } from 'pino-pretty';

export type { Logger } from 'pino';

export interface LogContext {
  readonly callId?: string;
}

const EMPTY: LogContext = Object.freeze({});
/** The context of the synchronous run in progress (EMPTY between runs). */
let current: LogContext = EMPTY;

/** Where a logger finds the context of its lines when no synchronous run set one. */
export interface LogSource {
  readonly lc: LogContext | undefined;
}

const SOURCE = Symbol('fife.logSource');
/** The source of a logger whose bindings name the call-id: its lines keep that one. */
const BOUND: LogSource = Object.freeze({ lc: undefined });

/** Runs fn with `callId` as the current call-id (for logs and for messages sent from it). */
export function withCallId<T>(callId: string | undefined, fn: () => T): T {
  return withLogContext(callId === undefined ? EMPTY : { callId }, fn);
}

/** Runs fn inside a given log context (as captured by `currentLogContext`): its synchronous run. */
export function withLogContext<T>(ctx: LogContext | undefined, fn: () => T): T {
  const prev = current;
  current = ctx ?? EMPTY;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

export function currentLogContext(): LogContext | undefined {
  return current === EMPTY ? undefined : current;
}

export function currentCallId(): string | undefined {
  return current.callId;
}

const LEVEL_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/** A lazy child's state: the target of its Proxy (one handler serves them all, so a lazy
 *  child costs two small objects until it logs). */
interface Lazy {
  readonly parent: Logger;
  readonly bindings: Record<string, unknown>;
  readonly source: LogSource | undefined;
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

const make = (st: Lazy): Logger => {
  if (st.real !== undefined) return st.real;
  const real = realOf(st.parent).child(st.bindings);
  // an own property: pino's children are made with Object.create, so they inherit it
  const source = typeof st.bindings.call_id === 'string' ? BOUND : st.source;
  if (source !== undefined) (real as unknown as Record<symbol, LogSource>)[SOURCE] = source;
  return (st.real = real);
};

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

/**
 * `parent.child(bindings)`, made only when first needed (see the contract); with a
 * `source`, its lines (and its children's) carry the source's call-id when no synchronous
 * run set one.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>, source?: LogSource): Logger {
  return new Proxy<Lazy>({ parent, bindings, source }, LAZY) as unknown as Logger;
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
      mixin(_merge, _level, logger) {
        const source = (logger as unknown as Record<symbol, LogSource | undefined>)[SOURCE];
        if (source === BOUND) return {};
        const c = current !== EMPTY ? current : source?.lc;
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
