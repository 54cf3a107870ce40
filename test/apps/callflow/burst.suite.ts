/**
 * A burst of calls at routing: N calls placed at once to a device callflow. Every one
 * must be routed (route_req -> park -> route_win -> executor) and bridged to the phone;
 * a call the callflow stopped waiting for (its route_win logged as `not waiting for one`,
 * or `no route_win in time`) counts as lost. And one call whose control queue the broker
 * is slow to set up holds up no other call's routing. Run on the embedded bus (burst.test.ts) and
 * on RabbitMQ (burst.rabbitmq.test.ts).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { waitLine, type CfHarness } from './harness.ts';

const LOST = new Set([
  'callflow: route_win for a call not waiting for one',
  'callflow: no route_win in time',
]);

export function burstSuite(start: () => Promise<CfHarness>, calls: number): void {
  let h: CfHarness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.close();
  });

  it(`${calls} calls placed at once to a device: every one is routed and bridged, none lost`, async () => {
    await h.putCallflow('cf-1002', ['1002'], {
      module: 'device',
      data: { id: h.devices['1002'] },
      children: {},
    });
    const ids: string[] = [];
    for (let i = 0; i < calls; i++) ids.push(h.call('1002'));
    // Each call ends in one of two ways: bridged, or a log line saying callflow let it go.
    const lostLine = (id: string): Promise<'lost'> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (h.lines.some((l) => LOST.has(String(l.msg)) && l.call_id === id)) resolve('lost');
          else setTimeout(check, 20);
        };
        check();
      });
    const outcomes = await Promise.all(
      ids.map((id) =>
        Promise.race([h.app.waitEvent(id, 'CHANNEL_BRIDGE').then(() => 'bridged' as const), lostLine(id)]),
      ),
    );
    const lost = ids.filter((_, i) => outcomes[i] === 'lost');
    expect(lost).toEqual([]);
  });

  it("one call's control queue slow to set up on the broker does not hold up the next call's routing", async () => {
    await h.putCallflow('cf-1002', ['1002'], {
      module: 'device',
      data: { id: h.devices['1002'] },
      children: {},
    });
    // The first call's control queue (`<node>-ctl-<call-id>`) is bound only once the second
    // call is bridged: a start of the call's processes that waits for the broker would hold
    // the calls supervisor, and the second call would never be routed.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const bindQueue = h.bus.bindQueue.bind(h.bus);
    let first = '';
    h.bus.bindQueue = async (queue, exchange, key) => {
      if (first !== '' && queue.endsWith(`-ctl-${first}`)) await gate;
      return bindQueue(queue, exchange, key);
    };
    first = h.call('1002');
    await waitLine(h, 0, (l) => l.msg === 'callflow: found' && l.call_id === first);
    const second = h.call('1002');
    try {
      await h.app.waitEvent(second, 'CHANNEL_BRIDGE');
    } finally {
      release();
    }
    await h.app.waitEvent(first, 'CHANNEL_BRIDGE');
  });
}
