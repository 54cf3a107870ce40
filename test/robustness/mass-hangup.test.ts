/**
 * A mass hang-up (a switch restart: every held call hangs up at once) ends every call on
 * the bus and leaves no call process behind: bench/ecallmgr's last phase, at a size CI
 * runs, with the orderings that broke it made deterministic by the simulator's faults.
 *
 * What broke (issue 9, item 13): the switch writes every call's CHANNEL_HANGUP first, then
 * each call's CHANNEL_DESTROY behind a backlog of events ecallmgr still had to read and
 * dispatch. call_control gave up on the DESTROY after max(keepAliveMs, nodeDownMaxMs) and
 * stopped; its supervisor then stopped call_events before the DESTROY, already sent, had
 * reached it, so no CHANNEL_DESTROY was ever published and apps waited for ever. Here the
 * backlog is a network partition opened right after the hang-ups (the HANGUPs are through,
 * every later byte is held) and healed once every call's wait has run out; and, separately,
 * CHANNEL_DESTROY events the switch never delivers, and a call destroyed while it is being
 * routed (its DESTROY passes before its processes exist; they used to wait for ever).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { build, callEventKey } from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type Envelope } from '../../src/bus/index.ts';
import { Supervisor, type Pid } from '../../src/kernel/index.ts';
import { names } from '../../apps/ecallmgr/context.ts';
import { SWITCH, startHarness, type Harness } from '../apps/ecallmgr/harness.ts';

const CALLS = 60;
const CTX = { appName: 'robustness-test', appVersion: '4.0.0', node: 'robustness@localhost' };

describe('a mass hang-up ends every call', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** CALLS calls routed by ecallmgr and answered, as bench/ecallmgr holds them. */
  async function holdCalls(hh: Harness): Promise<string[]> {
    const calls = await Promise.all(
      Array.from({ length: CALLS }, (_, i) => hh.placeRoutedCall(String(1000 + i), '2000')),
    );
    await Promise.all(calls.map(({ ctl, callId }) => hh.app.command(ctl, callId, 'answer')));
    await Promise.all(calls.map(({ callId }) => hh.app.waitEvent(callId, 'CHANNEL_ANSWER')));
    return calls.map((c) => c.callId);
  }

  function callPids(hh: Harness, callIds: string[]): Pid[] {
    return callIds
      .flatMap((id) => [hh.rt.whereis(names.control(id)), hh.rt.whereis(names.events(id))])
      .filter((p): p is Pid => p !== undefined);
  }

  /** After every call process has ended: a message published now reaches the test app after
   *  everything they published (one transport, one queue). */
  async function flushBus(hh: Harness): Promise<void> {
    const marker = `marker-${Date.now()}`;
    const msg = build(
      'call_event',
      { 'Event-Name': 'CHANNEL_DATA', 'Call-ID': marker },
      CTX,
    ) as unknown as Envelope;
    await hh.bus.publish('callevt', callEventKey('CHANNEL_DATA', marker), encodeJson(msg), jsonProperties());
    await hh.app.waitFor((m) => m['Call-ID'] === marker, 'the flush marker');
  }

  async function expectAllEnded(hh: Harness, callIds: string[], pids: Pid[]): Promise<Envelope[]> {
    // Each call's supervisor shuts itself down after its significant child ends (auto_shutdown):
    // those alive now are awaited too, so the count below is taken after their exits.
    const sups = (await Supervisor.whichChildren(hh.rt, names.calls)).flatMap((c) =>
      c.pid === undefined ? [] : [c.pid],
    );
    await Promise.all([...pids, ...sups].map((p) => hh.rt.awaitExit(p)));
    await flushBus(hh);
    const left = await Supervisor.countChildren(hh.rt, names.calls);
    expect(left.active, 'call supervisors left').toBe(0);
    expect(
      hh.rt.registered().filter((n) => n.startsWith('ecallmgr_call_')),
      'call processes left',
    ).toEqual([]);
    const destroys = callIds.map((id) =>
      hh.app.events(id).filter((m) => m['Event-Name'] === 'CHANNEL_DESTROY'),
    );
    expect(
      destroys.filter((d) => d.length !== 1).length,
      'calls without exactly one CHANNEL_DESTROY on the bus',
    ).toBe(0);
    return destroys.map((d) => d[0]!);
  }

  it("CHANNEL_DESTROYs held up behind the hang-ups past every call's wait: each is still published, and no call process is left", async () => {
    // keepAliveMs/nodeDownMaxMs 0: each call's wait for its CHANNEL_DESTROY runs out at once.
    h = await startHarness({ settings: { keepAliveMs: 0, nodeDownMaxMs: 0 } });
    const hh = h;
    const callIds = await holdCalls(hh);
    const pids = callPids(hh, callIds);
    expect(pids).toHaveLength(2 * CALLS);
    for (const id of callIds) hh.sw.hangup(id);
    // Every CHANNEL_HANGUP is written already; everything after it (each call's
    // CHANNEL_DESTROY among it) is held on the wire, in order, until healed.
    const heal = hh.sw.partition();
    const waitedOut = (id: string): boolean =>
      (hh.rt.whereis(names.control(id)) === undefined && hh.rt.whereis(names.events(id)) === undefined) ||
      hh.lines.some(
        (l) =>
          l.call_id === id &&
          typeof l.msg === 'string' &&
          l.msg.startsWith('hung up, no CHANNEL_DESTROY yet'),
      );
    await vi.waitFor(() => expect(callIds.filter((id) => !waitedOut(id))).toEqual([]), {
      timeout: 15_000,
      interval: 5,
    });
    heal();
    const destroys = await expectAllEnded(hh, callIds, pids);
    // The switch's own CHANNEL_DESTROY reached the bus, not a stand-in.
    expect(destroys.filter((d) => d.Disposition === 'channel_gone')).toEqual([]);
    expect(destroys.every((d) => d['Hangup-Cause'] === 'NORMAL_CLEARING')).toBe(true);
  });

  it('CHANNEL_DESTROYs the switch never delivers: every call still ends on the bus (Disposition channel_gone) and no call process is left', async () => {
    h = await startHarness({ settings: { keepAliveMs: 0, nodeDownMaxMs: 0 } });
    const callIds = await holdCalls(h);
    const pids = callPids(h, callIds);
    h.sw.faults.swallowEvents.add('CHANNEL_DESTROY');
    for (const id of callIds) h.sw.hangup(id);
    const destroys = await expectAllEnded(h, callIds, pids);
    expect(destroys.every((d) => d.Disposition === 'channel_gone')).toBe(true);
  });

  it('a call destroyed while it is being routed (its CHANNEL_DESTROY came before its processes): they still end, and it ends on the bus', async () => {
    h = await startHarness({ settings: { keepAliveMs: 0 } });
    const hh = h;
    hh.app.route = 'none'; // the test answers the route_req itself, once the DESTROY has passed
    const callId = hh.sw.placeCall({ from: '1001', to: '2000' });
    const req = await hh.app.waitFor(
      (m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId,
      'route_req',
    );
    const node = hh.rt.whereis(names.node(SWITCH))!;
    const known = (): number => (hh.rt.proc(node)?.meta?.describe?.() as { calls: number }).calls;
    expect(known()).toBe(1);
    hh.sw.hangup(callId);
    // The node connection has handled the CHANNEL_DESTROY (no process to give it to yet).
    await vi.waitFor(() => expect(known()).toBe(0), { timeout: 15_000, interval: 5 });
    const resp = build(
      'route_resp',
      { 'Msg-ID': req['Msg-ID'], 'Server-ID': hh.app.queue, Method: 'park', Routes: [] },
      CTX,
    ) as unknown as Envelope;
    await hh.bus.publish('targeted', String(req['Server-ID']), encodeJson(resp), jsonProperties());
    await hh.app.routeWin(callId);
    const pids = callPids(hh, [callId]);
    const [destroy] = await expectAllEnded(hh, [callId], pids);
    expect(destroy).toMatchObject({ Disposition: 'channel_gone' });
  });
});
