/**
 * Finding the callflow for a dialled number in an account database (Kazoo's
 * cf_flow:lookup / cf_util:lookup_callflow).
 *
 * Contract
 * - `lookupCallflow(store, db, number)`: the callflow document whose `numbers` holds the
 *   number (view callflows/listing_by_number); else the one whose `patterns` regex
 *   matches it, the longest match winning (callflows/listing_by_pattern; a pattern that
 *   is not a valid regex is skipped with a problem reported); else the `no_match`
 *   callflow; else undefined. Answers `{doc, flow, matchedBy}` where `flow` is the
 *   checked tree (flow.ts) or `{problem}` when the document fails the check.
 * - Reads only; store errors reject.
 */
import type { DocumentStore } from '../../src/store/index.ts';
import { checkFlow, type FlowNode } from './flow.ts';

export interface Found {
  readonly docId: string;
  readonly flow: FlowNode | { problem: string };
  readonly matchedBy: 'number' | 'pattern' | 'no_match';
  readonly capture?: string;
}

async function byNumber(store: DocumentStore, db: string, number: string): Promise<string | undefined> {
  const rows = (await store.view(db, 'callflows/listing_by_number', { key: number })).rows;
  return rows
    .map((r) => r.id)
    .filter((id): id is string => typeof id === 'string')
    .sort()[0];
}

/** The longest regex match of `number` among `patterns`: [doc id, matched text]. */
export function bestPattern(
  rows: ReadonlyArray<{ id: string; pattern: string }>,
  number: string,
): { id: string; capture: string } | undefined {
  let best: { id: string; capture: string; len: number } | undefined;
  for (const r of rows) {
    let m: RegExpExecArray | null;
    try {
      m = new RegExp(r.pattern).exec(number);
    } catch {
      continue;
    }
    if (m === null) continue;
    const len = m[0].length;
    if (best === undefined || len > best.len) best = { id: r.id, capture: m[1] ?? m[0], len };
  }
  return best === undefined ? undefined : { id: best.id, capture: best.capture };
}

export async function lookupCallflow(
  store: DocumentStore,
  db: string,
  number: string,
): Promise<Found | undefined> {
  const load = async (id: string, matchedBy: Found['matchedBy'], capture?: string): Promise<Found> => {
    const doc = await store.get(db, id);
    const flow = checkFlow(doc.flow);
    return { docId: id, flow, matchedBy, ...(capture === undefined ? {} : { capture }) };
  };
  const direct = await byNumber(store, db, number);
  if (direct !== undefined) return load(direct, 'number');
  const rows = (await store.view(db, 'callflows/listing_by_pattern')).rows.flatMap((r) =>
    typeof r.id === 'string' && typeof r.key === 'string' ? [{ id: r.id, pattern: r.key }] : [],
  );
  const p = bestPattern(rows, number);
  if (p !== undefined) return load(p.id, 'pattern', p.capture);
  const noMatch = await byNumber(store, db, 'no_match');
  return noMatch === undefined ? undefined : load(noMatch, 'no_match');
}
