/**
 * Tables (src/kernel/table.ts, table-keeper.ts), named after the ETS behaviour they check.
 */
import { describe, it, expect } from 'vitest';
import { newRuntime, okPid } from './helpers.ts';
import {
  Table,
  TableError,
  isEtsTransfer,
  tableBookkeeping,
  type EtsTransferMessage,
} from '../../src/kernel/table.ts';
import { TableKeeper } from '../../src/kernel/table-keeper.ts';
import { GenServer, ok, reply, type GenServerBehaviour } from '../../src/kernel/gen-server.ts';
import { Supervisor } from '../../src/kernel/supervisor.ts';
import { describeTree } from '../../src/kernel/tree.ts';
import type { Runtime } from '../../src/kernel/runtime.ts';
import type { ProcessContext } from '../../src/kernel/process.ts';
import type { Pid } from '../../src/kernel/pid.ts';

/** Sends `kill` and waits for the end (exit signals are asynchronous, as in OTP). */
const kill = (rt: Runtime, pid: Pid): Promise<unknown> => {
  const ended = rt.awaitExit(pid);
  rt.exit(pid, 'kill');
  return ended;
};

/** A bare process that keeps what it receives; `next()` waits for the next message. */
function mailbox(rt: Runtime): { pid: Pid; ctx: ProcessContext; next: () => Promise<unknown> } {
  const queue: unknown[] = [];
  const waiters: Array<(m: unknown) => void> = [];
  const pid = rt.spawn((env) => {
    const w = waiters.shift();
    if (w !== undefined) w(env.msg);
    else queue.push(env.msg);
  });
  const next = (): Promise<unknown> =>
    queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r));
  return { pid, ctx: rt.context(pid)!, next };
}

const badarg = (fn: () => unknown, why: RegExp): void => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TableError);
  expect((err as TableError).reason).toBe('badarg');
  expect((err as TableError).message).toMatch(why);
};

describe('ets access modes', () => {
  it('protected (the default): the owner writes, other processes read, their writes are badarg', () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const other = mailbox(rt);
    const t = Table.create<string, number>(owner.ctx, { name: 'prot' });
    t.insert('a', 1);
    const o = Table.open<string, number>(other.ctx, 'prot');
    expect(o.lookup('a')).toBe(1);
    expect(t.info().access).toBe('protected');
    badarg(() => o.insert('b', 2), /protected and .* is not its owner/);
    badarg(() => o.delete('a'), /protected/);
    expect(t.size).toBe(1);
  });

  it('private: only the owner reads or writes', () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const other = mailbox(rt);
    const t = Table.create<string, number>(owner.ctx, { name: 'priv', access: 'private' });
    t.insert('a', 1);
    expect(t.lookup('a')).toBe(1);
    const o = Table.open<string, number>(other.ctx, 'priv');
    badarg(() => o.lookup('a'), /private and .* is not its owner/);
    badarg(() => Table.reader(rt, 'priv').lookup('a'), /private/);
    expect(o.info().size).toBe(1);
  });

  it('public: every process reads and writes, but only the owner gives away, sets the heir or drops', () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const other = mailbox(rt);
    const t = Table.create<string, number>(owner.ctx, { name: 'pub', access: 'public' });
    const o = Table.open<string, number>(other.ctx, 'pub');
    o.insert('b', 2);
    expect(t.lookup('b')).toBe(2);
    badarg(() => o.drop(), /not its owner/);
    badarg(() => o.giveAway(other.pid), /not its owner/);
    badarg(() => o.setHeir(other.pid), /not its owner/);
  });

  it('a reader outside any process reads a protected table and cannot write', () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    Table.create<string, number>(owner.ctx, { name: 'r' }).insert('a', 1);
    const r = Table.reader<string, number>(rt, 'r');
    expect(r.lookup('a')).toBe(1);
    badarg(() => r.insert('a', 2), /outside any process cannot change/);
  });

  it('reads need no mailbox: another process reads while the owner is busy in a handler', async () => {
    const { rt } = newRuntime();
    let release!: () => void;
    let busy!: () => void;
    const isBusy = new Promise<void>((r) => (busy = r));
    const owner = rt.spawn(() => {
      busy();
      return new Promise<void>((r) => (release = r));
    });
    const t = Table.create<string, string>(rt.context(owner)!, { name: 'busy' });
    t.insert('k', 'v');
    rt.send(owner, 'block');
    await isBusy;
    expect(Table.open<string, string>(mailbox(rt).ctx, 'busy').lookup('k')).toBe('v');
    release();
  });

  it('an unknown access mode, an unknown table and a taken name are badarg', () => {
    const { rt } = newRuntime();
    const p = mailbox(rt);
    badarg(() => Table.create(p.ctx, { access: 'open' as never }), /unknown access 'open'/);
    badarg(() => Table.open(p.ctx, 'nope'), /no such table/);
    Table.create(p.ctx, { name: 'taken' });
    badarg(() => Table.create(mailbox(rt).ctx, { name: 'taken' }), /the name is taken/);
  });
});

describe('ets operations on a set', () => {
  it('insert, insert_new, lookup, member, take, delete, delete_all_objects, size, tab2list order', () => {
    const { rt } = newRuntime();
    const t = Table.create<string, number>(mailbox(rt).ctx);
    t.insert('a', 1);
    t.insert('b', 2);
    t.insert('a', 3);
    expect(t.insertNew('b', 9)).toBe(false);
    expect(t.insertNew('c', 4)).toBe(true);
    expect([...t.entries()]).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 4],
    ]);
    expect(t.member('b')).toBe(true);
    expect(t.take('b')).toBe(2);
    expect(t.member('b')).toBe(false);
    expect(t.delete('a')).toBe(true);
    expect(t.delete('a')).toBe(false);
    expect(t.size).toBe(1);
    t.deleteAll();
    expect(t.size).toBe(0);
    expect(t.lookup('c')).toBeUndefined();
  });

  it('select and select_delete by predicate', () => {
    const { rt } = newRuntime();
    const t = Table.create<string, { realm: string }>(mailbox(rt).ctx);
    t.insert('u1', { realm: 'a.example' });
    t.insert('u2', { realm: 'b.example' });
    t.insert('u3', { realm: 'a.example' });
    expect(t.match((v) => v.realm === 'a.example').map(([k]) => k)).toEqual(['u1', 'u3']);
    expect(t.matchDelete((_v, k) => k !== 'u2')).toBe(2);
    expect([...t.entries()].map(([k]) => k)).toEqual(['u2']);
  });

  it('update_counter adds to a number, takes a default for a missing key, refuses a missing key without one or a non-number', () => {
    const { rt } = newRuntime();
    const t = Table.create<string, unknown>(mailbox(rt).ctx);
    expect(t.updateCounter('n', 1, 0)).toBe(1);
    expect(t.updateCounter('n', 5)).toBe(6);
    expect(t.updateCounter('n', -2)).toBe(4);
    badarg(() => t.updateCounter('missing', 1), /no row missing and no initial value/);
    t.insert('s', 'text');
    badarg(() => t.updateCounter('s', 1), /not a number/);
  });

  it('a stored value changes only through the table (ETS copies; Fife freezes)', () => {
    const { rt } = newRuntime();
    const t = Table.create<string, { contact: string; tags: string[] }>(mailbox(rt).ctx);
    const v = { contact: 'sip:a@1.2.3.4', tags: ['x'] };
    t.insert('a', v);
    expect(() => {
      v.contact = 'sip:evil@6.6.6.6';
    }).toThrow(TypeError);
    expect(() => t.lookup('a')!.tags.push('y')).toThrow(TypeError);
    expect(t.lookup('a')).toEqual({ contact: 'sip:a@1.2.3.4', tags: ['x'] });
  });
});

describe('ets owner death, heir and give_away', () => {
  it('without an heir the table is deleted with its owner and nothing is left', async () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const other = mailbox(rt);
    Table.create(owner.ctx, { name: 'gone' }).insert('a', 1);
    const o = Table.open(other.ctx, 'gone');
    for (let i = 0; i < 50; i++) Table.create(mailbox(rt).ctx).insert(i, i);
    const before = Table.all(rt).length;
    expect(before).toBe(51);
    await Promise.all(
      rt
        .processes()
        .filter((pid) => pid.id !== other.pid.id)
        .map((pid) => kill(rt, pid)),
    );
    expect(Table.whereis(rt, 'gone')).toBeUndefined();
    expect(Table.all(rt)).toEqual([]);
    expect(tableBookkeeping(rt)).toEqual({ tables: 0, names: 0, owners: 0 });
    badarg(() => o.lookup('a'), /no longer exists/);
    // the name is free again
    expect(() => Table.create(other.ctx, { name: 'gone' })).not.toThrow();
  });

  it('the heir inherits the table with its rows and receives ETS-TRANSFER {table, from, heirData}', async () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const heir = mailbox(rt);
    const t = Table.create<string, number>(owner.ctx, {
      name: 'inherit',
      heir: heir.pid,
      heirData: { why: 'test' },
    });
    t.insert('a', 1);
    await kill(rt, owner.pid);
    const m = (await heir.next()) as EtsTransferMessage<string, number>;
    expect(isEtsTransfer(m)).toBe(true);
    expect(m.from).toBe(owner.pid);
    expect(m.heirData).toEqual({ why: 'test' });
    expect(m.table.info().owner).toBe(heir.pid);
    expect(m.table.lookup('a')).toBe(1);
    m.table.insert('b', 2);
    expect(Table.open(mailbox(rt).ctx, 'inherit').size).toBe(2);
    await kill(rt, heir.pid);
    expect(tableBookkeeping(rt)).toEqual({ tables: 0, names: 0, owners: 0 });
  });

  it('an heir that is no longer alive does not inherit: the table is deleted', async () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const heir = mailbox(rt);
    Table.create(owner.ctx, { name: 'orphan', heir: heir.pid });
    await kill(rt, heir.pid);
    await kill(rt, owner.pid);
    expect(Table.whereis(rt, 'orphan')).toBeUndefined();
  });

  it('give_away makes another process the owner and sends it ETS-TRANSFER with the gift data', async () => {
    const { rt } = newRuntime();
    const a = mailbox(rt);
    const b = mailbox(rt);
    const t = Table.create<string, number>(a.ctx, { name: 'gift' });
    t.insert('a', 1);
    badarg(() => t.giveAway(a.pid), /already owns it/);
    t.giveAway(b.pid, 'here');
    const m = (await b.next()) as EtsTransferMessage<string, number>;
    expect(m).toMatchObject({ type: 'ETS-TRANSFER', from: a.pid, heirData: 'here' });
    m.table.insert('b', 2);
    badarg(() => t.insert('c', 3), /is not its owner/);
    expect(t.lookup('b')).toBe(2);
    const dead = mailbox(rt);
    await kill(rt, dead.pid);
    badarg(() => m.table.giveAway(dead.pid), /is not alive/);
  });

  it('a dead incarnation cannot read or write any more, even when the table lives on with its heir', async () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const heir = mailbox(rt);
    const kept = Table.create<string, number>(owner.ctx, { name: 'kept', heir: heir.pid });
    kept.insert('a', 1);
    await kill(rt, owner.pid);
    badarg(() => kept.insert('a', 99), /has ended/);
    badarg(() => kept.lookup('a'), /has ended/);
    const m = (await heir.next()) as EtsTransferMessage<string, number>;
    expect(m.table.lookup('a')).toBe(1);
  });

  it('a table whose owner has ended is settled when next touched, before its exit is handled', async () => {
    const { rt } = newRuntime();
    const owner = mailbox(rt);
    const reader = mailbox(rt);
    Table.create(owner.ctx, { name: 'late' }).insert('a', 1);
    const outside = Table.reader(rt, 'late');
    // the exit listener is the registry's own; remove it to look at the lazy path alone
    rt.events.removeAllListeners('exit');
    await kill(rt, owner.pid);
    badarg(() => outside.lookup('a'), /no longer exists/);
    badarg(() => Table.open(reader.ctx, 'late'), /no such table/);
    expect(Table.all(rt)).toEqual([]);
  });
});

interface CounterState {
  table: ReturnType<typeof Table.create<string, number>>;
  inherited: boolean;
}
type CounterCall = 'incr' | 'get' | 'inherited' | 'handle';

/** A worker that keeps its count in a table its keeper holds across restarts. */
const Counter: GenServerBehaviour<CounterState, void, CounterCall> = {
  name: 'counter',
  async init(_args, ctx) {
    const { table, inherited } = await TableKeeper.claim<string, number>(ctx, 'keeper', 'counts');
    return ok({ table, inherited });
  },
  handleCall(req, _from, s) {
    switch (req) {
      case 'incr':
        return reply(s.table.updateCounter('n', 1, 0), s);
      case 'get':
        return reply(s.table.lookup('n'), s);
      case 'inherited':
        return reply(s.inherited, s);
      case 'handle':
        return reply(s.table, s);
    }
  },
};

describe('TableKeeper: a worker under a supervisor keeps its table across a crash', () => {
  it('the restarted worker claims its named table back from the keeper, rows intact, and the dead one cannot write', async () => {
    const { rt } = newRuntime();
    const sup = okPid(
      await Supervisor.start(rt, {
        flags: { strategy: 'rest_for_one', intensity: 5 },
        children: [
          TableKeeper.childSpec('keeper', { name: 'keeper' }),
          GenServer.childSpec('counter', Counter, undefined, { name: 'counter' }),
        ],
      }),
    );
    expect(await GenServer.call(rt, 'counter', 'inherited')).toBe(false);
    await GenServer.call(rt, 'counter', 'incr');
    expect(await GenServer.call(rt, 'counter', 'incr')).toBe(2);
    const oldHandle = await GenServer.call<CounterState['table']>(rt, 'counter', 'handle');
    const first = rt.whereis('counter')!;

    const restarted = rt.events.waitFor(
      'supervisor',
      (e) => e.supervisor.id === sup.id && e.kind === 'child_restarted' && e.childId === 'counter',
    );
    rt.crash(first, 'boom');
    await restarted;

    // the table is found by name, and belongs to the new incarnation
    const id = Table.whereis(rt, 'counts');
    expect(id).toBe(oldHandle.id);
    expect(Table.reader(rt, 'counts').info().owner).toBe(rt.whereis('counter'));
    expect(await GenServer.call(rt, 'counter', 'inherited')).toBe(true);
    expect(await GenServer.call(rt, 'counter', 'get')).toBe(2);
    expect(await GenServer.call(rt, 'counter', 'incr')).toBe(3);
    badarg(() => oldHandle.insert('n', 100), /has ended/);
    expect(await GenServer.call(rt, 'counter', 'get')).toBe(3);
  });

  it('a claim for a table another live process owns is refused', async () => {
    const { rt } = newRuntime();
    okPid(await TableKeeper.start(rt, { name: 'keeper' }));
    const a = mailbox(rt);
    const b = mailbox(rt);
    const { table, inherited } = await TableKeeper.claim(a.ctx, 'keeper', 'solo');
    expect(inherited).toBe(false);
    expect(table.info().owner).toBe(a.pid);
    await expect(TableKeeper.claim(b.ctx, 'keeper', 'solo')).rejects.toThrow(/owned by .*which is alive/);
    expect(describeTree(rt, 'keeper')?.counters).toEqual({ tablesHeld: 0 });
  });

  it('the keeper holds the table of an ended owner (shown in the tree view) until the next claim', async () => {
    const { rt } = newRuntime();
    okPid(await TableKeeper.start(rt, { name: 'keeper' }));
    const a = mailbox(rt);
    (await TableKeeper.claim<string, number>(a.ctx, 'keeper', 'held')).table.insert('x', 1);
    await kill(rt, a.pid);
    expect(Table.reader(rt, 'held').info().owner).toBe(rt.whereis('keeper'));
    expect(describeTree(rt, 'keeper')?.counters).toEqual({ tablesHeld: 1 });
    const b = mailbox(rt);
    const { table, inherited } = await TableKeeper.claim<string, number>(b.ctx, 'keeper', 'held');
    expect(inherited).toBe(true);
    expect(table.lookup('x')).toBe(1);
    expect(describeTree(rt, 'keeper')?.counters).toEqual({ tablesHeld: 0 });
  });
});
