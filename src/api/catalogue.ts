/**
 * The catalogue: every message definition, indexed by id and by (Event-Category, Event-Name).
 *
 * Contract
 * - `new Catalogue(defs)` checks the definitions and throws at load, naming the entry and how
 *   to fix it, when: two entries share an id; two entries share (category, name) without
 *   both naming the same `discriminator` header with different fixed values; a
 *   discriminator is not fixed; a header is both required and optional; the exchange is
 *   unknown.
 * - `get(id)` returns the entry or throws (a programming error: the id is a literal in code).
 * - `lookup(category, name, msg?)` finds the entry for an incoming message: an exact
 *   (category, name) entry wins over a `'*'` entry of the category; where entries share
 *   (category, name) the message's discriminator header picks one (no message, or a value
 *   no entry fixes: undefined). Wildcards in bindings are the bus's concern, not this one.
 * - `definitionsFor(category, name)` lists every entry registered under that pair.
 * - `addFamily(family, defs)`: a plugin's own messages, checked as above against every
 *   entry already there (an id or a (category, name) pair another family owns is refused,
 *   naming both). Adding a family again replaces its previous entries (a plugin module
 *   loaded anew). All or nothing: a refused family leaves the catalogue as it was.
 * - Pure data: the catalogue changes only through `addFamily`.
 */
import { EXCHANGES } from './exchanges.ts';
import { own, isObject } from './check.ts';
import type { Message, MessageDef } from './types.ts';

const EXCHANGE_NAMES: ReadonlySet<string> = new Set(EXCHANGES.map((e) => e.name));

function pairKey(category: string, name: string): string {
  return `${category}\u0000${name}`;
}

function checkDef(def: MessageDef): void {
  const where = `catalogue entry '${def.id}'`;
  if (!EXCHANGE_NAMES.has(def.route.exchange)) {
    throw new Error(
      `${where}: exchange '${def.route.exchange}' is not in src/api/exchanges.ts; add it there or fix the name`,
    );
  }
  const required = new Set(def.required.flatMap((r) => (typeof r === 'string' ? [r] : r)));
  const both = def.optional.filter((h) => required.has(h));
  if (both.length > 0)
    throw new Error(`${where}: ${both.join(', ')} both required and optional; keep each header in one list`);
  if (def.discriminator !== undefined && def.fixed?.[def.discriminator] === undefined) {
    throw new Error(`${where}: discriminator '${def.discriminator}' must have a fixed value in 'fixed'`);
  }
}

/** The family of the entries a catalogue is made with. */
const BUILT_IN = 'built-in';

export class Catalogue {
  readonly #byId = new Map<string, MessageDef>();
  readonly #byPair = new Map<string, MessageDef[]>();
  readonly #familyOf = new Map<string, string>();
  /** #byPair as category -> name -> entries, for lookups (no key string made per message). */
  #byCategory = new Map<string, Map<string, MessageDef[]>>();

  constructor(defs: readonly MessageDef[]) {
    for (const def of defs) this.#add(def, BUILT_IN);
    this.#index();
  }

  #index(): void {
    const byCategory = new Map<string, Map<string, MessageDef[]>>();
    for (const defs of this.#byPair.values()) {
      const { category, name } = defs[0]!;
      let names = byCategory.get(category);
      if (names === undefined) byCategory.set(category, (names = new Map()));
      names.set(name, defs);
    }
    this.#byCategory = byCategory;
  }

  /** Adds (or replaces) a family of message definitions; see the contract above. */
  addFamily(family: string, defs: readonly MessageDef[]): void {
    if (family === BUILT_IN) throw new Error(`family name '${BUILT_IN}' is reserved`);
    const before = {
      byId: new Map(this.#byId),
      byPair: new Map(this.#byPair),
      familyOf: new Map(this.#familyOf),
    };
    try {
      for (const [id, f] of before.familyOf) if (f === family) this.#remove(id);
      for (const def of defs) {
        const owner = this.#familyOf.get(def.id);
        if (owner !== undefined)
          throw new Error(
            `catalogue entry '${def.id}' of family '${family}' is already defined by family '${owner}'; pick another id`,
          );
        this.#add(def, family);
      }
      this.#index();
    } catch (err) {
      for (const [mine, saved] of [
        [this.#byId, before.byId],
        [this.#byPair, before.byPair],
        [this.#familyOf, before.familyOf],
      ] as const) {
        (mine as Map<string, unknown>).clear();
        for (const [k, v] of saved as Map<string, unknown>) (mine as Map<string, unknown>).set(k, v);
      }
      this.#index();
      throw err;
    }
  }

  /** The family an entry belongs to (`built-in` for the catalogue's own). */
  familyOf(id: string): string | undefined {
    return this.#familyOf.get(id);
  }

  #remove(id: string): void {
    const def = this.#byId.get(id);
    if (def === undefined) return;
    this.#byId.delete(id);
    this.#familyOf.delete(id);
    const key = pairKey(def.category, def.name);
    const rest = (this.#byPair.get(key) ?? []).filter((d) => d.id !== id);
    if (rest.length === 0) this.#byPair.delete(key);
    else this.#byPair.set(key, rest);
  }

  #add(def: MessageDef, family: string): void {
    checkDef(def);
    if (this.#byId.has(def.id))
      throw new Error(`catalogue entry '${def.id}' is defined twice; ids must be unique`);
    const key = pairKey(def.category, def.name);
    const peers = this.#byPair.get(key) ?? [];
    for (const p of peers) {
      const d = def.discriminator;
      if (d === undefined || p.discriminator !== d || p.fixed?.[d] === def.fixed?.[d]) {
        throw new Error(
          `catalogue entries '${p.id}' and '${def.id}' share ${def.category}/${def.name}: give both the same 'discriminator' header with different fixed values`,
        );
      }
    }
    this.#byId.set(def.id, def);
    this.#familyOf.set(def.id, family);
    this.#byPair.set(key, [...peers, def]);
  }

  get(id: string): MessageDef {
    const def = this.#byId.get(id);
    if (def === undefined)
      throw new Error(`no message '${id}' in the catalogue (see src/api/README.md to add one)`);
    return def;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  all(): readonly MessageDef[] {
    return [...this.#byId.values()];
  }

  definitionsFor(category: string, name: string): readonly MessageDef[] {
    const names = this.#byCategory.get(category);
    return names?.get(name) ?? names?.get('*') ?? [];
  }

  lookup(category: string, name: string, msg?: Message): MessageDef | undefined {
    const defs = this.definitionsFor(category, name);
    if (defs.length === 1) return defs[0];
    if (defs.length === 0 || msg === undefined || !isObject(msg)) return undefined;
    return defs.find(
      (d) => d.discriminator !== undefined && own(msg, d.discriminator) === d.fixed?.[d.discriminator],
    );
  }
}
