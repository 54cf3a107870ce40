/**
 * TableKeeper: a gen_server that keeps workers' tables while the workers restart (the
 * OTP pattern of a table manager that is the heir of its worker's table).
 *
 * Contract
 * - Start it as a child of the worker's supervisor, before the worker
 *   (`TableKeeper.childSpec('tables', {name: 'reg_tables'})`); a rest_for_one supervisor
 *   restarts the worker too if the keeper itself dies.
 * - The worker claims its table by name in its init:
 *   `const {table, inherited} = await TableKeeper.claim<K, V>(ctx, 'reg_tables', 'registrations')`.
 *   The first claim creates the table (with `access`, default protected) with the keeper
 *   as heir and hands it to the worker (`inherited: false`). When the worker ends, the
 *   table passes to the keeper (ETS-TRANSFER), rows intact; the restarted worker's claim
 *   gets it back (`inherited: true`). The claim's reply is the notification: the claimant
 *   receives no ETS-TRANSFER message.
 * - A claim for a table owned by another live process fails with a TableError (one owner
 *   at a time); the dead owner's incarnation can no longer touch the table.
 * - The keeper holds tables only between an owner's death and its successor's claim; if
 *   the keeper ends while holding one, the table goes with it.
 * - The tree view shows how many tables a keeper holds (`counters.tablesHeld`): more than
 *   none means a worker has ended and not claimed its table back yet.
 */
import {
  GenServer,
  ok,
  reply,
  noreply,
  unexpected,
  type GenServerBehaviour,
  type StartOptions,
  type StartResult,
} from './gen-server.ts';
import { Table, TableError, isEtsTransfer, type TableAccess } from './table.ts';
import { exposeCounters } from './proc-stats.ts';
import type { ProcessContext } from './process.ts';
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';
import type { ChildSpec } from './child-spec.ts';

interface Claim {
  claim: string;
  pid: Pid;
  access: TableAccess | undefined;
}
type ClaimReply = { type: 'ok'; id: number; inherited: boolean } | { type: 'error'; reason: string };

interface KeeperState {
  ctx: ProcessContext;
}

const Keeper: GenServerBehaviour<KeeperState, void, Claim, never> = {
  name: 'table_keeper',
  init(_args, ctx) {
    exposeCounters(ctx, () => ({
      tablesHeld: Table.all(ctx.runtime).filter((t) => t.owner.id === ctx.self.id).length,
    }));
    return ok({ ctx });
  },
  handleCall(req, _from, s) {
    const { ctx } = s;
    const id = Table.whereis(ctx.runtime, req.claim);
    if (id === undefined) {
      const t = Table.create(ctx, { name: req.claim, access: req.access, heir: ctx.self });
      t.handOver(req.pid);
      return reply<KeeperState, ClaimReply>({ type: 'ok', id: t.id, inherited: false }, s);
    }
    const t = Table.open(ctx, id);
    const owner = t.info().owner;
    if (owner.id === req.pid.id)
      return reply<KeeperState, ClaimReply>({ type: 'ok', id, inherited: false }, s);
    if (owner.id !== ctx.self.id)
      return reply<KeeperState, ClaimReply>(
        { type: 'error', reason: `the table is owned by ${owner}, which is alive` },
        s,
      );
    t.handOver(req.pid);
    ctx.log.info(
      { table: req.claim, owner: String(req.pid) },
      'table_keeper: table handed back to its new owner',
    );
    return reply<KeeperState, ClaimReply>({ type: 'ok', id, inherited: true }, s);
  },
  handleInfo(msg, s, ctx) {
    if (!isEtsTransfer(msg)) return unexpected(msg, s);
    ctx.log.info(
      { table: msg.table.name ?? msg.table.id, from: String(msg.from) },
      'table_keeper: holding the table of an ended owner',
    );
    return noreply(s);
  },
};

export interface ClaimResult<K, V> {
  table: Table<K, V>;
  /** True when the table (and its rows) came from a previous owner. */
  inherited: boolean;
}

/** Claims the named table from `keeper` for the calling process (see the contract). */
async function claim<K, V>(
  ctx: ProcessContext,
  keeper: Pid | string,
  name: string,
  opts: { access?: TableAccess; timeout?: number } = {},
): Promise<ClaimResult<K, V>> {
  const r = await GenServer.call<ClaimReply>(
    ctx.runtime,
    keeper,
    { claim: name, pid: ctx.self, access: opts.access } satisfies Claim,
    opts.timeout,
  );
  if (r.type === 'error') throw new TableError('claim', `'${name}'`, r.reason);
  return { table: Table.open<K, V>(ctx, r.id), inherited: r.inherited };
}

export const TableKeeper = {
  behaviour: Keeper,
  start: (rt: Runtime, opts: StartOptions = {}): Promise<StartResult> =>
    GenServer.start(rt, Keeper, undefined, opts),
  childSpec: (id: string, opts: Omit<ChildSpec, 'id' | 'start'> & { name?: string } = {}): ChildSpec =>
    GenServer.childSpec(id, Keeper, undefined, opts),
  claim,
};
