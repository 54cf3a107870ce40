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
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'object';
  return `${typeof v} ${String(v)}`;
}

function typeName(t: FieldType): string {
  return typeof t === 'string' ? t : `list of ${t.listOf.name}`;
}

/** Whether `v` fits the scalar part of `t` (listOf elements are checked separately). */
function fits(v: unknown, t: FieldType): boolean {
  switch (t) {
    case 'string': return typeof v === 'string';
    case 'integer': return Number.isSafeInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    case 'booleanish': return typeof v === 'boolean' || v === 'true' || v === 'false';
    case 'integerish': return Number.isSafeInteger(v) || (typeof v === 'string' && /^-?\d{1,15}$/.test(v));
    case 'object': return isObject(v);
    case 'list': return Array.isArray(v);
    case 'string-list': return Array.isArray(v) && v.every((e) => typeof e === 'string');
    case 'scalar': return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    default: return Array.isArray(v);
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
      if (!isObject(el)) out.push({ header: prefix, kind: 'type', detail: `expected object (${t.listOf.name}), got ${show(el)}` });
      else checkFields(t.listOf, el, out, `${prefix}.`);
    });
  }
}

function checkValue(header: string, v: unknown, allowed: readonly string[], out: Problem[]): void {
  const ok = (x: unknown): boolean => typeof x === 'string' && allowed.includes(x);
  const good = Array.isArray(v) ? v.every(ok) : ok(v);
  if (!good) out.push({ header, kind: 'value', detail: `${show(v)} is not one of ${allowed.join(', ')}` });
}

/** Required, values and types of a definition or sub-definition. */
function checkFields(def: SubDef, msg: Record<string, unknown>, out: Problem[], prefix = ''): void {
  for (const req of def.required) {
    if (typeof req === 'string') {
      if (!isPresent(own(msg, req))) out.push({ header: prefix + req, kind: 'missing', detail: 'missing required header' });
    } else if (!req.some((h) => isPresent(own(msg, h)))) {
      out.push({ header: prefix + req.join('|'), kind: 'missing', detail: `needs at least one of ${req.join(', ')}` });
    }
  }
  for (const [h, allowed] of Object.entries(def.values ?? {})) {
    if (isPresent(own(msg, h))) checkValue(prefix + h, own(msg, h), allowed, out);
  }
  for (const [h, t] of Object.entries(def.types ?? {})) {
    if (isPresent(own(msg, h))) checkType(prefix + h, own(msg, h), t, out);
  }
}

function checkEnvelope(def: MessageDef, msg: Record<string, unknown>, out: Problem[]): void {
  for (const h of DEFAULT_HEADERS) {
    if (!isPresent(own(msg, h))) out.push({ header: h, kind: 'missing', detail: 'missing default header' });
  }
  for (const [h, t] of Object.entries(ENVELOPE_TYPES)) {
    if (isPresent(own(msg, h))) checkType(h, own(msg, h), t, out);
  }
  const cat = own(msg, 'Event-Category');
  if (isPresent(cat) && cat !== def.category) {
    out.push({ header: 'Event-Category', kind: 'value', detail: `${show(cat)} is not ${def.category}` });
  }
  const name = own(msg, 'Event-Name');
  if (def.name !== '*' && isPresent(name) && name !== def.name) {
    out.push({ header: 'Event-Name', kind: 'value', detail: `${show(name)} is not ${def.name}` });
  }
  for (const [h, v] of Object.entries(def.fixed ?? {})) {
    if (!isPresent(own(msg, h))) out.push({ header: h, kind: 'missing', detail: `missing required header (must be ${v})` });
    else if (own(msg, h) !== v) out.push({ header: h, kind: 'value', detail: `${show(own(msg, h))} is not ${v}` });
  }
}

export function checkMessage(def: MessageDef, msg: unknown): Problem[] {
  if (!isObject(msg)) return [{ header: '(message)', kind: 'not-an-object', detail: `expected a JSON object, got ${show(msg)}` }];
  const out: Problem[] = [];
  checkEnvelope(def, msg, out);
  checkFields({ name: def.id, required: def.required, optional: def.optional, values: def.values, types: def.types }, msg, out);
  return out;
}
