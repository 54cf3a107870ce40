/**
 * The smallest plugin WhApp: one gen_server that counts greetings, under its own
 * supervisor. A package of its own, built against the `fife` package's public entry points
 * as any third-party app is. Load it with `FIFE_PLUGINS=examples/hello-app FIFE_APPS=hello
 * fife start` once built (`npm install && npm run build` in this folder).
 */
import { GenServer, ok, reply, noreply, type AppDefinition, type GenServerBehaviour } from 'fife/kernel';

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
