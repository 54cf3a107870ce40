/**
 * Faults under live calls: the switch connection dropped mid-call and restored (queue
 * kept; calls resynchronised; a call that ended meanwhile is ended on the bus too), a
 * call_control process killed mid-call (restarted by its supervisor, the call goes on or
 * ends cleanly), malformed frames from the switch (the node connection survives).
 */
import { controlReleased } from '../../../apps/ecallmgr/call-control.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, Table, TableError } from '../../../src/kernel/index.ts';
import { names, type SwitchLink } from '../../../apps/ecallmgr/context.ts';
import { NodeDownError, switchOp, switchUp } from '../../../apps/ecallmgr/node-ops.ts';
import { EslConnection } from '../../../src/switch/index.ts';
import { SWITCH, startHarness, type Harness } from './harness.ts';

describe('ecallmgr under faults', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** Resolves once the call's control process holds `n` queued commands (its describe().state). */
  async function queuedCommands(hh: Harness, callId: string, n: number): Promise<void> {
    for (let i = 0; ; i++) {
      const pid = hh.rt.whereis(names.control(callId));
      const d =
        pid === undefined
          ? undefined
          : (hh.rt.proc(pid)?.meta?.describe?.() as { state?: { queued?: number } } | undefined);
      // gen_listener's view: its queue, whether it consumes, and call_control's own as `state`
      if (d?.state?.queued === n) return;
      if (i > 2000)
        throw new Error(
          `call_control of ${callId} never held ${n} queued commands (last: ${JSON.stringify(d)})`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // The switch holds every command reply (auth included) from before the drop until
  // release(): ecallmgr cannot get the connection back while the test acts on the outage,
  // whatever the reconnect backoff and the machine's speed.
  it('switch connection dropped mid-call: announced down and up on the bus; commands sent meanwhile are kept and run after the resync', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    const control = h.rt.whereis(names.control(callId));
    const mark = h.app.seen.length;
    const release = h.sw.faults.stallReplies();
    h.sw.dropConnections();
    await h.waitNode('down', mark);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'during-1.wav' });
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'during-2.wav' });
    await queuedCommands(h, callId, 2);
    expect(h.executed(callId)).toEqual(['park', 'answer']);
    release();
    await h.waitNode('up', mark);
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Raw-Application-Data'] === 'during-2.wav',
    );
    expect(h.executed(callId)).toEqual(['park', 'answer', 'playback during-1.wav', 'playback during-2.wav']);
    expect(h.rt.whereis(names.control(callId))).toEqual(control);
    expect(
      h.lines.some((l) => l.msg === 'switch back: calls resynchronised' && l.calls === 1 && l.gone === 0),
    ).toBe(true);
    expect(
      h.lines.some((l) => l.msg === 'switch back: call resumed' && l.call_id === callId && l.queued === 2),
    ).toBe(true);
    h.sw.hangup(callId);
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
  });

  it('a call that ended while the connection was down is found gone on resync: CHANNEL_DESTROY is published and its processes end', async () => {
    h = await startHarness();
    const { callId } = await h.placeRoutedCall();
    const kept = await h.placeRoutedCall('1002', '2002');
    const control = h.rt.whereis(names.control(callId))!;
    const ended = h.rt.awaitExit(control);
    const mark = h.app.seen.length;
    const release = h.sw.faults.stallReplies();
    h.sw.dropConnections();
    await h.waitNode('down', mark);
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    release();
    const destroy = await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(destroy).toMatchObject({ Disposition: 'channel_gone', 'Switch-Nodename': SWITCH });
    expect(await ended).toBe('normal');
    expect(
      h.lines.some((l) => l.msg === 'switch back: calls resynchronised' && l.calls === 2 && l.gone === 1),
    ).toBe(true);
    await h.app.command(kept.ctl, kept.callId, 'answer');
    await h.app.waitEvent(kept.callId, 'CHANNEL_ANSWER');
  });

  it('a call_control killed mid-call is restarted by its supervisor and the call goes on, on the same control queue', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    const first = h.rt.whereis(names.control(callId))!;
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === 'call_control',
    );
    h.rt.crash(first, 'injected');
    await restarted;
    const second = h.rt.whereis(names.control(callId));
    expect(second).toBeDefined();
    expect(second).not.toEqual(first);
    await h.app.command(ctl, callId, 'play', { 'Media-Name': 'after-restart.wav' });
    await h.app.waitEvent(
      callId,
      'CHANNEL_EXECUTE_COMPLETE',
      (m) => m['Raw-Application-Data'] === 'after-restart.wav',
    );
    // The call's table (owned by its supervisor) told the new incarnation that route_win was sent.
    expect(h.app.seen.filter((m) => m['Event-Name'] === 'route_win' && m['Call-ID'] === callId)).toHaveLength(
      1,
    );
    const callSup = (await Supervisor.whichChildren(h.rt, names.calls))[0]!.pid!;
    const supEnded = h.rt.awaitExit(callSup);
    const released = controlReleased(h.bus, h.rt.node, callId);
    await h.app.command(ctl, callId, 'hangup');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    expect(await supEnded).toBe('shutdown');
    await released;
    await expect(h.bus.checkQueue(ctl)).rejects.toThrow();
    expect(h.rt.registered().filter((n) => n.includes(callId))).toEqual([]);
  });

  it('a call_control killed past its restart limit takes its call supervisor down cleanly: nothing of the call is left on the node', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    const callSup = (await Supervisor.whichChildren(h.rt, names.calls))[0]!.pid!;
    const supEnded = h.rt.awaitExit(callSup);
    let released = Promise.resolve();
    for (let i = 0; i < 4; i++) {
      const pid = h.rt.whereis(names.control(callId));
      if (pid === undefined) break;
      released = controlReleased(h.bus, h.rt.node, callId);
      const next = h.rt.events.waitFor(
        'supervisor',
        (e) => (e.kind === 'child_restarted' && e.childId === 'call_control') || e.kind === 'gave_up',
      );
      h.rt.crash(pid, 'injected');
      await next;
    }
    expect(await supEnded).toBe('shutdown');
    expect(h.rt.registered().filter((n) => n.includes(callId))).toEqual([]);
    expect(await Supervisor.countChildren(h.rt, names.calls)).toMatchObject({ active: 0 });
    await released;
    await expect(h.bus.checkQueue(ctl)).rejects.toThrow();
    expect(Table.whereis(h.rt, names.callTable(callId))).toBeUndefined();
  });

  it('malformed frames from the switch never take the node connection down; calls still route', async () => {
    h = await startHarness();
    const node = h.rt.whereis(names.node(SWITCH));
    const frame = (type: string, body: string): string =>
      `Content-Type: ${type}\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`;
    h.sw.injectRaw(frame('text/event-json', '{not json'));
    h.sw.injectRaw(frame('text/event-plain', 'Event-Name: CHANNEL_PARK\nUnique-ID: %%%zz\nX: %\n\n'));
    h.sw.injectRaw(frame('text/event-plain', 'Event-Name: FROBNICATE\nUnique-ID: nobody\n\n'));
    h.sw.injectRaw(frame('text/event-plain', 'No-Event-Name: here\n\n'));
    const { callId, ctl } = await h.placeRoutedCall();
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(h.rt.whereis(names.node(SWITCH))).toEqual(node);
  });

  it('a park event for a channel the switch does not have: the first command finds it gone, CHANNEL_DESTROY is published and the call processes end', async () => {
    h = await startHarness();
    h.sw.raiseEvent('CHANNEL_PARK', [
      ['Unique-ID', 'ghost-1'],
      ['Caller-Caller-ID-Number', '1009'],
      ['Caller-Destination-Number', '2009'],
    ]);
    const ctl = await h.app.routeWin('ghost-1');
    const control = h.rt.whereis(names.control('ghost-1'))!;
    const ended = h.rt.awaitExit(control);
    await h.app.command(ctl, 'ghost-1', 'answer');
    const destroy = await h.app.waitEvent('ghost-1', 'CHANNEL_DESTROY');
    expect(destroy.Disposition).toBe('channel_gone');
    expect(await ended).toBe('normal');
  });

  it('only the node connection holds the event-socket connection: others see its status and use the switch through its operations', async () => {
    h = await startHarness();
    const { callId } = await h.placeRoutedCall();
    const rows = [...Table.reader<string, unknown>(h.rt, names.switchTable(SWITCH)).entries()];
    expect(rows.map(([k]) => k)).toEqual(['status']);
    expect(rows.some(([, v]) => v instanceof EslConnection)).toBe(false);
    const link = { identity: { name: SWITCH } } as SwitchLink;
    expect(switchUp(h.rt, link)).toBe(true);
    expect(await switchOp(h.rt, link, { kind: 'api', command: `uuid_exists ${callId}` })).toBe('true');
    await expect(switchOp(h.rt, link, { kind: 'api', command: 'no_such_command' })).rejects.toThrow(/-ERR/);
    const nowhere = { identity: { name: 'nowhere' } } as SwitchLink;
    expect(switchUp(h.rt, nowhere)).toBe(false);
    await expect(switchOp(h.rt, nowhere, { kind: 'api', command: 'status' })).rejects.toBeInstanceOf(
      NodeDownError,
    );
  });

  it('the node connection killed mid-call is restarted with its router and authn; the call goes on and ends cleanly', async () => {
    h = await startHarness();
    const { callId, ctl } = await h.placeRoutedCall();
    const node = h.rt.whereis(names.node(SWITCH))!;
    const mark = h.app.seen.length;
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === 'authn',
    );
    h.rt.crash(node, 'injected');
    await restarted;
    await h.waitNode('up', mark);
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(h.sw.connectionCount).toBe(1);
    const other = await h.placeRoutedCall('1003', '2003');
    await h.app.command(other.ctl, other.callId, 'hangup');
    await h.app.command(ctl, callId, 'hangup');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    await h.app.waitEvent(other.callId, 'CHANNEL_DESTROY');
  });

  it('the node connection killed: its ended incarnation can no longer touch the calls table; the keeper keeps the rows and the restarted one resyncs from them', async () => {
    h = await startHarness();
    const kept = await h.placeRoutedCall();
    const gone = await h.placeRoutedCall('1004', '2004');
    const node = h.rt.whereis(names.node(SWITCH))!;
    const calls = Table.reader<string, true>(h.rt, names.callsTable(SWITCH));
    expect(calls.info()).toMatchObject({ owner: node, access: 'protected' });
    expect([calls.member(kept.callId), calls.member(gone.callId)]).toEqual([true, true]);
    // What a pending promise or a kept closure of this incarnation would hold.
    const stale = Table.open<string, true>(h.rt.context(node)!, names.callsTable(SWITCH));
    const goneEnded = h.rt.awaitExit(h.rt.whereis(names.control(gone.callId))!);
    // The restarted connection cannot authenticate until release(): the call hung up
    // meanwhile has its events seen by nobody.
    const release = h.sw.faults.stallReplies();
    const restarted = h.rt.events.waitFor(
      'supervisor',
      (e) => e.kind === 'child_restarted' && e.childId === 'authn',
    );
    h.rt.crash(node, 'injected');
    await h.rt.awaitExit(node);
    expect(() => stale.delete(kept.callId)).toThrow(TableError);
    expect(() => stale.lookup(kept.callId)).toThrow(TableError);
    await restarted;
    const second = h.rt.whereis(names.node(SWITCH))!;
    expect(second).not.toEqual(node);
    expect(calls.info().owner).toEqual(second);
    expect([calls.member(kept.callId), calls.member(gone.callId)]).toEqual([true, true]);
    h.sw.hangup(gone.callId, 'NORMAL_CLEARING');
    release();
    const destroy = await h.app.waitEvent(gone.callId, 'CHANNEL_DESTROY');
    expect(destroy.Disposition).toBe('channel_gone');
    expect(await goneEnded).toBe('normal');
    expect(calls.member(gone.callId)).toBe(false);
    expect(
      h.lines.some((l) => l.msg === 'switch back: calls resynchronised' && l.calls === 2 && l.gone === 1),
    ).toBe(true);
    await h.app.command(kept.ctl, kept.callId, 'answer');
    await h.app.waitEvent(kept.callId, 'CHANNEL_ANSWER');
  });

  it('a call parked while the connection was down is routed once it is back', async () => {
    h = await startHarness({ backoff: { initialMs: 300, maxMs: 300 } });
    const mark = h.app.seen.length;
    h.sw.dropConnections();
    await h.waitNode('down', mark);
    const callId = h.sw.placeCall({ from: '1005', to: '2005' });
    const ctl = await h.app.routeWin(callId);
    await h.app.command(ctl, callId, 'answer');
    await h.app.waitEvent(callId, 'CHANNEL_ANSWER');
    expect(h.app.seen.filter((m) => m['Event-Name'] === 'route_req' && m['Call-ID'] === callId)).toHaveLength(
      1,
    );
  });
});
