/**
 * acdc_directory: the account's queues and agents from its database (Kazoo 4.3's
 * acdc_queues_sup / acdc_agents_sup starting one child per queue document and per agent).
 *
 * Contract
 * - Started last under acdc_sup (rest_for_one) when the settings list no queues and no
 *   agents. It follows the account database's change feed (which ends with the process,
 *   however it ends), then reads every document
 *   once (allDocs), so no edit made during the start is missed.
 * - A queue is a document with `pvt_type` queue (its `_id` the queue id; strategy,
 *   agent_ring_timeout, agent_wrapup_time, connection_timeout as in settings.ts). An agent
 *   is a `pvt_type` user with a non-empty `queues` list; it is rung on the devices it owns
 *   (`owner_id`), each as a username endpoint in the account's realm (the account
 *   document's `realm`).
 * - Each sync compares what the documents ask for with the children it started: a new
 *   queue or agent gets its child (startChild on acdc_queues_sup / acdc_agents_sup), a
 *   deleted one (or an agent whose `queues` became empty) is terminated and deleted, a
 *   changed one is restarted with the new settings. A change of a queue, user or device
 *   document (or any deletion) triggers a sync; the change arrives as a message, so every
 *   sync runs inside this process.
 * - A bad queue document is skipped with a warn line naming it; a store error during a
 *   sync is logged and the next change syncs again.
 */
import {
  GenServer,
  Supervisor,
  noreply,
  ok,
  type ChildSpec,
  type GenServerBehaviour,
  type ProcessContext,
} from '../../src/kernel/index.ts';
import { accountDbName, type Change, type DocumentStore } from '../../src/store/index.ts';
import { queueSettings, type QueueSettings } from './settings.ts';

export const AGENTS_SUP = 'acdc_agents_sup';
export const QUEUES_SUP = 'acdc_queues_sup';
export const DIRECTORY = 'acdc_directory';

export interface AgentEntry {
  readonly id: string;
  readonly queues: readonly string[];
  readonly endpoints: readonly Record<string, unknown>[];
}

export interface DirectoryArgs {
  readonly store: DocumentStore;
  readonly accountId: string;
  readonly queueSpec: (q: QueueSettings) => ChildSpec;
  readonly agentSpec: (a: AgentEntry) => ChildSpec;
}

interface State {
  readonly a: DirectoryArgs;
  readonly db: string;
  /** Started children: id -> the settings they were started with (JSON), and their child id. */
  readonly queues: Map<string, { key: string; child: string }>;
  readonly agents: Map<string, { key: string; child: string }>;
}

type Msg = { type: 'doc_changed'; change: Change } | { type: 'resync' };

type Doc = Record<string, unknown>;
const RELEVANT = new Set(['queue', 'user', 'device', 'account']);

/** What the documents ask for. */
function wanted(
  docs: Doc[],
  accountId: string,
  log: ProcessContext['log'],
): { queues: QueueSettings[]; agents: AgentEntry[] } {
  const realm = docs.find((d) => d._id === accountId)?.realm;
  const queues: QueueSettings[] = [];
  for (const d of docs.filter((x) => x.pvt_type === 'queue'))
    try {
      queues.push(queueSettings(d, `queue document ${String(d._id)}`));
    } catch (err) {
      log.warn({ err, doc_id: d._id }, 'acdc directory: bad queue document; skipped');
    }
  const agents = docs
    .filter((d) => d.pvt_type === 'user' && Array.isArray(d.queues) && d.queues.length > 0)
    .map((u) => ({
      id: String(u._id),
      queues: (u.queues as unknown[]).filter((q): q is string => typeof q === 'string'),
      endpoints: docs
        .filter((d) => d.pvt_type === 'device' && d.owner_id === u._id)
        .map((d) => (d.sip as Doc | undefined)?.username)
        .filter((n): n is string => typeof n === 'string' && typeof realm === 'string')
        .map((n) => ({ 'Invite-Format': 'username', 'To-Username': n, 'To-Realm': realm })),
    }));
  return { queues, agents };
}

async function apply<T extends { id: string }>(
  ctx: ProcessContext,
  sup: string,
  running: Map<string, { key: string; child: string }>,
  want: readonly T[],
  spec: (x: T) => ChildSpec,
  what: string,
): Promise<void> {
  const byId = new Map(want.map((x) => [x.id, x]));
  for (const [id, r] of [...running])
    if (byId.get(id) === undefined || JSON.stringify(byId.get(id)) !== r.key) {
      await Supervisor.terminateChild(ctx.runtime, sup, r.child);
      await Supervisor.deleteChild(ctx.runtime, sup, r.child);
      running.delete(id);
      ctx.log.info({ [`${what}_id`]: id }, `acdc directory: ${what} stopped`);
    }
  for (const x of want) {
    if (running.has(x.id)) continue;
    const cs = spec(x);
    const r = await Supervisor.startChild(ctx.runtime, sup, cs);
    if (r.type !== 'ok') {
      ctx.log.error({ [`${what}_id`]: x.id, result: r }, `acdc directory: ${what} did not start`);
      continue;
    }
    running.set(x.id, { key: JSON.stringify(x), child: cs.id });
    ctx.log.info({ [`${what}_id`]: x.id }, `acdc directory: ${what} started`);
  }
}

async function sync(s: State, ctx: ProcessContext): Promise<void> {
  try {
    const rows = (await s.a.store.allDocs(s.db, { includeDocs: true })).rows;
    const docs = rows.map((r) => r.doc).filter((d): d is NonNullable<typeof d> => d != null) as Doc[];
    const w = wanted(docs, s.a.accountId, ctx.log);
    await apply(ctx, QUEUES_SUP, s.queues, w.queues, s.a.queueSpec, 'queue');
    await apply(ctx, AGENTS_SUP, s.agents, w.agents, s.a.agentSpec, 'agent');
  } catch (err) {
    ctx.log.error({ err, db: s.db }, 'acdc directory: sync failed; the next change syncs again');
  }
}

const Directory: GenServerBehaviour<State, DirectoryArgs> = {
  name: DIRECTORY,
  async init(a: DirectoryArgs, ctx: ProcessContext) {
    const db = accountDbName(a.accountId, 'encoded');
    const feed = a.store.follow(db, {
      includeDocs: true,
      onChange: (change) => ctx.send(ctx.self, { type: 'doc_changed', change } satisfies Msg),
      onError: (err) => ctx.log.error({ err, db }, 'acdc directory: change feed failed'),
      onRecover: () => ctx.send(ctx.self, { type: 'resync' } satisfies Msg),
    });
    // However the process ends (a kill skips terminate), its feed ends with it.
    ctx.signal.addEventListener('abort', () => void feed.stop(), { once: true });
    await feed.ready;
    const s: State = { a, db, queues: new Map(), agents: new Map() };
    await sync(s, ctx);
    return ok(s);
  },
  async handleInfo(msg: unknown, s: State, ctx: ProcessContext) {
    const m = msg as Msg;
    if (m.type === 'resync') await sync(s, ctx);
    else if (m.type === 'doc_changed') {
      const t = m.change.doc?.pvt_type;
      if (m.change.deleted || (typeof t === 'string' && RELEVANT.has(t))) await sync(s, ctx);
    }
    return noreply(s);
  },
};

export const directoryChildSpec = (a: DirectoryArgs): ChildSpec =>
  GenServer.childSpec(DIRECTORY, Directory, a, { name: DIRECTORY });
