/**
 * A minimal plugin WhApp: one gen_server that counts greetings, under its own supervisor.
 * The plugin the core tests load (`FIFE_PLUGINS=test/support/hello-plugin FIFE_APPS=hello`);
 * examples/hello-app is the same app as a package of its own, built against the fife package.
 */
import {
  GenServer,
  ok,
  reply,
  noreply,
  type AppDefinition,
  type GenServerBehaviour,
} from '../../../src/kernel/index.ts';

interface State {
  greeted: number;
}

export const Greeter: GenServerBehaviour<State, void, { hello: string }, 'reset'> = {
  name: 'greeter',
  init: (_args, ctx) => {
    ctx.trapExit(true);
    ctx.log.info('greeter ready');
    return ok({ greeted: 0 });
  },
  handleCall: (req, _from, s) => reply(`hello, ${req.hello}`, { greeted: s.greeted + 1 }),
  handleCast: (_msg, _s) => noreply({ greeted: 0 }),
  terminate: (reason, s, ctx) => ctx.log.info({ reason, greeted: s.greeted }, 'greeter stopping'),
  describe: (s) => s,
};

const app: AppDefinition = {
  name: 'hello',
  version: '0.1.0',
  description: 'example plugin',
  tree: () => ({
    flags: { strategy: 'one_for_one', intensity: 3, period: 10 },
    children: [GenServer.childSpec('greeter', Greeter, undefined, { name: 'greeter' })],
  }),
};

export default app;
