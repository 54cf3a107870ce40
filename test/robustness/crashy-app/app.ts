/**
 * A plugin WhApp that cannot stay up: its one gen_server crashes with "crashy says boom"
 * as soon as it has started, so its supervisor (1 restart in 60 s) gives up and the
 * app's tree ends; the apps controller restarts it once, then leaves it failed.
 */
import { GenServer, ok, type AppDefinition, type GenServerBehaviour } from '../../../src/kernel/index.ts';

const Crashy: GenServerBehaviour<null, void> = {
  name: 'crashy',
  init: (_args, ctx) => {
    ctx.send(ctx.self, 'boom');
    return ok(null);
  },
  handleInfo: () => {
    throw new Error('crashy says boom');
  },
};

const app: AppDefinition = {
  name: 'crashy',
  maxRestarts: { intensity: 1, period: 60 },
  tree: () => ({
    flags: { strategy: 'one_for_one', intensity: 1, period: 60 },
    children: [GenServer.childSpec('crashy', Crashy, undefined, { name: 'crashy' })],
  }),
};

export default app;
