/**
 * FreeSWITCH dial strings as `bridge` and `originate` take them (switch_ivr_originate.c).
 *
 * Contract: `parseDialString(s)` -> `{ vars, groups }`. A leading `{k=v,...}` holds
 * variables for every leg (`<k=v,...>` is accepted the same way); `|` separates groups rung
 * one after another, `,` separates legs of one group rung at the same time; a leg may start
 * with `[k=v,...]`, its own variables, which win over the `{}` ones. Separators inside
 * brackets do not split, and `\,` is a literal comma in a value. Each leg comes back with
 * its dial (the endpoint) and its merged variables; empty legs are dropped. Pure.
 */

export interface DialLeg {
  readonly dial: string;
  readonly vars: Readonly<Record<string, string>>;
}

export interface DialString {
  readonly vars: Readonly<Record<string, string>>;
  readonly groups: readonly (readonly DialLeg[])[];
}

const CLOSE: Record<string, string> = { '{': '}', '<': '>', '[': ']' };

/** Splits `s` on any of `seps` outside brackets; `\x` keeps x literally. */
function splitTop(s: string, seps: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] ?? '');
      i++;
    } else if (c in CLOSE) {
      depth++;
      cur += c;
    } else if (c === '}' || c === '>' || c === ']') {
      depth = Math.max(0, depth - 1);
      cur += c;
    } else if (depth === 0 && seps.includes(c)) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function parseVarList(body: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const kv of splitTop(body, ',')) {
    const i = kv.indexOf('=');
    if (i > 0) vars[kv.slice(0, i).trim()] = kv.slice(i + 1).replace(/\\,/g, ',');
  }
  return vars;
}

/** A leading `open…close` block of `s`, or undefined. */
function leadingBlock(s: string, open: string): { body: string; rest: string } | undefined {
  if (!s.startsWith(open)) return undefined;
  const end = s.indexOf(CLOSE[open] ?? '', 1);
  if (end < 0) return undefined;
  return { body: s.slice(1, end), rest: s.slice(end + 1) };
}

export function parseDialString(input: string): DialString {
  let rest = input.trim();
  const vars: Record<string, string> = {};
  for (;;) {
    const block = leadingBlock(rest, '{') ?? leadingBlock(rest, '<');
    if (block === undefined) break;
    Object.assign(vars, parseVarList(block.body));
    rest = block.rest.trim();
  }
  const groups = splitTop(rest, '|')
    .map((g) =>
      splitTop(g, ',')
        .map((leg): DialLeg => {
          const t = leg.trim();
          const block = leadingBlock(t, '[');
          return block === undefined
            ? { dial: t, vars }
            : { dial: block.rest.trim(), vars: { ...vars, ...parseVarList(block.body) } };
        })
        .filter((l) => l.dial !== ''),
    )
    .filter((g) => g.length > 0);
  return { vars, groups };
}
