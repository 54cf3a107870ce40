/**
 * Tables: key/value state owned by a process, as OTP's ETS.
 *
 * Contract
 * - `Table.create(ctx, opts)` makes a table owned by the calling process (`ctx`) and
 *   returns that process's handle. A handle is bound to the process that obtained it
 *   (`create`, `open`, or an `ETS-TRANSFER` message); every operation is checked against
 *   that process. `Table.open(ctx, nameOrId)` gives another process its own handle.
 *   `Table.reader(rt, nameOrId)` gives code that runs outside any process (a bus
 *   responder) a read-only handle.
 * - Access (`opts.access`, as ETS): `protected` (the default): every process reads, only
 *   the owner writes; `private`: only the owner reads or writes; `public`: every process
 *   reads and writes. Giving the table away, changing its heir and dropping it are the
 *   owner's alone. A refused operation throws a TableError (OTP's badarg) that says who
 *   asked, what the access is and who owns the table. Reads are plain function calls on
 *   the table: no message, no mailbox.
 * - A handle of a process that has ended refuses every operation: a dead incarnation (a
 *   floating promise, a timer callback, a closure kept somewhere) cannot read or write.
 * - Operations, as a `set` table: `insert`, `insertNew`, `lookup`, `member`, `delete`,
 *   `take`, `deleteAll`, `match(pred)`, `matchDelete(pred)`, `updateCounter`, `size`,
 *   `entries()` (insertion order), `info()`. Plain objects and arrays inserted are frozen
 *   (deeply; class instances are left as they are): a value in a table changes only
 *   through the table, never through a reference someone kept (ETS copies instead).
 * - Named tables (`opts.name`): one per name in a runtime (a taken name is a TableError);
 *   `Table.whereis(rt, name)` gives its id. A name outlives an owner that has an heir, so
 *   a restarted process finds its table by name.
 * - Heir (`opts.heir`, `setHeir`): when the owner ends and the heir is alive (and is not
 *   the owner itself), the table passes to the heir, which receives
 *   `{type:'ETS-TRANSFER', table, from, heirData}` (`table` is the heir's handle, `from`
 *   the dead owner). The heir setting stays (OTP keeps it too). Without a live heir the
 *   table is deleted with its owner. `giveAway(pid, data)` passes it to a live process
 *   now, which receives the same message.
 * - Nothing of a dead owner stays: its tables are transferred or deleted when its exit
 *   is published (`runtime.events` `exit`), and at the latest when anyone next touches
 *   the table.
 * - `TableKeeper` (table-keeper.ts) is the supervised heir that keeps a worker's table
 *   across the worker's restarts.
 *
 * Differences from OTP: only `set` tables (no bag, ordered_set, duplicate_bag); match
 * takes a predicate instead of a match spec; values are frozen, not copied; the heir is
 * a pid (no name).
 */
import type { Runtime } from './runtime.ts';
import type { ProcessContext } from './process.ts';
import type { Pid } from './pid.ts';

export type TableAccess = 'private' | 'protected' | 'public';

export interface TableOptions {
  /** Register the table under this name in the runtime (ETS's named_table). */
  name?: string;
  /** Default `protected`. */
  access?: TableAccess;
  /** The process that inherits the table when its owner ends. */
  heir?: Pid;
  /** Passed to the heir in its ETS-TRANSFER message. */
  heirData?: unknown;
}

export interface TableInfo {
  id: number;
  name?: string;
  owner: Pid;
  heir?: Pid;
  access: TableAccess;
  size: number;
}

/** What the heir (or the receiver of `giveAway`) gets: OTP's {'ETS-TRANSFER', Tid, FromPid, HeirData}. */
export interface EtsTransferMessage<K = unknown, V = unknown> {
  type: 'ETS-TRANSFER';
  table: Table<K, V>;
  from: Pid;
  heirData: unknown;
}

export const isEtsTransfer = (m: unknown): m is EtsTransferMessage =>
  typeof m === 'object' &&
  m !== null &&
  (m as EtsTransferMessage).type === 'ETS-TRANSFER' &&
  (m as EtsTransferMessage).table instanceof Table;

/** A refused table operation (OTP's badarg). */
export class TableError extends Error {
  readonly reason = 'badarg';
  constructor(
    readonly op: string,
    readonly table: string,
    why: string,
  ) {
    super(`table ${table}: ${op} refused: ${why}`);
    this.name = 'TableError';
  }
}

interface TableData {
  readonly id: number;
  readonly name: string | undefined;
  readonly access: TableAccess;
  readonly rows: Map<unknown, unknown>;
  owner: Pid;
  heir: Pid | undefined;
  heirData: unknown;
  deleted: boolean;
}

const label = (d: TableData): string => (d.name === undefined ? `#Tab<${d.id}>` : `'${d.name}'`);

/** The tables of one runtime. */
class Registry {
  private nextId = 1;
  readonly byId = new Map<number, TableData>();
  readonly byName = new Map<string, TableData>();
  private readonly byOwner = new Map<number, Set<TableData>>();

  constructor(readonly rt: Runtime) {
    rt.events.on('exit', (e) => this.ownerEnded(e.pid));
  }

  create(owner: Pid, opts: TableOptions): TableData {
    const access = opts.access ?? 'protected';
    if (access !== 'private' && access !== 'protected' && access !== 'public')
      throw new TableError(
        'create',
        String(opts.name ?? 'new table'),
        `unknown access '${String(access)}' (private, protected or public)`,
      );
    if (opts.name !== undefined) {
      const held = this.find(opts.name);
      if (held !== undefined)
        throw new TableError('create', `'${opts.name}'`, `the name is taken (owner ${held.owner})`);
    }
    const d: TableData = {
      id: this.nextId++,
      name: opts.name,
      access,
      rows: new Map(),
      owner: owner,
      heir: opts.heir,
      heirData: opts.heirData,
      deleted: false,
    };
    this.byId.set(d.id, d);
    if (d.name !== undefined) this.byName.set(d.name, d);
    this.own(d, owner);
    return d;
  }

  /** The live table by id or name; a table whose owner has ended is settled first. */
  find(key: number | string): TableData | undefined {
    const d = typeof key === 'number' ? this.byId.get(key) : this.byName.get(key);
    if (d === undefined) return undefined;
    this.settle(d);
    return d.deleted ? undefined : d;
  }

  /** If the owner is gone but its exit was not handled yet, handle it now. */
  settle(d: TableData): void {
    if (!d.deleted && !this.rt.isAlive(d.owner)) this.ownerEnded(d.owner);
  }

  private own(d: TableData, owner: Pid): void {
    d.owner = owner;
    let s = this.byOwner.get(owner.id);
    if (s === undefined) this.byOwner.set(owner.id, (s = new Set()));
    s.add(d);
  }

  private disown(d: TableData): void {
    const s = this.byOwner.get(d.owner.id);
    s?.delete(d);
    if (s !== undefined && s.size === 0) this.byOwner.delete(d.owner.id);
  }

  /** Passes `d` to `to`; sends the ETS-TRANSFER message unless `notify` is false. */
  transfer(d: TableData, to: Pid, data: unknown, notify: boolean): void {
    const from = d.owner;
    this.disown(d);
    this.own(d, to);
    if (!notify) return;
    const ctx = this.rt.context(to);
    if (ctx === undefined) return;
    const msg: EtsTransferMessage = {
      type: 'ETS-TRANSFER',
      table: new Table(this, d, ctx),
      from,
      heirData: data,
    };
    this.rt.send(to, msg);
  }

  drop(d: TableData): void {
    if (d.deleted) return;
    d.deleted = true;
    this.disown(d);
    this.byId.delete(d.id);
    if (d.name !== undefined && this.byName.get(d.name) === d) this.byName.delete(d.name);
    d.rows.clear();
  }

  private ownerEnded(pid: Pid): void {
    const owned = this.byOwner.get(pid.id);
    if (owned === undefined) return;
    for (const d of [...owned]) {
      if (d.owner.node !== pid.node) continue;
      const heir = d.heir;
      if (heir !== undefined && heir.id !== pid.id && this.rt.isAlive(heir))
        this.transfer(d, heir, d.heirData, true);
      else this.drop(d);
    }
  }

  /** @internal What the registry holds (tests check that dead owners leave nothing). */
  get counts(): { tables: number; names: number; owners: number } {
    return { tables: this.byId.size, names: this.byName.size, owners: this.byOwner.size };
  }
}

/** @internal The registry's bookkeeping sizes for a runtime (leak checks in tests). */
export const tableBookkeeping = (rt: Runtime): { tables: number; names: number; owners: number } =>
  registries.get(rt)?.counts ?? { tables: 0, names: 0, owners: 0 };

const registries = new WeakMap<Runtime, Registry>();
const registryOf = (rt: Runtime): Registry => {
  let r = registries.get(rt);
  if (r === undefined) registries.set(rt, (r = new Registry(rt)));
  return r;
};

function freeze(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  const proto = Object.getPrototypeOf(v);
  if (Array.isArray(v)) {
    Object.freeze(v);
    for (const x of v) freeze(x);
  } else if (proto === Object.prototype || proto === null) {
    Object.freeze(v);
    for (const k of Object.keys(v)) freeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

type Need = 'read' | 'write' | 'owner';

/** A process's handle on a table (or a process-less reader's). */
export class Table<K = unknown, V = unknown> {
  /** @internal Handles come from Table.create / open / reader and ETS-TRANSFER messages. */
  constructor(
    private readonly reg: Registry,
    private readonly d: TableData,
    private readonly caller: ProcessContext | undefined,
  ) {}

  // ---- making and finding tables -------------------------------------------------

  /** A new table owned by the calling process. */
  static create<K, V>(ctx: ProcessContext, opts: TableOptions = {}): Table<K, V> {
    if (ctx.aborted)
      throw new TableError(
        'create',
        String(opts.name ?? 'new table'),
        `the calling process ${ctx.self} has ended`,
      );
    const reg = registryOf(ctx.runtime);
    return new Table<K, V>(reg, reg.create(ctx.self, opts), ctx);
  }

  /** The calling process's handle on an existing table (by name or id). */
  static open<K, V>(ctx: ProcessContext, table: string | number): Table<K, V> {
    const reg = registryOf(ctx.runtime);
    const d = reg.find(table);
    if (d === undefined)
      throw new TableError(
        'open',
        typeof table === 'string' ? `'${table}'` : `#Tab<${table}>`,
        'no such table',
      );
    return new Table<K, V>(reg, d, ctx);
  }

  /** A read-only handle for code outside any process; only protected and public tables. */
  static reader<K, V>(rt: Runtime, table: string | number): Table<K, V> {
    const reg = registryOf(rt);
    const d = reg.find(table);
    if (d === undefined)
      throw new TableError(
        'reader',
        typeof table === 'string' ? `'${table}'` : `#Tab<${table}>`,
        'no such table',
      );
    return new Table<K, V>(reg, d, undefined);
  }

  /** The id of the table registered under `name`, if any (OTP's ets:whereis). */
  static whereis(rt: Runtime, name: string): number | undefined {
    return registries.get(rt)?.find(name)?.id;
  }

  /** Every table of the runtime (ets:all with ets:info). */
  static all(rt: Runtime): TableInfo[] {
    const reg = registries.get(rt);
    if (reg === undefined) return [];
    return [...reg.byId.values()].filter((d) => reg.find(d.id) !== undefined).map(infoOf);
  }

  // ---- access -------------------------------------------------------------------

  get id(): number {
    return this.d.id;
  }

  get name(): string | undefined {
    return this.d.name;
  }

  /** The rows, checked for `need` by the handle's process. */
  private rows(op: string, need: Need): Map<unknown, unknown> {
    const { d, caller } = this;
    if (caller !== undefined && caller.aborted)
      throw new TableError(op, label(d), `the calling process ${caller.self} has ended`);
    if (caller === undefined || d.owner.id !== caller.self.id) this.reg.settle(d);
    if (d.deleted) throw new TableError(op, label(d), 'the table no longer exists');
    if (caller === undefined) {
      if (need === 'read' && d.access !== 'private') return d.rows;
      throw new TableError(
        op,
        label(d),
        need === 'read'
          ? 'the table is private to its owner'
          : 'a reader outside any process cannot change a table',
      );
    }
    if (d.owner.id === caller.self.id) return d.rows;
    if (need === 'read' ? d.access !== 'private' : need === 'write' && d.access === 'public') return d.rows;
    throw new TableError(
      op,
      label(d),
      `the table is ${d.access} and ${caller.self} is not its owner (${d.owner})`,
    );
  }

  // ---- reads --------------------------------------------------------------------

  lookup(key: K): V | undefined {
    return this.rows('lookup', 'read').get(key) as V | undefined;
  }

  member(key: K): boolean {
    return this.rows('member', 'read').has(key);
  }

  get size(): number {
    return this.rows('size', 'read').size;
  }

  /** The rows whose key and value satisfy `pred` (ets:select / match_object). */
  match(pred: (value: V, key: K) => boolean): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    for (const [k, v] of this.rows('match', 'read') as Map<K, V>) if (pred(v, k)) out.push([k, v]);
    return out;
  }

  /** Every row, in insertion order (ets:tab2list / first-next). */
  entries(): IterableIterator<[K, V]> {
    return (this.rows('entries', 'read') as Map<K, V>).entries();
  }

  /** Owner, heir, access and size: for any process, whatever the access (ets:info). */
  info(): TableInfo {
    this.reg.settle(this.d);
    if (this.d.deleted) throw new TableError('info', label(this.d), 'the table no longer exists');
    return infoOf(this.d);
  }

  // ---- writes -------------------------------------------------------------------

  insert(key: K, value: V): void {
    this.rows('insert', 'write').set(key, freeze(value));
  }

  /** Inserts only if the key is absent; says whether it did (ets:insert_new). */
  insertNew(key: K, value: V): boolean {
    const rows = this.rows('insertNew', 'write');
    if (rows.has(key)) return false;
    rows.set(key, freeze(value));
    return true;
  }

  delete(key: K): boolean {
    return this.rows('delete', 'write').delete(key);
  }

  /** Removes and returns the value (ets:take). */
  take(key: K): V | undefined {
    const rows = this.rows('take', 'write');
    const v = rows.get(key) as V | undefined;
    rows.delete(key);
    return v;
  }

  deleteAll(): void {
    this.rows('deleteAll', 'write').clear();
  }

  /** Deletes the rows that satisfy `pred`; returns how many (ets:select_delete). */
  matchDelete(pred: (value: V, key: K) => boolean): number {
    const rows = this.rows('matchDelete', 'write') as Map<K, V>;
    let n = 0;
    for (const [k, v] of rows) if (pred(v, k)) n += rows.delete(k) ? 1 : 0;
    return n;
  }

  /**
   * Adds `incr` to the number stored at `key` and returns the result (ets:update_counter).
   * A missing key takes `initial` first; without `initial` it is a TableError, as is a
   * value that is not a number.
   */
  updateCounter(key: K, incr: number, initial?: number): number {
    const rows = this.rows('updateCounter', 'write');
    const cur = rows.has(key) ? rows.get(key) : initial;
    if (cur === undefined)
      throw new TableError('updateCounter', label(this.d), `no row ${String(key)} and no initial value`);
    if (typeof cur !== 'number')
      throw new TableError('updateCounter', label(this.d), `the value at ${String(key)} is not a number`);
    const next = cur + incr;
    rows.set(key, next);
    return next;
  }

  // ---- ownership ----------------------------------------------------------------

  /** Makes `pid` the owner now; it receives ETS-TRANSFER with `data` (ets:give_away). */
  giveAway(pid: Pid, data?: unknown): void {
    this.rows('giveAway', 'owner');
    if (pid.id === this.d.owner.id) throw new TableError('giveAway', label(this.d), `${pid} already owns it`);
    if (!this.caller!.runtime.isAlive(pid))
      throw new TableError('giveAway', label(this.d), `${pid} is not alive`);
    this.reg.transfer(this.d, pid, data, true);
  }

  /** @internal giveAway without the message (TableKeeper's claim replies instead). */
  handOver(pid: Pid): void {
    this.rows('handOver', 'owner');
    if (!this.caller!.runtime.isAlive(pid))
      throw new TableError('handOver', label(this.d), `${pid} is not alive`);
    this.reg.transfer(this.d, pid, undefined, false);
  }

  /** Sets (or with `undefined` clears) the heir (ets:setopts heir). */
  setHeir(heir: Pid | undefined, heirData?: unknown): void {
    this.rows('setHeir', 'owner');
    this.d.heir = heir;
    this.d.heirData = heirData;
  }

  /** Deletes the whole table (ets:delete/1). */
  drop(): void {
    this.rows('drop', 'owner');
    this.reg.drop(this.d);
  }
}

const infoOf = (d: TableData): TableInfo => ({
  id: d.id,
  name: d.name,
  owner: d.owner,
  heir: d.heir,
  access: d.access,
  size: d.rows.size,
});
