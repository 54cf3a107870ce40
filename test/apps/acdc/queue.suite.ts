/**
 * ACDC behaviour, run on the embedded bus (queue.test.ts) and RabbitMQ
 * (queue.rabbitmq.test.ts): one queue, agents a, b, c with simulated phones, callers as
 * member_call messages on the queue's durable shared queue.
 */
import { afterEach, expect, it } from 'vitest';
import { GenServer, samePid } from '../../../src/kernel/index.ts';
import { acdcSharedQueue, memberConnectReqKey, type Envelope } from '../../../src/api/index.ts';
import { acdcSend } from '../../../apps/acdc/send.ts';
import { fsmName } from '../../../apps/acdc/worker.ts';
import { agentName } from '../../../apps/acdc/agent.ts';
import { GenListener } from '../../../src/bus/gen-listener.ts';
import { managerName } from '../../../apps/acdc/manager.ts';
import { AGENTS, QUEUE, type AcdcHarness, type QueueOpts } from './harness.ts';
import { ACDC_SUP } from '../../../supervisors/acdc.sup.ts';

type Start = (q?: QueueOpts) => Promise<AcdcHarness>;

/** Sends callers one after the other, each once the previous one was taken; the winners in order. */
async function oneByOne(h: AcdcHarness, n: number): Promise<string[]> {
  const winners: string[] = [];
  for (let i = 0; i < n; i++) {
    const [callId] = await h.callers(1);
    await h.until(`caller ${callId} taken`, () => h.successes.has(callId!));
    winners.push(h.successes.get(callId!)![0]!);
    await h.until('every agent ready again', async () =>
      (await Promise.all(AGENTS.map(h.status))).every((s) => s.status === 'ready'),
    );
  }
  return winners;
}

/** `embedded`: on the embedded bus, where both claims of a same-instant race reach each
 *  process in one delivery (on RabbitMQ they may come in two reads from the broker). */
export function acdcSuite(start: Start, opts: { embedded?: boolean } = {}): void {
  let h: AcdcHarness | undefined;
  const open = async (q?: QueueOpts) => (h = await start(q));
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('twenty callers, three agents, round robin: each caller taken once, the agents in turn', async () => {
    const h = await open({ strategy: 'round_robin' });
    await h.loginAll();
    const winners = await oneByOne(h, 20);
    expect(new Set(winners.slice(0, 3)).size).toBe(3);
    for (let i = 3; i < 20; i++) expect(winners[i]).toBe(winners[i - 3]);
    const counts = AGENTS.map((a) => winners.filter((w) => w === a).length).sort();
    expect(counts).toEqual([6, 7, 7]);
    expect([...h.successes.values()].every((agents) => agents.length === 1)).toBe(true);
    expect(h.phones.rings).toHaveLength(20);
    expect((await h.bus.checkQueue(acdcSharedQueue(h.env.accountId, QUEUE))).messageCount).toBe(0);
  });

  it('twenty callers at once with two workers: every caller answered by exactly one agent', async () => {
    const h = await open({ workers: 2 });
    await h.loginAll();
    const ids = await h.callers(20);
    await h.until('all twenty taken', () => ids.every((id) => h.successes.has(id)));
    for (const id of ids) expect(h.successes.get(id)).toHaveLength(1);
    const calls = (await Promise.all(AGENTS.map(h.status))).map((s) => s.calls);
    expect(calls.reduce((x, y) => x + y, 0)).toBe(20);
    expect(new Set(h.phones.rings.map((r) => r.callId)).size).toBe(20);
  });

  it('most idle: the agent available the longest takes the caller', async () => {
    const h = await open({ strategy: 'most_idle' });
    await h.loginAll();
    // a was first, but a pause and resume makes it the most recently available.
    await h.action('a', 'pause');
    await h.until('a paused', async () => (await h.managerView()).agents.a === 'unavailable');
    await h.action('a', 'resume');
    await h.until('a back', async () => (await h.managerView()).agents.a === 'available');
    // Each call's end makes its agent the least idle: b, c, a, then again b, c, a.
    expect(await oneByOne(h, 6)).toEqual(['b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('an agent who lets it ring is skipped, paused after N misses, visibly, and can log in again (kazoo #6608)', async () => {
    const h = await open({ maxMisses: 2 });
    h.phones.mode('a', 'ignore');
    await h.loginAll();
    const ids = await h.callers(6);
    await h.until('six callers taken', () => ids.every((id) => h.successes.has(id)));
    for (const id of ids) expect(h.successes.get(id)).toHaveLength(1);
    expect([...h.successes.values()].flat()).not.toContain('a');
    expect(h.phones.rings.filter((r) => r.agentId === 'a')).toHaveLength(2);
    expect(await h.status('a')).toMatchObject({ status: 'paused', misses: 2 });
    expect((await h.managerView()).agents.a).toBe('unavailable');
    expect(h.lines.some((l) => l.agent_id === 'a' && String(l.msg).includes('too many missed calls'))).toBe(
      true,
    );
    h.phones.mode('a', 'answer');
    await h.action('a', 'login');
    await h.until('a ready again', async () => (await h.status('a')).status === 'ready');
    expect((await h.status('a')).misses).toBe(0);
    expect(await oneByOne(h, 3)).toContain('a');
  });

  it('a late answer of an earlier call does not knock an agent out of its state (kazoo #2689)', async () => {
    const h = await open({ ringTimeout: 2, maxMisses: 5, workers: 2 });
    for (const a of AGENTS) h.phones.mode(a, 'manual');
    for (const a of ['a', 'b']) {
      await h.action(a, 'login');
      await h.until(`${a} available`, async () => (await h.managerView()).agents[a] === 'available');
    }
    // Caller x rings p, who lets it ring out; x goes to q. Caller y then rings p.
    const [x] = await h.callers(1);
    await h.until('x rang a second agent', () => h.phones.rings.length >= 2);
    const [p, q] = h.phones.rings.map((r) => r.agentId) as [string, string];
    const [y] = await h.callers(1);
    await h.until(`${p} rings for y`, () => h.phones.rings.some((r) => r.callId === y && r.agentId === p));
    // p's phone now answers x, long after the ring timeout: p stays ringing for y.
    h.phones.answerLate(x!, p);
    await h.until('the late answer seen', () =>
      h.lines.some((l) => l.call_id === x && l.agent_id === p && String(l.msg).includes('late')),
    );
    expect(await h.status(p)).toMatchObject({ status: 'ringing', callId: y, calls: 0 });
    h.phones.answerLate(y!, p);
    h.phones.answerLate(x!, q);
    await h.until('both callers taken', () => h.successes.has(x!) && h.successes.has(y!));
    expect(h.successes.get(x!)).toEqual([q]);
    expect(h.successes.get(y!)).toEqual([p]);
  });

  it('pausing while ringing stops the ringing and the caller goes to another agent (kazoo #6578)', async () => {
    const h = await open({ ringTimeout: 5 });
    for (const a of AGENTS) h.phones.mode(a, 'manual');
    await h.loginAll();
    const [callId] = await h.callers(1);
    await h.until('the caller rings an agent', () => h.phones.rings.length === 1);
    const p = h.phones.rings[0]!.agentId;
    await h.action(p, 'pause');
    await h.until('the caller rings another agent', () => h.phones.rings.length === 2);
    const q = h.phones.rings[1]!.agentId;
    expect(q).not.toBe(p);
    expect(await h.status(p)).toMatchObject({ status: 'paused', misses: 0 });
    h.phones.answerLate(callId!, q);
    await h.until('the caller taken', () => h.successes.has(callId!));
    expect(h.successes.get(callId!)).toEqual([q]);
    expect(await h.status(p)).toMatchObject({ status: 'paused', calls: 0 });
  });

  it("an agent process hears no other agent's state changes (only its own agent's, on its own key)", async () => {
    const h = await open();
    await h.loginAll();
    await h.until('every agent ready', async () =>
      (await Promise.all(AGENTS.map(h.status))).every((s) => s.status === 'ready'),
    );
    const received = async () =>
      ((await GenListener.counters(h.rt, agentName('a'))) as { received: number }).received;
    // A marker agent a answers: published after b's changes on the same connection, so
    // anything of b's bound to a's queue is there before it.
    const replies = await h.bus.assertQueue('', { exclusive: true, autoDelete: true });
    await h.bus.bindQueue(replies, 'targeted', replies);
    let answered = false;
    await h.bus.consume(replies, (d) => {
      const m = JSON.parse(d.body.toString()) as Record<string, unknown>;
      if (m['Event-Name'] === 'stats_resp') answered = true;
    });
    const before = await received();
    await h.action('b', 'pause');
    await h.until('b paused', async () => (await h.status('b')).status === 'paused');
    await h.action('b', 'resume');
    await h.until('b ready', async () => (await h.status('b')).status === 'ready');
    await acdcSend(h.env, 'agent_stats_req', {
      'Account-ID': h.env.accountId,
      'Agent-ID': 'a',
      'Server-ID': replies,
    });
    await h.until('a answered the marker', () => answered);
    expect((await received()) - before).toBe(1);
  });

  it("a worker hears only its own caller's results, not those of other callers", async () => {
    const h = await open({ workers: 2 });
    const [held] = await h.callers(1);
    await h.until('the caller taken', () =>
      h.lines.some((l) => l.msg === 'acdc queue: caller taken' && l.call_id === held),
    );
    const fsms = [fsmName(QUEUE, 0), fsmName(QUEUE, 1)];
    const received = () =>
      Promise.all(
        fsms.map(async (f) => ((await GenListener.counters(h.rt, f)) as { received: number }).received),
      );
    const before = await received();
    for (const other of ['x1', 'x2', 'x3'])
      await acdcSend(h.env, 'member_call_cancel', {
        'Account-ID': h.env.accountId,
        'Queue-ID': QUEUE,
        'Call-ID': other,
        Reason: 'hangup',
      });
    // The held caller's own cancel comes last (same connection): the marker.
    await acdcSend(h.env, 'member_call_cancel', {
      'Account-ID': h.env.accountId,
      'Queue-ID': QUEUE,
      'Call-ID': held,
      Reason: 'hangup',
    });
    await h.until('the held caller cancelled', () =>
      h.lines.some(
        (l) => l.msg === 'acdc queue: caller done' && l.call_id === held && l.outcome === 'cancelled',
      ),
    );
    const after = await received();
    expect(after.map((n, i) => n - before[i]!).sort()).toEqual([0, 1]);
  });

  it('a caller who hangs up, held by a worker or still in the shared queue, is never offered', async () => {
    const h = await open();
    const [held, queued] = await h.callers(2);
    const shared = acdcSharedQueue(h.env.accountId, QUEUE);
    await h.until('one held, one queued', async () => (await h.bus.checkQueue(shared)).messageCount === 1);
    for (const callId of [queued!, held!])
      await acdcSend(h.env, 'member_call_cancel', {
        'Account-ID': h.env.accountId,
        'Queue-ID': QUEUE,
        'Call-ID': callId,
        Reason: 'hangup',
      });
    await h.until(
      'both gone from the shared queue',
      async () => (await h.bus.checkQueue(shared)).messageCount === 0,
    );
    const [later] = await h.callers(1);
    await h.loginAll();
    await h.until('the later caller taken', () => h.successes.has(later!));
    expect(h.phones.rings.map((r) => r.callId)).toEqual([later]);
    expect([...h.successes.keys()]).toEqual([later]);
  });

  it('a restarted queue manager counts only the agents that say they are ready (kazoo #6688)', async () => {
    const h = await open();
    await h.loginAll();
    await h.action('b', 'pause');
    await h.action('c', 'logout');
    await h.until('b and c out', async () => {
      const v = (await h.managerView()).agents;
      return v.b === 'unavailable' && v.c === 'unavailable';
    });
    const old = h.rt.whereis(managerName(QUEUE))!;
    h.rt.exit(old, 'kill');
    await h.until('a new manager that heard from all three agents', async () => {
      const p = h.rt.whereis(managerName(QUEUE));
      if (p === undefined || samePid(p, old)) return false;
      return Object.keys((await h.managerView().catch(() => ({ agents: {} }))).agents).length === 3;
    });
    expect((await h.managerView()).agents).toEqual({ a: 'available', b: 'unavailable', c: 'unavailable' });
    const ids = await h.callers(3);
    await h.until('three callers taken', () => ids.every((id) => h.successes.has(id)));
    expect([...h.successes.values()].flat()).toEqual(['a', 'a', 'a']);
    expect(new Set(h.phones.rings.map((r) => r.agentId))).toEqual(new Set(['a']));
  });

  it("a killed worker's caller goes back to the shared queue and is served once", async () => {
    const h = await open();
    const shared = acdcSharedQueue(h.env.accountId, QUEUE);
    const [callId] = await h.callers(1);
    const taken = (redelivered: boolean) => () =>
      h.lines.some(
        (l) => l.msg === 'acdc queue: caller taken' && l.call_id === callId && l.redelivered === redelivered,
      );
    await h.until('the worker holds the caller (unacked)', taken(false));
    const old = h.rt.whereis(fsmName(QUEUE, 0))!;
    h.rt.exit(old, 'kill');
    await h.until('a new worker', () => {
      const p = h.rt.whereis(fsmName(QUEUE, 0));
      return p !== undefined && !samePid(p, old);
    });
    await h.until('the caller back with the new worker, marked redelivered', taken(true));
    await h.loginAll();
    await h.until('the caller taken', () => h.successes.has(callId!));
    expect(h.successes.get(callId!)).toHaveLength(1);
    expect(h.phones.rings.filter((r) => r.callId === callId)).toHaveLength(1);
    expect((await h.bus.checkQueue(shared)).messageCount).toBe(0);
  });

  it('one agent for ten waiting workers: one offer per free agent at a time, no win refused (up_next)', async () => {
    const h = await open({ workers: 10 });
    const reqs: string[] = [];
    const spy = await h.bus.assertQueue('', { exclusive: true, autoDelete: true });
    await h.bus.bindQueue(spy, 'kapps', memberConnectReqKey(h.env.accountId, QUEUE));
    await h.bus.consume(spy, (d) => void reqs.push(String(JSON.parse(d.body.toString())['Call-ID'])));
    const ids = await h.callers(10);
    const taken = () => h.lines.filter((l) => l.msg === 'acdc queue: caller taken').length;
    await h.until('each worker holding a caller', () => taken() === 10);
    // Every worker waits; one agent becoming available must start one offer, not ten
    // (ten member_connect_req, ten wins for that agent, nine refused and offered again).
    await h.action('a', 'login');
    await h.until('all ten taken by a', () => ids.every((id) => h.successes.has(id)));
    expect(h.lines.filter((l) => String(l.msg).startsWith('acdc agent: win while not ready'))).toEqual([]);
    expect(reqs.sort()).toEqual([...ids].sort());
  });

  it("an agent's processes on two nodes keep one state: a new node syncs at start, each follows the other's calls", async () => {
    const h = await open({ ringTimeout: 5, workers: 2 });
    await h.loginAll();
    await h.action('b', 'pause');
    await h.until('b paused', async () => (await h.status('b')).status === 'paused');
    const p = await h.peer();
    // No action reached the new node's agents: they ask their peers (agent_sync_req).
    await h.until('the new node synced', async () =>
      (await Promise.all(AGENTS.map(p.status))).every((v) => v.status !== 'logged_out'),
    );
    expect((await Promise.all(AGENTS.map(p.status))).map((v) => v.status)).toEqual([
      'ready',
      'paused',
      'ready',
    ]);
    for (const a of AGENTS) {
      h.phones.mode(a, 'manual');
      p.phones.mode(a, 'manual');
    }
    const [callId] = await h.callers(1);
    const rings = () => [...h.phones.rings, ...p.phones.rings];
    await h.until('an agent rung on one node', () => rings().length === 1);
    const x = rings()[0]!.agentId;
    const both = async (agent: string, status: string) =>
      (await h.status(agent)).status === status && (await p.status(agent)).status === status;
    await h.until(`${x} ringing on both nodes`, () => both(x, 'ringing'));
    const owner = h.phones.rings.length === 1 ? h.phones : p.phones;
    owner.answerLate(callId!, x);
    await h.until('the caller taken', () => h.successes.has(callId!));
    await h.until(`${x} ready again on both nodes`, () => both(x, 'ready'));
    expect(h.successes.get(callId!)).toEqual([x]);
    expect(rings()).toHaveLength(1);
    await h.action('a', 'logout');
    await h.until('a logged out on both nodes', () => both('a', 'logged_out'));
  });

  it('callers are offered by Member-Priority, higher first, then in order of arrival', async () => {
    const h = await open();
    const shared = acdcSharedQueue(h.env.accountId, QUEUE);
    const [first] = await h.callers(1, 'first', 0); // taken by the worker at once
    await h.until('the first caller held', () =>
      h.lines.some((l) => l.msg === 'acdc queue: caller taken' && l.call_id === first),
    );
    const [low1] = await h.callers(1, 'low', 0);
    const [high1] = await h.callers(1, 'high', 5);
    const [mid] = await h.callers(1, 'mid', 2);
    const [high2] = await h.callers(1, 'high', 5);
    const [low2] = await h.callers(1, 'low');
    await h.until('five callers wait', async () => (await h.bus.checkQueue(shared)).messageCount === 5);
    await h.action('a', 'login');
    await h.until('all six taken', () => h.successes.size === 6);
    expect(h.phones.rings.map((r) => r.callId)).toEqual([first, high1, high2, mid, low1, low2]);
  });

  it('login_queue / logout_queue: an agent takes the callers of the queues it is logged in to only', async () => {
    const h = await open({ alsoQueues: ['support'] });
    const view = (queueId: string) =>
      GenServer.call(h.rt, managerName(queueId), { op: 'view' }) as Promise<{
        agents: Record<string, string>;
      }>;
    await h.action('a', 'login_queue', { 'Queue-ID': 'support' });
    await h.until('a available in support', async () => (await view('support')).agents.a === 'available');
    expect(await h.status('a')).toMatchObject({ status: 'ready', loggedInQueues: ['support'] });
    expect((await view(QUEUE)).agents.a).toBeUndefined(); // never said anything to sales
    const [caller] = await h.callers(1); // a sales caller: a is not offered it
    await h.until('the caller taken by a worker', () =>
      h.lines.some((l) => l.msg === 'acdc queue: caller taken' && l.call_id === caller),
    );
    await h.action('a', 'login_queue', { 'Queue-ID': QUEUE });
    await h.until('a takes the sales caller', () => h.successes.has(caller!));
    expect(h.successes.get(caller!)).toEqual(['a']);
    expect(h.phones.rings.map((r) => r.callId)).toEqual([caller]);
    await h.until('a ready again', async () => (await h.status('a')).status === 'ready');
    await h.action('a', 'logout_queue', { 'Queue-ID': 'support' });
    await h.until('a logged out of support', async () => (await view('support')).agents.a === 'unavailable');
    expect(await h.status('a')).toMatchObject({ status: 'ready', loggedInQueues: [QUEUE] });
    expect((await view(QUEUE)).agents.a).toBe('available');
    await h.action('a', 'logout_queue', { 'Queue-ID': QUEUE }); // its last queue: logged out
    await h.until('a logged out', async () => (await h.status('a')).status === 'logged_out');
    expect((await h.status('a')).loggedInQueues).toEqual([]);
  });

  it('two wins for one agent in the same instant, one to its process on each node: it rings for one caller, the other is handed back', async () => {
    // Ring-Timeout 30 s: no miss hands a caller back while the test waits (10 s at most).
    const h = await open({ ringTimeout: 30, maxMisses: 100 });
    const p = await h.peer();
    await h.action('a', 'login');
    const both = async (status: string) =>
      (await h.status('a')).status === status && (await p.status('a')).status === status;
    await h.until('a ready on both nodes', () => both('ready'));
    h.phones.mode('a', 'manual');
    p.phones.mode('a', 'manual');
    // The test stands in for two queue workers, one per node, that picked a at once.
    const worker = await h.bus.assertQueue('', { exclusive: true, autoDelete: true });
    await h.bus.bindQueue(worker, 'targeted', worker);
    const got: Envelope[] = [];
    await h.bus.consume(worker, (d) => void got.push(JSON.parse(d.body.toString()) as Envelope));
    const req = { 'Account-ID': h.env.accountId, 'Queue-ID': QUEUE, 'Server-ID': worker };
    await acdcSend(h.env, 'member_connect_req', { ...req, 'Call-ID': 'x' });
    const resps = () => got.filter((m) => m['Event-Name'] === 'connect_resp');
    await h.until("a's processes on both nodes answer", () => resps().length === 2);
    const procs = resps().map((m) => String(m['Process-ID']));
    expect(new Set(procs).size).toBe(2);
    const callers = ['caller-1', 'caller-2'];
    await Promise.all(
      procs.map((proc, i) =>
        acdcSend(
          h.env,
          'member_connect_win',
          {
            'Queue-ID': QUEUE,
            Call: { 'Call-ID': callers[i] },
            'Agent-ID': 'a',
            'Process-ID': worker,
            'Ring-Timeout': 30,
          },
          proc,
        ),
      ),
    );
    const retried = () => got.filter((m) => m['Event-Name'] === 'connect_retry').map((m) => m['Call-ID']);
    await h.until('one of the two callers handed back', () => retried().length > 0);
    const ringing = () =>
      [...h.phones.rings, ...p.phones.rings].filter(
        (r) => ![...h.phones.stops, ...p.phones.stops].some((x) => x.callId === r.callId),
      );
    await h.until('the agent rung for the other caller', () => ringing().length > 0);
    expect(retried()).toHaveLength(1);
    const kept = callers.find((c) => c !== retried()[0])!;
    expect(ringing()).toEqual([{ agentId: 'a', callId: kept }]);
    // Both claims in one delivery: the process that yields hears the other's claim before
    // it rings, and the device rings once. (Across two reads from RabbitMQ the one that
    // yields may have rung already: it stops that ring at once, as checked above.)
    if (opts.embedded === true)
      expect([...h.phones.rings, ...p.phones.rings]).toEqual([{ agentId: 'a', callId: kept }]);
    await h.until('a ringing on both nodes', () => both('ringing'));
    const owner = h.phones.rings.some((r) => r.callId === kept) ? h.phones : p.phones;
    owner.answerLate(kept, 'a');
    await h.until('the kept caller accepted', () =>
      got.some((m) => m['Event-Name'] === 'connect_accepted' && m['Call-ID'] === kept),
    );
    await h.until('a ready again on both nodes', () => both('ready'));
    expect(retried()).toHaveLength(1);
    expect(ringing()).toEqual([{ agentId: 'a', callId: kept }]);
    expect((await h.status('a')).misses + (await p.status('a')).misses).toBe(0);
  });

  it("a node that dies while its copy of the agent rings: the peer's copy is ready again after the ring timeout", async () => {
    const h = await open({ ringTimeout: 2, maxMisses: 100 });
    const p = await h.peer();
    await h.action('a', 'login');
    const both = async (status: string) =>
      (await h.status('a')).status === status && (await p.status('a')).status === status;
    await h.until('a ready on both nodes', () => both('ready'));
    h.phones.mode('a', 'manual'); // a ring lasts until its node dies
    p.phones.mode('a', 'manual');
    const [callId] = await h.callers(1);
    await h.until('a rung on one node', () => h.phones.rings.length + p.phones.rings.length > 0);
    // The node whose copy of a rings dies at once, without a word; the other one survives.
    const [dying, survivor] =
      p.phones.rings.length > 0 ? [p.rt, { status: h.status, phones: h.phones }] : [h.rt, p];
    await h.until(
      "the survivor's copy follows the ring",
      async () => (await survivor.status('a')).status === 'ringing',
    );
    survivor.phones.mode('a', 'answer');
    dying.exit(dying.whereis(ACDC_SUP)!, 'kill');
    await h.until('the caller taken by a on the surviving node', () => h.successes.has(callId!));
    expect(h.successes.get(callId!)).toEqual(['a']);
    expect(survivor.phones.rings.map((r) => r.callId)).toEqual([callId]);
    expect(
      h.lines.some(
        (l) => l.msg === "acdc agent: a peer's ringing never ended; ready again" && l.agent_id === 'a',
      ),
    ).toBe(true);
  });

  it("a node that dies while its copy of the agent is in wrapup: the peer's copy is ready again after the wrapup time", async () => {
    const h = await open({ wrapup: 2 });
    const p = await h.peer();
    await h.action('a', 'login');
    const both = async (status: string) =>
      (await h.status('a')).status === status && (await p.status('a')).status === status;
    await h.until('a ready on both nodes', () => both('ready'));
    const [callId] = await h.callers(1);
    // The call ends at once (phones answer and end), then wrapup for 2 s.
    await h.until('a in wrapup on both nodes', () => both('wrapup'));
    const [dying, survivor] =
      p.phones.rings.length > 0 ? [p.rt, { status: h.status }] : [h.rt, { status: p.status }];
    dying.exit(dying.whereis(ACDC_SUP)!, 'kill');
    await h.until(
      "the survivor's copy ready again",
      async () => (await survivor.status('a')).status === 'ready',
    );
    expect(h.successes.get(callId!)).toEqual(['a']);
    expect(
      h.lines.some(
        (l) => l.msg === "acdc agent: a peer's wrapup never ended; ready again" && l.agent_id === 'a',
      ),
    ).toBe(true);
  });
}
