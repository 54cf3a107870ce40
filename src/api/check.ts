/**
 * The checker: one message against one definition, every problem collected (kz_api:validate).
 *
 * Contract
 * - `checkMessage(def, msg)` returns the list of problems, empty when the message is valid:
 *   the value is not a JSON object; a default (envelope) header is missing; Event-Category /
 *   Event-Name / fixed values differ from the definition; a required header is missing (for
 *   an "at least one of" entry: none of them present); a value is outside its allowed list
 *   (for a list value: an element is); a value has the wrong type; an element of a
 *   `listOf` header breaks its sub-definition (reported as `Header[i].Sub-Header`).
 * - A header counts as absent when it is missing, null or the empty string.
 * - Headers the definition does not know are not problems here (receivers accept them as
 *   Kazoo's do; build() drops them).
 * - Never throws, whatever the input.
 */
import { DEFAULT_HEADERS, ENVELOPE_TYPES } from './envelope.ts';
import type { FieldType, MessageDef, Problem, SubDef } from './types.ts';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message's own value for a header (never an inherited property such as `constructor`). */
export function own(msg: Record<string, unknown>, header: string): unknown {
  return Object.hasOwn(msg, header) ? msg[header] : undefined;
}

export function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function show(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'null';
  if (typeof v === 'string')
    return v.length > 40
      ? `string ${JSON.stringify(`${v.slice(0, 40)}...`)} (${Buffer.byteLength(v, 'utf8')} bytes)`
      : `string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'object';
  return `${typeof v} ${String(v)}`;
}

/** The DTMF digits a terminator may be (Kazoo's `?ANY_DIGIT`). */
export const DTMF_DIGITS: readonly string[] = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

/** AMQP's short-string limit: a queue name or routing key is at most 255 bytes of UTF-8. */
export const MAX_QUEUE_NAME_BYTES = 255;

function typeName(t: FieldType): string {
  if (t === 'queue-name')
    return `a queue name (a string of at most ${MAX_QUEUE_NAME_BYTES} bytes of UTF-8, AMQP's limit; no reply can be sent to a longer one)`;
  if (t === 'pos-integer') return 'a positive integer (not a string)';
  if (t === 'terminators')
    return `terminators: a list of single DTMF digits (${DTMF_DIGITS.join(' ')}), or "none"`;
  return typeof t === 'string' ? t : `list of ${t.listOf.name}`;
}

/** Whether `v` fits the scalar part of `t` (listOf elements are checked separately). */
function fits(v: unknown, t: FieldType): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'booleanish':
      return typeof v === 'boolean' || v === 'true' || v === 'false';
    case 'integerish':
      return Number.isSafeInteger(v) || (typeof v === 'string' && /^-?\d{1,15}$/.test(v));
    case 'pos-integer':
      return Number.isSafeInteger(v) && (v as number) > 0;
    case 'terminators':
      return (
        v === 'none' || (Array.isArray(v) && v.every((d) => typeof d === 'string' && DTMF_DIGITS.includes(d)))
      );
    case 'object':
      return isObject(v);
    case 'list':
      return Array.isArray(v);
    case 'string-list':
      return Array.isArray(v) && v.every((e) => typeof e === 'string');
    case 'scalar':
      return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    case 'queue-name':
      return (
        typeof v === 'string' && (v.length <= 85 || Buffer.byteLength(v, 'utf8') <= MAX_QUEUE_NAME_BYTES)
      );
    default:
      return Array.isArray(v);
  }
}

function checkType(header: string, v: unknown, t: FieldType, out: Problem[]): void {
  if (!fits(v, t)) {
    out.push({ header, kind: 'type', detail: `expected ${typeName(t)}, got ${show(v)}` });
    return;
  }
  if (typeof t === 'object' && Array.isArray(v)) {
    v.forEach((el, i) => {
      const prefix = `${header}[${i}]`;
      if (!isObject(el))
        out.push({
          header: prefix,
          kind: 'type',
          detail: `expected object (${t.listOf.name}), got ${show(el)}`,
        });
      else checkFields(t.listOf, el, out, `${prefix}.`);
    });
  }
}

function checkValue(header: string, v: unknown, allowed: readonly string[], out: Problem[]): void {
  const ok = (x: unknown): boolean => typeof x === 'string' && allowed.includes(x);
  const good = Array.isArray(v) ? v.every(ok) : ok(v);
  if (!good) out.push({ header, kind: 'value', detail: `${show(v)} is not one of ${allowed.join(', ')}` });
}

/** A definition's `values` and `types` as entry lists, computed once per definition. */
interface Compiled {
  values: Array<[string, readonly string[]]>;
  types: Array<[string, FieldType]>;
}
const compiled = new WeakMap<object, Compiled>();
function compile(def: SubDef): Compiled {
  let c = compiled.get(def);
  if (c === undefined)
    compiled.set(
      def,
      (c = { values: Object.entries(def.values ?? {}), types: Object.entries(def.types ?? {}) }),
    );
  return c;
}
const ENVELOPE_TYPE_LIST = Object.entries(ENVELOPE_TYPES);
const asSub = new WeakMap<MessageDef, SubDef>();
function subOf(def: MessageDef): SubDef {
  let sub = asSub.get(def);
  if (sub === undefined)
    asSub.set(
      def,
      (sub = {
        name: def.id,
        required: def.required,
        optional: def.optional,
        values: def.values,
        types: def.types,
      }),
    );
  return sub;
}

/** Required, values and types of a definition or sub-definition. */
function checkFields(def: SubDef, msg: Record<string, unknown>, out: Problem[], prefix = ''): void {
  for (const req of def.required) {
    if (typeof req === 'string') {
      if (!isPresent(own(msg, req)))
        out.push({ header: prefix + req, kind: 'missing', detail: 'missing required header' });
    } else if (!req.some((h) => isPresent(own(msg, h)))) {
      out.push({
        header: prefix + req.join('|'),
        kind: 'missing',
        detail: `needs at least one of ${req.join(', ')}`,
      });
    }
  }
  const c = compile(def);
  for (const [h, allowed] of c.values) {
    const v = own(msg, h);
    if (isPresent(v)) checkValue(prefix + h, v, allowed, out);
  }
  for (const [h, t] of c.types) {
    const v = own(msg, h);
    if (isPresent(v)) checkType(prefix + h, v, t, out);
  }
}

function checkEnvelope(def: MessageDef, msg: Record<string, unknown>, out: Problem[]): void {
  for (const h of DEFAULT_HEADERS) {
    if (!isPresent(own(msg, h))) out.push({ header: h, kind: 'missing', detail: 'missing default header' });
  }
  for (const [h, t] of ENVELOPE_TYPE_LIST) {
    const v = own(msg, h);
    if (isPresent(v)) checkType(h, v, t, out);
  }
  const cat = own(msg, 'Event-Category');
  if (isPresent(cat) && cat !== def.category) {
    out.push({ header: 'Event-Category', kind: 'value', detail: `${show(cat)} is not ${def.category}` });
  }
  const name = own(msg, 'Event-Name');
  if (def.name !== '*' && isPresent(name) && name !== def.name) {
    out.push({ header: 'Event-Name', kind: 'value', detail: `${show(name)} is not ${def.name}` });
  }
  if (def.fixed === undefined) return;
  for (const h of Object.keys(def.fixed)) {
    const v = def.fixed[h];
    if (!isPresent(own(msg, h)))
      out.push({ header: h, kind: 'missing', detail: `missing required header (must be ${v})` });
    else if (own(msg, h) !== v)
      out.push({ header: h, kind: 'value', detail: `${show(own(msg, h))} is not ${v}` });
  }
}

export function checkMessage(def: MessageDef, msg: unknown): Problem[] {
  if (!isObject(msg))
    return [
      { header: '(message)', kind: 'not-an-object', detail: `expected a JSON object, got ${show(msg)}` },
    ];
  const out: Problem[] = [];
  checkEnvelope(def, msg, out);
  checkFields(subOf(def), msg, out);
  return out;
}
