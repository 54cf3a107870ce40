/**
 * The `fife` command (parsed by commander: every command has --help, unknown flags and
 * commands are errors).
 *
 *   fife start [--config FILE] [--pretty]   run a node in the foreground until SIGTERM/SIGINT
 *   fife tree [--json]                      print a running node's live supervision trees
 *   fife apps [list] [--json]               list a running node's apps and their state
 *   fife apps start|stop|restart NAME       start / stop / restart an app on a running node
 *   fife nodes [--json]                     list the cluster: every node heard on the bus
 *   fife kill NAME|PID [--reason R] [--json]  fault injection: crash a process with R (default killed)
 *   fife switch-sim [...]                   run the event-socket switch simulator alone
 *   fife switch-sim call|phone|dtmf|answer|hangup|calls ...   drive a running simulator (its control port)
 *   fife account add --name NAME --realm REALM                      create an account; prints its id
 *   fife device add --realm REALM --username USER --password PASS   create a SIP device (or --a1-hash HASH); prints its id
 *   fife user add --account NAME --username U --password P [--admin]  create a user who can log in to the REST API (crossbar); prints its id
 *                                        (its node admin URL option is --admin-url: --admin makes an administrator)
 *
 * account/device/user go through the running node's admin endpoint when one runs (its embedded
 * store is locked by it); with no node running, or a CouchDB store, they open the store
 * themselves.
 *
 * Commands that talk to a running node find it through --admin URL, FIFE_ADMIN_URL, or
 * the admin.json the node wrote in its data folder (same --config / FIFE_* settings as
 * the node); each request gives up after --timeout seconds (default 10).
 *
 * Exit codes: 0 done (and for --help), 2 usage errors (unknown command or flag, missing
 * argument, bad config), 1 failures; every error is one line on stderr.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, nodeDir, ConfigError } from '../node/config.ts';
import type { NodeTree } from '../kernel/index.ts';
// The node, the kernel and the store are imported by the commands that use them, so that
// --help and usage errors answer at once.
import { adminAuthHeader } from '../node/admin-auth.ts';

class UsageError extends Error {}

/** Options of every command that talks to a running node. */
interface NodeOpts {
  config?: string;
  admin?: string;
  timeout: number;
}

const DEFAULT_TIMEOUT_S = 10;

function adminBase(o: NodeOpts): string {
  const explicit = o.admin ?? process.env.FIFE_ADMIN_URL;
  if (explicit) return explicit.replace(/\/$/, '');
  const cfg = loadConfig({ file: o.config });
  const file = join(nodeDir(cfg), 'admin.json');
  if (!existsSync(file))
    throw new Error(
      `no running node '${cfg.node}' found (no ${file}); start one with 'fife start' or pass --admin URL`,
    );
  return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
}

/** One request to the node under the command's timeout (body included); every failure is one clear Error. */
async function request(
  o: NodeOpts,
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; data: unknown }> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(base + path, {
      ...init,
      headers: { ...adminAuthHeader(adminToken(o)), ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(o.timeout * 1000),
    });
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError')
      throw new Error(
        `the node at ${base} did not answer within ${o.timeout} s (--timeout SECONDS to wait longer)`,
        { cause: err },
      );
    throw new Error(
      `cannot reach the node at ${base}: ${e.cause instanceof Error ? e.cause.message : e.message}`,
      { cause: err },
    );
  }
  return {
    status: res.status,
    data: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

/** The admin token a node asks for: FIFE_ADMIN_TOKEN, else the config's admin.token. */
const adminToken = (o: NodeOpts): string | undefined =>
  process.env.FIFE_ADMIN_TOKEN || loadConfig({ file: o.config }).admin.token;

/** A request to the node; POSTs always carry a JSON body (the endpoint refuses others). */
function admin(
  o: NodeOpts,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; data: unknown }> {
  const post = method !== 'GET';
  return request(o, adminBase(o), path, {
    method,
    headers: post ? { 'content-type': 'application/json' } : undefined,
    body: post ? JSON.stringify(body ?? {}) : undefined,
  });
}

async function cmdStart(o: { config?: string }): Promise<void> {
  const { runForeground } = await import('../node/daemon.ts');
  await runForeground(loadConfig({ file: o.config }));
}

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const json = (v: unknown): void => out(JSON.stringify(v, null, 2));

async function cmdTree(o: NodeOpts & { json?: boolean }): Promise<void> {
  const { data } = await admin(o, 'GET', '/tree');
  const { renderTree } = await import('../kernel/tree.ts');
  if (o.json) json(data);
  else out(renderTree(data as NodeTree));
}

async function cmdAppsList(o: NodeOpts & { json?: boolean }): Promise<void> {
  const { data } = await admin(o, 'GET', '/apps');
  if (o.json) return json(data);
  for (const a of data as Array<{
    name: string;
    state: string;
    type?: string;
    restarts: number;
    lastFailure?: string;
  }>) {
    out(
      `${a.name}\t${a.state}\ttype=${a.type ?? '?'}\trestarts=${a.restarts}${a.lastFailure ? `\tlast_failure=${a.lastFailure}` : ''}`,
    );
  }
}

async function cmdAppsControl(sub: 'start' | 'stop' | 'restart', name: string, o: NodeOpts): Promise<void> {
  const { status, data } = await admin(o, 'POST', `/apps/${encodeURIComponent(name)}/${sub}`);
  if (status !== 200)
    throw new Error(`${sub} ${name}: ${(data as { reason?: string }).reason ?? JSON.stringify(data)}`);
  out(`${name}: ${sub} ok`);
}

async function cmdNodes(o: NodeOpts & { json?: boolean }): Promise<void> {
  const { data } = await admin(o, 'GET', '/nodes');
  if (o.json) return json(data);
  const { nodes, switches } = data as {
    nodes: Array<{
      node: string;
      zone?: string;
      apps: string[];
      appsDown?: Record<string, string>;
      version?: string;
      uptimeS?: number;
      usedMemory?: number;
      processes?: number;
      lastSeenMsAgo: number;
    }>;
    switches: Array<{ name: string; nodes: string[]; url?: string; status: string; since: number }>;
  };
  for (const n of nodes) {
    const down = Object.entries(n.appsDown ?? {}).map(([app, state]) => `${app}:${state}`);
    const mb = n.usedMemory === undefined ? '?' : (n.usedMemory / 1048576).toFixed(1);
    out(
      [
        n.node,
        `zone=${n.zone ?? '?'}`,
        `apps=${n.apps.join(',') || '-'}`,
        `down=${down.join(',') || '-'}`,
        `version=${n.version ?? '?'}`,
        `uptime=${n.uptimeS ?? '?'}s`,
        `memory=${mb}MB`,
        `processes=${n.processes ?? '?'}`,
        `last_seen=${n.lastSeenMsAgo}ms`,
      ].join('\t'),
    );
  }
  if (switches.length > 0) out('switches:');
  for (const sw of switches) {
    out(
      `${sw.name}\t${sw.status}\tnodes=${sw.nodes.join(',') || '-'}\turl=${sw.url ?? '?'}\tsince=${new Date(sw.since).toISOString()}`,
    );
  }
}

async function cmdKill(target: string, o: NodeOpts & { reason: string; json?: boolean }): Promise<void> {
  const body = target.startsWith('<') ? { pid: target } : { name: target };
  const { status, data } = await admin(o, 'POST', '/kill', { ...body, reason: o.reason });
  if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
  const r = data as { pid: string; reason: unknown };
  if (o.json) return json(data);
  out(
    `${target.startsWith('<') ? r.pid : `${target} (${r.pid})`} crashed with reason ${typeof r.reason === 'string' ? r.reason : JSON.stringify(r.reason)}`,
  );
}

/** The running node's admin URL, or undefined when none runs (no admin.json, or it is stale). */
async function runningNode(o: NodeOpts): Promise<string | undefined> {
  let base: string;
  try {
    base = adminBase(o);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return undefined;
  }
  const up = await request(o, base, '/health').then(
    () => true,
    () => false,
  );
  if (!up && (o.admin ?? process.env.FIFE_ADMIN_URL)) throw new Error(`cannot reach the node at ${base}`);
  return up ? base : undefined;
}

/**
 * Runs an operation an app declares: through the running node's admin endpoint when one
 * runs (the embedded store is held open by it), else on the configured store directly.
 */
async function runAppOperation(
  o: NodeOpts,
  app: string,
  op: string,
  input: Record<string, unknown>,
): Promise<unknown> {
  const cfg = loadConfig({ file: o.config });
  if (!/^https?:\/\//i.test(cfg.store) && (await runningNode(o)) !== undefined) {
    const { status, data } = await admin(o, 'POST', `/apps/${app}/ops/${op}`, input);
    if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
    return (data as { result: unknown }).result;
  }
  const [{ loadBuiltinApp }, { createRootLogger }, { openStore }] = await Promise.all([
    import('../node/app-loader.ts'),
    import('../kernel/log.ts'),
    import('../store/index.ts'),
  ]);
  const def = await loadBuiltinApp(app);
  const fn = def.operations?.[op];
  if (fn === undefined) throw new Error(`app '${app}' has no operation '${op}'`);
  const log = createRootLogger({ node: cfg.node, level: 'silent' });
  const store = openStore(cfg.store, { dataDir: nodeDir(cfg), logger: log });
  try {
    // Offline, an operation gets the config, the store and a logger (no runtime, no bus).
    return await fn(input, { config: cfg, store, log, dataDir: nodeDir(cfg) });
  } finally {
    await store.close();
  }
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--timeout must be a number of seconds > 0, got '${v}'`);
  return n;
}

/**
 * Adds the options of commands that talk to a running node. `adminFlag` names the admin
 * URL option (`--admin-url` where `--admin` means something else, as in `fife user add`).
 */
function nodeCommand(c: Command, adminFlag = '--admin'): Command {
  return c
    .option('--config <file>', 'config file of the node (as given to fife start; or FIFE_CONFIG)')
    .option(
      `${adminFlag} <url>`,
      "the node's admin URL (or FIFE_ADMIN_URL; default: from the node's admin.json)",
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up on the node after this long')
        .default(DEFAULT_TIMEOUT_S)
        .argParser(seconds),
    );
}

function program(): Command {
  const fife = new Command('fife')
    .description('Run and operate a Fife node (OTP-style telephony platform in the architecture of Kazoo).')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Commands that talk to a running node find it through --admin URL, FIFE_ADMIN_URL, or the
admin.json it writes in <dataDir>/<node>/ (the same --config / FIFE_* settings as the node).
Exit codes: 0 ok, 1 failure, 2 usage error. 'fife COMMAND --help' for a command's options.`,
    );

  fife
    .command('start')
    .description('run a node in the foreground until SIGTERM/SIGINT')
    .option('--config <file>', 'config file (or FIFE_CONFIG)')
    .option('--pretty', 'readable log lines instead of JSON (default on a terminal; or FIFE_LOG_PRETTY=1)')
    .action(async (o: { config?: string; pretty?: boolean }) => {
      if (o.pretty) process.env.FIFE_LOG_PRETTY = '1';
      await cmdStart(o);
    });

  nodeCommand(
    fife.command('tree').description("a running node's live supervision trees").option('--json', 'as JSON'),
  ).action(cmdTree);

  const apps = fife
    .command('apps')
    .description("a running node's apps: list them, start, stop or restart one");
  nodeCommand(
    apps
      .command('list')
      .description('every app with its state, restarts and last failure')
      .option('--json', 'as JSON'),
  ).action(cmdAppsList);
  for (const sub of ['start', 'stop', 'restart'] as const) {
    nodeCommand(
      apps
        .command(sub)
        .description(`${sub} an app (its whole tree${sub === 'stop' ? '' : '; its deps first'})`)
        .argument('<name>', 'app name'),
    ).action((name: string, o: NodeOpts) => cmdAppsControl(sub, name, o));
  }

  nodeCommand(
    fife.command('nodes').description('the cluster as a running node sees it').option('--json', 'as JSON'),
  ).action(cmdNodes);

  nodeCommand(
    fife
      .command('kill')
      .description('crash a process on purpose (fault injection); its supervisor restarts it')
      .argument('<target>', "registered name or pid ('<node.N>')")
      .option('--reason <reason>', 'exit reason', 'killed')
      .option('--json', 'print the result as JSON'),
  ).action(cmdKill);

  fife
    .command('switch-sim')
    .description(
      "run the event-socket switch simulator alone, or drive a running one (call, phone, dtmf, hangup; 'fife switch-sim --help')",
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_o: unknown, cmd: Command) => {
      const { switchSimMain } = await import('../switch/sim-main.ts');
      await switchSimMain(cmd.args);
    });

  const account = fife.command('account').description('accounts (the registrar app)');
  nodeCommand(
    account
      .command('add')
      .description('create an account; prints its id')
      .requiredOption('--name <name>', 'account name')
      .requiredOption('--realm <realm>', 'SIP realm'),
  ).action(async (o: NodeOpts & { name: string; realm: string }) => {
    const r = (await runAppOperation(o, 'registrar', 'add_account', { name: o.name, realm: o.realm })) as {
      id: string;
    };
    out(r.id);
  });

  const device = fife.command('device').description('SIP devices (the registrar app)');
  nodeCommand(
    device
      .command('add')
      .description('create a SIP device; prints its id')
      .requiredOption('--realm <realm>', "its account's SIP realm")
      .requiredOption('--username <user>', 'SIP user name')
      .option('--password <pass>', 'SIP password')
      .option('--a1-hash <hash>', 'md5(user:realm:password) instead of --password')
      .option('--name <name>', 'device name')
      .option('--owner-id <id>', 'owning user id'),
  ).action(
    async (
      o: NodeOpts & {
        realm: string;
        username: string;
        password?: string;
        a1Hash?: string;
        name?: string;
        ownerId?: string;
      },
    ) => {
      const r = (await runAppOperation(o, 'registrar', 'add_device', {
        realm: o.realm,
        username: o.username,
        password: o.password,
        a1Hash: o.a1Hash,
        name: o.name,
        ownerId: o.ownerId,
      })) as { id: string };
      out(r.id);
    },
  );
  const user = fife.command('user').description('REST API users (the crossbar app)');
  nodeCommand(
    user
      .command('add')
      .description('create a user who can log in to the REST API (PUT /v2/user_auth); prints its id')
      .requiredOption('--account <name>', 'the name of its account')
      .requiredOption('--username <user>', 'login name (stored lower-cased)')
      .requiredOption('--password <pass>', 'login password (stored only as hashes)')
      .option('--admin', 'an account administrator (priv_level admin)'),
    '--admin-url',
  ).action(
    async (
      o: Omit<NodeOpts, 'admin'> & {
        adminUrl?: string;
        account: string;
        username: string;
        password: string;
        admin?: boolean;
      },
    ) => {
      const node: NodeOpts = { config: o.config, admin: o.adminUrl, timeout: o.timeout };
      const r = (await runAppOperation(node, 'crossbar', 'add_user', {
        account: o.account,
        username: o.username,
        password: o.password,
        admin: o.admin === true,
      })) as { id: string };
      out(r.id);
    },
  );
  return fife;
}

/** Commander's message as one line: "unknown option '--jsno' (Did you mean --json?)". */
const oneLine = (m: string): string =>
  m
    .replace(/^error: /, '')
    .replace(/\n+\(?/g, ' (')
    .replace(/[\s.]+$/, '');

/** `fife apps` and `fife apps --json` are `fife apps list ...`. */
function withDefaults(argv: string[]): string[] {
  if (
    argv[0] === 'apps' &&
    (argv.length === 1 || (argv[1]!.startsWith('-') && argv[1] !== '-h' && argv[1] !== '--help'))
  )
    return ['apps', 'list', ...argv.slice(1)];
  return argv;
}

/** The words of the deepest command argv names: ['apps', 'stop'] for `apps stop x --bad`. */
function commandPath(fife: Command, argv: string[]): string[] {
  const path: string[] = [];
  let cmd = fife;
  for (const a of argv) {
    const sub = a.startsWith('-') ? undefined : cmd.commands.find((c) => c.name() === a);
    if (sub === undefined) break;
    path.push(a);
    cmd = sub;
  }
  return path;
}

export async function main(argv: string[]): Promise<void> {
  const fife = program();
  argv = withDefaults(argv);
  try {
    if (argv.length === 0) {
      fife.outputHelp();
      return;
    }
    await fife.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return; // --help, help
    const usage =
      err instanceof CommanderError ||
      err instanceof UsageError ||
      err instanceof ConfigError ||
      (err as Error).name === 'SwitchSimUsageError';
    const hint =
      usage && !(err instanceof ConfigError)
        ? `; see 'fife ${[...commandPath(fife, argv), ''].join(' ')}--help'`
        : '';
    process.stderr.write(
      `fife: ${err instanceof CommanderError ? oneLine(err.message) : (err as Error).message}${hint}\n`,
    );
    process.exit(usage ? 2 : 1);
  }
}
