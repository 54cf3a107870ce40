/**
 * fife_calls_in_progress against ecallmgr and the switch simulator (the ecallmgr test
 * harness on the embedded bus, metrics made for its runtime as a node makes them): a
 * routed call shows on its switch, and leaves once it is hung up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeMetrics } from '../../src/node/metrics.ts';
import { EmbeddedStore } from '../../src/store/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { SWITCH, startHarness, type Harness } from '../apps/ecallmgr/harness.ts';

describe('calls in progress from ecallmgr', () => {
  let h: Harness | undefined;
  let store: EmbeddedStore | undefined;
  afterEach(async () => {
    await h?.close();
    await store?.close();
  });

  it('a routed call counts on its switch until it is hung up', async () => {
    h = await startHarness();
    store = new EmbeddedStore({
      dir: tmpDir('fife-metrics-calls-'),
      logger: memoryLogger('m@localhost').logger,
    });
    const metrics = createNodeMetrics({ runtime: h.rt, bus: h.bus, store, apps: [] });
    const calls = async (): Promise<number> => {
      const line = (await metrics.text()).body
        .split('\n')
        .find((l) => l.startsWith('fife_calls_in_progress{') && l.includes(`switch="${SWITCH}"`));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    };
    expect(await calls()).toBe(0);
    const { callId } = await h.placeRoutedCall();
    expect(await calls()).toBe(1);
    h.sw.hangup(callId, 'NORMAL_CLEARING');
    await h.app.waitEvent(callId, 'CHANNEL_DESTROY');
    await expect.poll(calls).toBe(0);
  });
});
