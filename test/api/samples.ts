/**
 * A valid sample message for any catalogue entry, derived from the entry itself (so new
 * entries are covered by the round-trip and fuzz tests with no extra work).
 */
import type { FieldType, MessageDef, SubDef } from '../../src/api/index.ts';

function sampleValue(header: string, def: SubDef): unknown {
  const allowed = def.values?.[header];
  const type: FieldType = def.types?.[header] ?? 'string';
  if (allowed !== undefined) return type === 'string-list' || type === 'list' ? [allowed[0]] : allowed[0];
  if (typeof type === 'object') return [sampleOf(type.listOf)];
  switch (type) {
    case 'integer':
    case 'integerish':
    case 'pos-integer':
    case 'number':
      return 42;
    case 'terminators':
      return ['#'];
    case 'boolean':
    case 'booleanish':
      return true;
    case 'object':
      return { Key: 'value' };
    case 'list':
    case 'string-list':
      return ['one'];
    default:
      return `${header.toLowerCase()}-sample`;
  }
}

export function sampleOf(def: SubDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const req of def.required) {
    const h = typeof req === 'string' ? req : req[0]!;
    out[h] = sampleValue(h, def);
  }
  return out;
}

/** Fields for build(): required headers only, plus an Event-Name for any-name entries. */
export function sampleFields(def: MessageDef): Record<string, unknown> {
  const fields = sampleOf({
    name: def.id,
    required: def.required,
    optional: def.optional,
    values: def.values,
    types: def.types,
  });
  if (def.name === '*')
    fields['Event-Name'] = def.category === 'call_event' ? 'CHANNEL_ANSWER' : 'sample_req';
  if (def.category === 'configuration') fields.Type = 'device';
  return fields;
}
