/**
 * docs/messages.md, generated from the catalogue: the project's own description of its wire.
 *
 * Contract
 * - `messagesDoc(catalogue)` returns the whole Markdown text: the envelope (default and
 *   optional-default headers), the exchanges, a summary table, then one section per message
 *   in catalogue order (Event-Category / Event-Name, fixed headers, exchange, routing key,
 *   other exchanges it arrives on, required and optional headers with their types, allowed
 *   values and defaults, then the entry's notes as written: Markdown), then the nested objects (bridge endpoints, routes, queued commands).
 * - Deterministic: the same catalogue gives the same text, byte for byte (no dates).
 * - Pure: `npm run docs:messages` (scripts/docs-messages.ts) writes it;
 *   test/robustness/messages-doc.test.ts fails when the checked-in file differs.
 */
import type { Catalogue } from './catalogue.ts';
import { DEFAULT_HEADERS, ENVELOPE_TYPES, OPTIONAL_DEFAULT_HEADERS } from './envelope.ts';
import { EXCHANGES } from './exchanges.ts';
import type { FieldType, MessageDef, SubDef } from './types.ts';

const code = (s: string): string => (s === '' ? '(empty)' : `\`${s}\``);
/** Plain text in Markdown: no table breaks, no angle brackets taken for HTML. */
const text = (s: string): string =>
  s
    .replace(/[|*]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

function typeText(t: FieldType | undefined, nested: Map<string, SubDef>): string {
  if (t === undefined) return '';
  if (typeof t === 'string') return t;
  nested.set(t.listOf.name, t.listOf);
  return `list of [${t.listOf.name}](#nested-${t.listOf.name})`;
}

function headerRows(
  def: SubDef & { readonly defaults?: Readonly<Record<string, string>> },
  nested: Map<string, SubDef>,
): string[] {
  const rows = ['| Header | Presence | Type | Allowed values |', '|---|---|---|---|'];
  const row = (names: string, presence: string, h: string): string => {
    const values = def.values?.[h]?.map(code).join(', ') ?? '';
    const dflt = def.defaults?.[h] === undefined ? '' : ` (default ${code(def.defaults[h])})`;
    return `| ${names} | ${presence} | ${typeText(def.types?.[h], nested)} | ${values}${dflt} |`;
  };
  for (const r of def.required) {
    if (typeof r === 'string') rows.push(row(r, 'required', r));
    else rows.push(`| ${r.join(', ')} | required: at least one | | |`);
  }
  for (const h of def.optional) rows.push(row(h, 'optional', h));
  return def.required.length + def.optional.length === 0 ? ['No headers beyond the envelope.'] : rows;
}

function routeLines(def: MessageDef): string[] {
  const ex = EXCHANGES.find((e) => e.name === def.route.exchange);
  const lines = [`- Exchange: ${code(def.route.exchange)} (${ex?.type ?? '?'})`];
  if (def.route.kind === 'key')
    lines.push(
      `- Routing key: ${def.route.pattern === '' ? '(empty)' : def.route.pattern.split(' or ').map(code).join(' or ')}`,
    );
  else if (def.route.exchange === 'callctl')
    lines.push("- Routing key: the call's Control-Queue (the publisher names it)");
  else
    lines.push("- Routing key: the queue named by the request's Server-ID (a reply; the publisher names it)");
  for (const a of def.alsoArrivesOn ?? [])
    lines.push(`- Also arrives on: ${code(a.exchange)} with key ${code(a.bindKey)} (${text(a.why)})`);
  if (def.amqpHeaders !== undefined)
    lines.push(`- AMQP headers: ${Object.keys(def.amqpHeaders({})).map(code).join(', ')}`);
  if (def.stripRecursive === false)
    lines.push('- Empty values are stripped at the top level only (nested objects keep theirs)');
  return lines;
}

function messageSection(def: MessageDef, nested: Map<string, SubDef>): string[] {
  const name = def.name === '*' ? 'any non-empty name' : code(def.name);
  const out = [
    `### ${def.id}`,
    '',
    text(def.doc),
    '',
    `- Event-Category / Event-Name: ${code(def.category)} / ${name}`,
  ];
  const fixed = Object.entries(def.fixed ?? {});
  if (fixed.length > 0) out.push(`- Fixed: ${fixed.map(([h, v]) => `${h} = ${code(v)}`).join(', ')}`);
  out.push(...routeLines(def), '', ...headerRows(def, nested), '');
  for (const note of def.notes ?? []) out.push(note, '');
  return out;
}

function keyText(def: MessageDef): string {
  if (def.route.kind === 'queue') return def.route.exchange === 'callctl' ? 'Control-Queue' : 'Server-ID';
  return def.route.pattern === '' ? '(empty)' : def.route.pattern.split(' or ').map(code).join(' or ');
}

export function messagesDoc(catalogue: Catalogue): string {
  const defs = catalogue.all();
  const nested = new Map<string, SubDef>();
  const sections = defs.flatMap((d) => messageSection(d, nested));
  const out = [
    '# Messages',
    '',
    '<!-- Generated from src/api by `npm run docs:messages`; do not edit by hand. -->',
    '',
    "Every message Fife sends or receives on the bus, in Kazoo's wire format: JSON objects whose",
    'keys are spelled as Kazoo spells them. The catalogue in src/api is the source; this file is',
    'generated from it, and the tests fail when the two differ.',
    '',
    '## Envelope',
    '',
    `Required in every message: ${DEFAULT_HEADERS.map(code).join(', ')} (the sender's build context fills App-Name, App-Version and Node; build fills Msg-ID).`,
    '',
    `Allowed in every message: ${OPTIONAL_DEFAULT_HEADERS.map(code).join(', ')}.`,
    '',
    `Types checked on every message: ${Object.entries(ENVELOPE_TYPES)
      .map(([h, t]) => `${h} (${t})`)
      .join(', ')}.`,
    '',
    "A reply carries the request's Msg-ID. Headers a message does not list are dropped when Fife builds it and accepted when Fife receives it.",
    '',
    '## Exchanges',
    '',
    'Declared by the bus at start and on every reconnect, all with durable=false, auto_delete=false, internal=false.',
    '',
    '| Exchange | Type | Carries |',
    '|---|---|---|',
    ...EXCHANGES.map((e) => `| ${e.name} | ${e.type} | ${text(e.purpose)} |`),
    '',
    '## Summary',
    '',
    '| Id | Event-Category / Event-Name | Exchange | Routing key |',
    '|---|---|---|---|',
    ...defs.map(
      (d) =>
        `| [${d.id}](#${d.id.replace(/[^a-z0-9_-]/g, '')}) | ${d.category} / ${d.name} | ${d.route.exchange} | ${keyText(d)} |`,
    ),
    '',
    '## Messages',
    '',
    ...sections,
    '## Nested objects',
    '',
    ...[...nested.values()].flatMap((s) => [`### nested: ${s.name}`, '', ...headerRows(s, nested), '']),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}
