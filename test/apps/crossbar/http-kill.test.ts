/**
 * crossbar's HTTP process killed (as the soak's chaos `kill` does: terminate is skipped)
 * leaves nothing of itself running: its document cache's change feeds stop with it, and
 * the restarted process serves on the same port. Embedded bus and store; the store's
 * `follow` is counted.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { CROSSBAR_HTTP } from '../../../apps/crossbar/http-server.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { countingFeeds } from '../../support/counting-feeds.ts';
import { startCrossbar, type CbHarness } from './support.ts';

let cb: CbHarness | undefined;
afterEach(async () => cb?.close());

it('crossbar_http killed 3 times: no change feed left behind, and the API answers after each restart', async () => {
  const real = new EmbeddedStore({
    dir: tmpDir('fife-cb-kill-'),
    logger: memoryLogger('s@l', 'warn').logger,
  });
  const { store, open } = countingFeeds(real);
  cb = await startCrossbar({ store });
  const h = cb;
  expect((await h.call('GET', '/v2/about')).status).not.toBe(-1);
  const baseline = open();
  expect(baseline).toBeGreaterThan(0);
  for (let i = 0; i < 3; i++) {
    const before = h.h.rt.whereis(CROSSBAR_HTTP)!;
    const gone = h.h.rt.awaitExit(before);
    h.h.rt.exit(before, 'kill');
    await gone;
    await vi.waitFor(() => {
      const now = h.h.rt.whereis(CROSSBAR_HTTP);
      expect(now !== undefined && now !== before).toBe(true);
    });
    // registered is not yet listening (the name is taken before init, as in OTP): the
    // API answers once the restart is done, and the port refuses until then
    await vi.waitFor(async () => {
      const res = await h.call('GET', '/v2/about').catch((err: unknown) => ({ status: String(err) }));
      expect([200, 401, 404]).toContain(res.status);
    });
    await vi.waitFor(() => expect(open()).toBe(baseline));
  }
});
