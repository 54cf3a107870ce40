/**
 * Building an outgoing message (Kazoo's `kz_api:prepare_api_payload` + `build_message`).
 *
 * Contract — `prepare(def, fields, ctx)` returns `{ msg, dropped }` or throws InvalidMessage:
 * 1. Strip: headers whose value is undefined, null or "" are removed, recursively into
 *    nested objects unless the definition says `stripRecursive: false` (route_req,
 *    call_event). Server-ID and Msg-ID are never stripped (an empty Msg-ID is refilled).
 * 2. Defaults: App-Name, App-Version from `ctx` when absent; Node = `ctx.node` when absent;
 *    Msg-ID = 32 random hex chars (or `ctx.msgId()`) when absent or empty.
 * 3. Fixed values: Event-Category, Event-Name (unless the entry accepts any name), the
 *    entry's `fixed` headers (Application-Name of a dialplan command) and its `defaults`
 *    (playstop's Insert-At now) when absent. Enum headers are never guessed.
 * 4. Validate: envelope + required + allowed values + types, all problems in one
 *    InvalidMessage (nothing is published).
 * 5. Whitelist — Fife follows Kazoo: only default, optional-default, required, optional and
 *    fixed headers are kept; other keys are dropped and listed in `dropped` (so a caller may
 *    log them: a Kazoo peer would never have seen them either). Nested objects are kept
 *    whole.
 * `build(def, fields, ctx)` is `prepare(...).msg`. Both are pure apart from the random Msg-ID.
 */
import { randomBytes } from 'node:crypto';
import { checkMessage, isObject, isPresent, own } from './check.ts';
import { DEFAULT_HEADERS, NEVER_STRIPPED, OPTIONAL_DEFAULT_HEADERS } from './envelope.ts';
import { InvalidMessage } from './invalid-message.ts';
import type { Envelope, MessageDef } from './types.ts';

export interface BuildContext {
  /** Sending application, e.g. `registrar`. */
  readonly appName: string;
  /** Its version string, e.g. `4.0.0`. */
  readonly appVersion: string;
  /** This node's name, e.g. `fife@host1` (Kazoo's Erlang node name). */
  readonly node: string;
  /** Msg-ID generator (tests); default 16 random bytes as hex. */
  readonly msgId?: () => string;
}

export interface Prepared {
  readonly msg: Envelope;
  readonly dropped: readonly string[];
}

const MAX_STRIP_DEPTH = 32;

function strip(obj: Record<string, unknown>, recursive: boolean, depth: number): Record<string, unknown> {
  const kept: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (!isPresent(v) && !(depth === 0 && NEVER_STRIPPED.has(k) && v === '')) continue;
    const deeper = recursive && isObject(v) && depth < MAX_STRIP_DEPTH;
    kept.push([k, deeper ? strip(v, recursive, depth + 1) : v]);
  }
  return Object.fromEntries(kept);
}

export function allowedHeaders(def: MessageDef): ReadonlySet<string> {
  return new Set([
    ...DEFAULT_HEADERS,
    ...OPTIONAL_DEFAULT_HEADERS,
    ...def.required.flatMap((r) => (typeof r === 'string' ? [r] : r)),
    ...def.optional,
    ...Object.keys(def.fixed ?? {}),
    ...Object.keys(def.defaults ?? {}),
  ]);
}

function fill(def: MessageDef, msg: Record<string, unknown>, ctx: BuildContext): Record<string, unknown> {
  const defaults: Record<string, unknown> = {
    'App-Name': ctx.appName,
    'App-Version': ctx.appVersion,
    Node: ctx.node,
    'Event-Category': def.category,
    ...(def.name === '*' ? {} : { 'Event-Name': def.name }),
    ...def.defaults,
    ...def.fixed,
  };
  const filled = Object.entries(defaults).filter(([k, v]) => !isPresent(own(msg, k)) && isPresent(v));
  const msgId = isPresent(own(msg, 'Msg-ID')) ? [] : [['Msg-ID', (ctx.msgId ?? randomMsgId)()]];
  return Object.fromEntries([...Object.entries(msg), ...filled, ...msgId]);
}

export function randomMsgId(): string {
  return randomBytes(16).toString('hex');
}

export function prepare(def: MessageDef, fields: Readonly<Record<string, unknown>>, ctx: BuildContext): Prepared {
  const stripped = strip(fields, def.stripRecursive ?? true, 0);
  const msg = fill(def, stripped, ctx);
  const problems = checkMessage(def, msg);
  if (problems.length > 0) throw new InvalidMessage(def.id, problems);
  const allowed = allowedHeaders(def);
  const dropped = Object.keys(msg).filter((k) => !allowed.has(k));
  const kept = Object.fromEntries(Object.entries(msg).filter(([k]) => allowed.has(k)));
  return { msg: kept as Envelope, dropped };
}

export function build(def: MessageDef, fields: Readonly<Record<string, unknown>>, ctx: BuildContext): Envelope {
  return prepare(def, fields, ctx).msg;
}
