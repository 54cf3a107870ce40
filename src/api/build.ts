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

/** Sets an own property, safely even for the key `__proto__`. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function strip(obj: Record<string, unknown>, recursive: boolean, depth: number): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (!isPresent(v) && !(depth === 0 && NEVER_STRIPPED.has(k) && v === '')) continue;
    put(kept, k, recursive && isObject(v) && depth < MAX_STRIP_DEPTH ? strip(v, recursive, depth + 1) : v);
  }
  return kept;
}

const allowedCache = new WeakMap<MessageDef, ReadonlySet<string>>();

export function allowedHeaders(def: MessageDef): ReadonlySet<string> {
  let set = allowedCache.get(def);
  if (set === undefined) allowedCache.set(def, (set = computeAllowed(def)));
  return set;
}

function computeAllowed(def: MessageDef): ReadonlySet<string> {
  return new Set([
    ...DEFAULT_HEADERS,
    ...OPTIONAL_DEFAULT_HEADERS,
    ...def.required.flatMap((r) => (typeof r === 'string' ? [r] : r)),
    ...def.optional,
    ...Object.keys(def.fixed ?? {}),
    ...Object.keys(def.defaults ?? {}),
  ]);
}

/** Fills absent defaults into `msg` (a fresh object owned by the caller). */
function setDefault(msg: Record<string, unknown>, k: string, v: unknown): void {
  if (!isPresent(own(msg, k)) && isPresent(v)) put(msg, k, v);
}

function fill(def: MessageDef, msg: Record<string, unknown>, ctx: BuildContext): Record<string, unknown> {
  setDefault(msg, 'App-Name', ctx.appName);
  setDefault(msg, 'App-Version', ctx.appVersion);
  setDefault(msg, 'Node', ctx.node);
  setDefault(msg, 'Event-Category', def.category);
  if (def.name !== '*') setDefault(msg, 'Event-Name', def.name);
  if (def.defaults !== undefined)
    for (const k of Object.keys(def.defaults)) setDefault(msg, k, def.defaults[k]);
  if (def.fixed !== undefined) for (const k of Object.keys(def.fixed)) setDefault(msg, k, def.fixed[k]);
  if (!isPresent(own(msg, 'Msg-ID'))) put(msg, 'Msg-ID', (ctx.msgId ?? randomMsgId)());
  return msg;
}

// Random bytes are drawn 4 KiB at a time: one crypto call per 256 Msg-IDs.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** 16 random bytes as 32 hex chars (Kazoo's Msg-ID shape). */
export function randomMsgId(): string {
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  poolAt += 16;
  return pool.toString('hex', poolAt - 16, poolAt);
}

export function prepare(
  def: MessageDef,
  fields: Readonly<Record<string, unknown>>,
  ctx: BuildContext,
): Prepared {
  const allowed = allowedHeaders(def);
  const recursive = def.stripRecursive ?? true;
  // strip (step 1) at the top level here, noting whether any header is one the whitelist
  // drops: fill adds only kept headers, so without one the whitelist pass is skipped
  const stripped: Record<string, unknown> = {};
  let unknown = false;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (!isPresent(v) && !(NEVER_STRIPPED.has(k) && v === '')) continue;
    put(stripped, k, recursive && isObject(v) ? strip(v, recursive, 1) : v);
    if (!unknown && !allowed.has(k)) unknown = true;
  }
  const msg = fill(def, stripped, ctx);
  const problems = checkMessage(def, msg);
  if (problems.length > 0) throw new InvalidMessage(def.id, problems);
  const dropped: string[] = [];
  if (unknown)
    for (const k of Object.keys(msg)) {
      if (allowed.has(k)) continue;
      dropped.push(k);
      delete msg[k];
    }
  return { msg: msg as Envelope, dropped };
}

export function build(
  def: MessageDef,
  fields: Readonly<Record<string, unknown>>,
  ctx: BuildContext,
): Envelope {
  return prepare(def, fields, ctx).msg;
}
