/**
 * `fife new-app NAME [--dir D] [--fife SPEC]`: writes a plugin WhApp project that builds and
 * tests on its own, outside any Fife checkout, against the `fife` package.
 *
 * Contract
 * - NAME is the app's name, its package's name and its messages' Event-Category: lower
 *   case letters, digits and `_`, starting with a letter (it is also a routing-key word).
 * - The project goes to D (default ./NAME). A D that exists and is not empty is refused
 *   (NewAppError), nothing written; nothing outside D is touched.
 * - SPEC is the `fife` dependency in the project's package.json: a version range (default
 *   `^` + this Fife's version), a tarball path (`./fife-0.1.0.tgz`, what `npm pack` makes),
 *   or a `file:` path. A path is made absolute so that it holds wherever D is.
 * - The project: package.json (fife, and dev dependencies typescript and @types/node only),
 *   tsconfig.json, src/app.ts (the app definition and its tree), src/messages.ts (its own
 *   message family, added to the catalogue), src/greeter.ts (a gen_listener answering it and
 *   counting in the store), test/app.test.ts (node:test, on the embedded bus and store),
 *   fife.json (a node config listing the plugin), README.md, .gitignore.
 * - Returns the files written, relative to D.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FIFE_VERSION } from '../version.ts';

export class NewAppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NewAppError';
  }
}

const NAME = /^[a-z][a-z0-9_]{0,40}$/;

export function checkAppName(name: string): void {
  if (!NAME.test(name))
    throw new NewAppError(
      `app name '${name}' is not valid: lower case letters, digits and '_', starting with a letter (at most 41)`,
    );
}

/** The dependency spec for fife: a range stays as it is, a path becomes an absolute file: spec. */
export function fifeDependency(spec: string | undefined, cwd = process.cwd()): string {
  if (spec === undefined || spec === '') return `^${FIFE_VERSION}`;
  const path = spec.startsWith('file:') ? spec.slice(5) : spec;
  const looksLikePath = spec.startsWith('file:') || /^(\.{1,2}\/|\/)/.test(spec) || /\.tgz$/.test(spec);
  if (!looksLikePath) return spec;
  return `file:${isAbsolute(path) ? path : resolve(cwd, path)}`;
}

export interface NewAppOptions {
  dir?: string;
  fife?: string;
  cwd?: string;
}

export function newApp(name: string, opts: NewAppOptions = {}): { dir: string; files: string[] } {
  checkAppName(name);
  const cwd = opts.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir ?? name);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new NewAppError(`${dir} exists and is not empty; pick another --dir`);
  const files = projectFiles(name, fifeDependency(opts.fife, cwd));
  for (const [rel, text] of Object.entries(files)) {
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return { dir, files: Object.keys(files) };
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

function projectFiles(name: string, fife: string): Record<string, string> {
  const sup = `${name}_sup`;
  return {
    'package.json': json({
      name,
      version: '0.1.0',
      description: `${name}: a Fife WhApp`,
      type: 'module',
      main: 'dist/src/app.js',
      exports: { '.': './dist/src/app.js' },
      files: ['dist/src'],
      engines: { node: '>=20.19' },
      scripts: {
        build: 'tsc -p tsconfig.json',
        test: 'tsc -p tsconfig.json && node --test dist/test/*.test.js',
        start: 'tsc -p tsconfig.json && fife start --config fife.json',
      },
      dependencies: { fife },
      devDependencies: { '@types/node': '^20.19.0', typescript: '^5.9.3' },
    }),
    'tsconfig.json': json({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        rewriteRelativeImportExtensions: true,
        allowImportingTsExtensions: true,
        rootDir: '.',
        outDir: 'dist',
        types: ['node'],
      },
      include: ['src', 'test'],
    }),
    'fife.json': json({
      node: `${name}@localhost`,
      plugins: ['.'],
      apps: [name],
      dataDir: './data',
    }),
    '.gitignore': 'node_modules/\ndist/\ndata/\n*.tgz\n',
    'src/messages.ts': `/**
 * The ${name} message family: the app's own messages, added to Fife's catalogue when this
 * module loads, so that build() fills and checks them and every gen_listener validates them
 * on arrival (an invalid one never reaches a handler).
 *
 *   ${name}_hello_req   ${name} / hello_req   on kapps, key ${name}.hello.<who>   {Who}
 *   ${name}_hello_resp  ${name} / hello_resp  on targeted, to the request's Server-ID  {Greeting, Count}
 */
import { addFamily, encodeSegment, type MessageDef } from 'fife/api';

export const APP = '${name}';

/** The routing key of a hello request; '*' binds to every one. */
export const helloReqKey = (who: string): string => \`${name}.hello.\${who === '*' ? '*' : encodeSegment(who)}\`;

export const messages: MessageDef[] = [
  {
    id: '${name}_hello_req',
    category: APP,
    name: 'hello_req',
    doc: 'asks the ${name} app to greet someone',
    required: ['Who'],
    optional: [],
    types: { Who: 'string' },
    route: {
      exchange: 'kapps',
      kind: 'key',
      key: (msg) => helloReqKey(String(msg.Who)),
      pattern: '${name}.hello.<who>',
    },
  },
  {
    id: '${name}_hello_resp',
    category: APP,
    name: 'hello_resp',
    doc: 'the greeting, and how many times that name was greeted',
    required: ['Greeting', 'Count'],
    optional: [],
    types: { Greeting: 'string', Count: 'integer' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
];

addFamily(APP, messages);
`,
    'src/greeter.ts': `/**
 * ${name}_greeter: a gen_listener on the kapps exchange answering ${name}_hello_req with
 * ${name}_hello_resp. Each greeting is counted in the store (database '${name}', one
 * document per name) and in the listener's state (\`GenServer.call(rt, '${name}_greeter',
 * 'count')\` answers the total).
 */
import { GenServer, ok, reply, noreply, type Runtime } from 'fife/kernel';
import { type GenListenerBehaviour } from 'fife/bus';
import { build } from 'fife/api';
import { isStoreError, type DocumentStore } from 'fife/store';
import type { NodeServices } from 'fife/node';
import { APP, helloReqKey } from './messages.ts';

export const GREETER = \`\${APP}_greeter\`;
const VERSION = '0.1.0';

interface State {
  greeted: number;
}

/** Adds one to the count of \`who\` in the store and returns the new count. */
export async function countGreeting(store: DocumentStore, who: string): Promise<number> {
  await store.createDb(APP);
  const id = \`greeted-\${who}\`;
  let count = 0;
  let rev: string | undefined;
  try {
    const doc = await store.get(APP, id);
    count = Number(doc.count ?? 0);
    rev = doc._rev;
  } catch (err) {
    if (!isStoreError(err) || err.code !== 'not_found') throw err;
  }
  await store.save(APP, { _id: id, ...(rev === undefined ? {} : { _rev: rev }), who, count: count + 1 });
  return count + 1;
}

export const Greeter: GenListenerBehaviour<State, NodeServices, 'count', 'greeted'> = {
  name: GREETER,
  init: (_env, ctx) => {
    ctx.log.info('greeter ready');
    return ok({ greeted: 0 });
  },
  listen: (env) => ({
    bindings: [{ exchange: 'kapps', routingKey: helloReqKey('*') }],
    responders: [
      {
        category: APP,
        name: 'hello_req',
        handler: async (msg, ctx) => {
          const who = String(msg.Who);
          const count = await countGreeting(env.store, who);
          GenServer.cast(ctx.runtime, ctx.server, 'greeted');
          await ctx.reply(
            build(
              \`\${APP}_hello_resp\`,
              { 'Msg-ID': msg['Msg-ID'], Greeting: \`hello, \${who}\`, Count: count },
              { appName: APP, appVersion: VERSION, node: env.config.node },
            ),
          );
        },
      },
    ],
  }),
  handleCall: (_req, _from, s) => reply(s.greeted, s),
  handleCast: (_msg, s) => noreply({ greeted: s.greeted + 1 }),
  describe: (s) => s,
};

/** How many greetings the running greeter has answered. */
export const greetedSoFar = (rt: Runtime): Promise<number> => GenServer.call<number>(rt, GREETER, 'count');
`,
    'src/app.ts': `/**
 * The ${name} WhApp: what \`fife start\` loads when its config lists this package in
 * \`plugins\` and '${name}' in \`apps\`. Its tree: ${sup} (one_for_one) over one gen_listener.
 */
import { type AppDefinition } from 'fife/kernel';
import { GenListener } from 'fife/bus';
import type { NodeServices } from 'fife/node';
import { APP } from './messages.ts';
import { Greeter, GREETER } from './greeter.ts';

const app: AppDefinition<NodeServices> = {
  name: APP,
  version: '0.1.0',
  description: 'greets over the bus and counts greetings in the store',
  tree: (env) => ({
    flags: { strategy: 'one_for_one', intensity: 3, period: 10 },
    children: [GenListener.childSpec(GREETER, Greeter, env, { name: GREETER, transport: env.bus, app: APP })],
  }),
};

export default app;
`,
    'test/app.test.ts': `/**
 * The ${name} app on Fife's embedded bus and store, in this process: its tree starts, a
 * hello request over the bus gets its greeting back, and the store keeps the count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, Supervisor, createRootLogger } from 'fife/kernel';
import { createTransport, Requester, type Envelope } from 'fife/bus';
import { openStore } from 'fife/store';
import { build } from 'fife/api';
import { defaultConfig, type NodeServices } from 'fife/node';
import app from '../src/app.ts';
import { helloReqKey } from '../src/messages.ts';
import { greetedSoFar } from '../src/greeter.ts';

test('${name} greets over the bus and counts greetings in the store', async () => {
  const node = 'test@localhost';
  const dataDir = mkdtempSync(join(tmpdir(), '${name}-test-'));
  const log = createRootLogger({ node, level: 'warn' });
  const runtime = new Runtime({ node, logger: log });
  const bus = createTransport({ url: 'embedded', logger: log });
  await bus.start();
  const store = openStore('embedded', { dataDir, logger: log });
  const env: NodeServices = { config: { ...defaultConfig(), node, dataDir }, runtime, log, dataDir, store, bus };
  // A generous reply timeout: the first request also opens the embedded store's database.
  const requester = new Requester({ transport: bus, logger: log, timeoutMs: 20_000 });
  try {
    const root = await Supervisor.start(runtime, app.tree(env), { name: '${sup}', app: app.name });
    assert.equal(root.type, 'ok');
    await requester.start();

    const ask = (who: string): Promise<Envelope> =>
      requester.call(build('${name}_hello_req', { Who: who }, { appName: 'test', appVersion: '0', node }), {
        exchange: 'kapps',
        routingKey: helloReqKey(who),
      });
    assert.deepEqual(pick(await ask('ada')), { Greeting: 'hello, ada', Count: 1 });
    assert.deepEqual(pick(await ask('ada')), { Greeting: 'hello, ada', Count: 2 });
    assert.deepEqual(pick(await ask('grace')), { Greeting: 'hello, grace', Count: 1 });

    assert.equal((await store.get('${name}', 'greeted-ada')).count, 2);
    assert.equal(await greetedSoFar(runtime), 3);
  } finally {
    await requester.stop();
    await runtime.shutdown();
    await bus.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

const pick = (r: Envelope) => ({ Greeting: r.Greeting, Count: r.Count });
`,
    'README.md': `# ${name}

A Fife WhApp made by \`fife new-app ${name}\`: a gen_listener that answers
\`${name}_hello_req\` on the bus with a greeting and counts greetings in the store.

\`\`\`sh
npm install
npm test            # compiles (tsc) and runs test/ with node:test on the embedded bus and store
npm start           # compiles, then runs a Fife node with this app (fife.json)
\`\`\`

In another terminal, while the node runs: \`npx fife apps --config fife.json\` lists
\`${name}  running\`; \`npx fife tree --config fife.json\` shows ${sup} and ${name}_greeter.

| file | what |
|---|---|
| src/app.ts | the app definition: its name and its supervision tree |
| src/messages.ts | the app's own message family, added to Fife's catalogue |
| src/greeter.ts | the gen_listener answering hello requests, counting in the store |
| test/app.test.ts | the app on the embedded bus and store |
| fife.json | a node config: \`plugins: ["."]\` loads this package (its \`main\`), \`apps\` starts it |

To run it on an existing node, add this folder (built: \`npm run build\`) to the node's
\`plugins\` and \`${name}\` to its \`apps\`. See Fife's docs/writing-a-whapp.md.
`,
  };
}
