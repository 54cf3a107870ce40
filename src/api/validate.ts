/**
 * Validating an incoming message against the catalogue (Kazoo's `kapi_x:y_v/1`, but every
 * problem reported at once and never by a crash).
 *
 * Contract — `validateWith(catalogue, msg, id?)`:
 * - With `id`, checks against that entry; without, finds the entry by the message's own
 *   Event-Category / Event-Name (and discriminator, e.g. a dialplan command's
 *   Application-Name).
 * - Returns `{ ok: true, msg, def }` or `{ ok: false, reason, problems, def? }`: `reason`
 *   names the message and every problem in one line; `problems` lists them one by one.
 *   A message no entry matches fails with a problem of kind `unknown`.
 * - Never throws, whatever `msg` is (an unknown `id` is a programming error and throws).
 * - Unknown extra headers are accepted (Kazoo receivers ignore them too).
 */
import type { Catalogue } from './catalogue.ts';
import { checkMessage, isObject, own } from './check.ts';
import { describeProblems } from './invalid-message.ts';
import type { Envelope, MessageDef, Problem } from './types.ts';

export type Validated =
  | { readonly ok: true; readonly msg: Envelope; readonly def: MessageDef }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly problems: readonly Problem[];
      readonly def?: MessageDef;
    };

function fail(id: string, problems: Problem[], def?: MessageDef): Validated {
  return def === undefined
    ? { ok: false, reason: describeProblems(id, problems), problems }
    : { ok: false, reason: describeProblems(id, problems), problems, def };
}

export function validateWith(catalogue: Catalogue, msg: unknown, id?: string): Validated {
  let def: MessageDef | undefined;
  if (id !== undefined) def = catalogue.get(id);
  else {
    if (!isObject(msg)) return fail('message', checkMessageShape(msg));
    const cat = own(msg, 'Event-Category');
    const name = own(msg, 'Event-Name');
    if (typeof cat !== 'string' || typeof name !== 'string') {
      const detail = `Event-Category and Event-Name must be strings to find the message (got ${typeof cat}, ${typeof name})`;
      return fail('message', [{ header: 'Event-Category/Event-Name', kind: 'unknown', detail }]);
    }
    def = catalogue.lookup(cat, name, msg);
    if (def === undefined) {
      const known = catalogue.definitionsFor(cat, name);
      const detail =
        known.length > 0
          ? `${cat}/${name} needs ${known[0]!.discriminator ?? 'a discriminator'} to be one of ${known.map((d) => d.fixed?.[d.discriminator ?? ''] ?? d.id).join(', ')}`
          : `no message ${cat}/${name} in the catalogue`;
      return fail(`${cat}/${name}`.slice(0, 120), [{ header: 'Event-Name', kind: 'unknown', detail }]);
    }
  }
  const problems = checkMessage(def, msg);
  if (problems.length > 0) return fail(def.id, problems, def);
  return { ok: true, msg: msg as Envelope, def };
}

function checkMessageShape(msg: unknown): Problem[] {
  const shown = Array.isArray(msg) ? 'list' : msg === null ? 'null' : typeof msg;
  return [{ header: '(message)', kind: 'not-an-object', detail: `expected a JSON object, got ${shown}` }];
}
