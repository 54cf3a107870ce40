/**
 * The observer's stream, on the embedded bus (observer.test.ts) and on RabbitMQ
 * (observer.rabbitmq.test.ts): a node's `GET /observer/stream` pushes the live trees of
 * every node on the bus; a process killed on another node shows there with its new pid,
 * its restart count and the crash with its reason; a burst of crashes comes as far fewer
 * updates than crashes (updates are throttled per node); the page is served without the
 * token, the stream needs it.
 */
import { afterEach, expect, it } from 'vitest';
import type { FifeNode } from '../../src/node/node.ts';
import { bootObserved, findProc, nodeUpdate, openStream } from './support/observer-fixture.ts';

export function observerSuite(busUrl: string, tag: string): void {
  const nodes: FifeNode[] = [];
  const streams: Array<{ close(): void }> = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    for (const n of nodes.splice(0)) await n.stop();
  });
  const boot = async (name: string, token?: string) => {
    const n = await bootObserved(`${name}-${tag}@localhost`, busUrl, { token });
    nodes.push(n);
    return n;
  };
  const kill = async (n: FifeNode, name: string) => {
    const res = await fetch(`${n.adminUrl}/kill`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { pid: string }).pid;
  };

  it("one node's stream shows both nodes' trees; a kill on the other shows its new pid, restart count and the crash", async () => {
    const a = await boot('alpha');
    const b = await boot('beta');
    const stream = await openStream(a.adminUrl!);
    streams.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const hello = await stream.next((e) => e.event === 'hello');
    expect(hello.data).toMatchObject({
      node: a.config.node,
      faults: expect.arrayContaining([expect.objectContaining({ kind: 'kill' })]),
    });

    const first = await nodeUpdate(stream, b.config.node, (u) => findProc(u.tree, 'ticker') !== undefined);
    const before = findProc(first.tree, 'ticker')!;
    expect(before.restarts).toBe(0);
    expect(findProc(first.tree, 'kernel_sup')).toBeDefined();
    await nodeUpdate(stream, a.config.node, (u) => findProc(u.tree, 'observed_sup') !== undefined);

    const killed = await kill(b, 'ticker');
    expect(killed).toBe(before.pid);
    const after = await nodeUpdate(stream, b.config.node, (u) => {
      const t = findProc(u.tree, 'ticker');
      return t?.pid !== undefined && t.pid !== before.pid && t.restarts === 1;
    });
    expect(after.crashes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pid: before.pid, name: 'ticker', reason: 'killed' }),
      ]),
    );
    // Every listener on the node shows a message rate, and the mailboxes are there.
    expect(Object.keys(after.rates).length).toBeGreaterThan(0);
    expect(after.mailboxes).toEqual(expect.any(Object));
  });

  it("a kill sent from one node's observer crashes the process on another node", async () => {
    const a = await boot('epsilon');
    const b = await boot('zeta');
    const stream = await openStream(a.adminUrl!);
    streams.push(stream);
    const first = await nodeUpdate(stream, b.config.node, (u) => findProc(u.tree, 'ticker') !== undefined);
    const old = findProc(first.tree, 'ticker')!.pid!;
    const fault = (body: object) =>
      fetch(`${a.adminUrl}/observer/fault`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const res = await fault({ node: b.config.node, kind: 'kill', pid: old });
    expect(res.status).toBe(202);
    const after = await nodeUpdate(stream, b.config.node, (u) => {
      const t = findProc(u.tree, 'ticker');
      return t?.pid !== undefined && t.pid !== old && t.restarts === 1;
    });
    expect(after.crashes).toEqual(
      expect.arrayContaining([expect.objectContaining({ pid: old, reason: 'killed' })]),
    );
    // A node the observer has not heard from, and a fault kind it does not know, are refused.
    expect((await fault({ node: 'nobody@nowhere', kind: 'kill', pid: old })).status).toBe(404);
    expect((await fault({ node: b.config.node, kind: 'melt', pid: old })).status).toBe(400);
  });

  it('a burst of crashes on a node comes as fewer updates than crashes, the last with every restart counted', async () => {
    const a = await boot('gamma');
    const stream = await openStream(a.adminUrl!);
    streams.push(stream);
    await nodeUpdate(stream, a.config.node, (u) => findProc(u.tree, 'ticker') !== undefined);
    const from = stream.events.length;
    const CRASHES = 40;
    for (let i = 0; i < CRASHES; i++) {
      // the next kill goes to the restarted ticker
      const restarted = a.runtime.events.waitFor(
        'supervisor',
        (e) => e.kind === 'child_restarted' && e.childId === 'ticker',
      );
      await kill(a, 'ticker');
      await restarted;
    }
    const last = await nodeUpdate(
      stream,
      a.config.node,
      (u) => findProc(u.tree, 'ticker')?.restarts === CRASHES,
    );
    const updates = stream.events
      .slice(from)
      .filter((e) => e.event === 'node' && (e.data as { node: string }).node === a.config.node);
    process.stdout.write(`observer (${tag}): ${CRASHES} crashes came as ${updates.length} updates\n`);
    expect(updates.length).toBeLessThan(CRASHES);
    const exits = updates
      .flatMap((u) => (u.data as { events: Array<{ kind: string }> }).events)
      .filter((e) => e.kind === 'exit');
    const dropped = updates.reduce((s, u) => s + (u.data as { droppedEvents: number }).droppedEvents, 0);
    expect(exits.length + dropped).toBeGreaterThanOrEqual(CRASHES);
    expect(last.crashes.length).toBeGreaterThan(0);
  });

  it('with a token, the page needs none and the stream needs it', async () => {
    const a = await boot('delta', 'obs-tok-5521');
    const page = await fetch(`${a.adminUrl}/observer`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).not.toContain('obs-tok-5521');
    const refused = await openStream(a.adminUrl!);
    expect(refused.status).toBe(401);
    const stream = await openStream(a.adminUrl!, 'obs-tok-5521');
    streams.push(stream);
    expect(stream.status).toBe(200);
    await nodeUpdate(stream, a.config.node);
  });
}
