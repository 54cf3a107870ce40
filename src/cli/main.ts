/**
 * The `fife` command (parsed by commander: every command has --help, unknown flags and
 * commands are errors).
 *
 *   fife start [--config FILE] [--pretty]   run a node in the foreground until SIGTERM/SIGINT
 *   fife tree [--json]                      print a running node's live supervision trees
 *   fife apps [list] [--json]               list a running node's apps and their state
 *   fife apps start|stop|restart NAME       start / stop / restart an app on a running node
 *   fife apps upgrade NAME --from PATH [--json]   load the plugin at PATH anew and move the running
 *                                        app to it (its processes keep their state through codeChange)
 *   fife nodes [--json]                     list the cluster: every node heard on the bus
 *   fife kill NAME|PID [--reason R] [--json]  fault injection: crash a process with R (default killed)
 *   fife chaos kill|crash|sever-bus|store-down|drop-event-socket|delay-bus|drop-bus ...
 *                                        inject one fault (src/node/chaos.ts lists them)
 *   fife chaos --every 2s --for 60s [--seed N] [--kinds k,...] [--random-in SUP]
 *                                        start a seeded schedule in the node (the command returns;
 *                                        the node's `chaos` process runs it); fife chaos stop|status
 *   fife new-app NAME [--dir D] [--fife SPEC]  write a plugin WhApp project (src/cli/new-app.ts)
 *   fife switch-sim [...]                   run the event-socket switch simulator alone
 *   fife switch-sim call|phone|dtmf|answer|hangup|calls ...   drive a running simulator (its control port)
 *   fife account add --name NAME --realm REALM                      create an account; prints its id
 *   fife device add --realm REALM --username USER --password PASS   create a SIP device (or --a1-hash HASH); prints its id
 *   fife user add --account NAME --username U --password P [--admin]  create a user who can log in to the REST API (crossbar); prints its id
 *                                        (its node admin URL option is --admin-url: --admin makes an administrator)
 *   fife crossbar init-apps DIR [--api-url URL]   register a browser client's apps (DIR/<app>/metadata/app.json,
 *                                        icon/ and screenshots/) in the master account's apps store; one line per app
 *   fife acdc queues|agents [--account ID] [--json]   the call center's queues (with their counts) and agents (with their state)
 *   fife acdc login|logout|pause|resume AGENT [--account ID] [--for S (pause)]   steer an agent (user id or username)
 *   fife acdc login|logout AGENT --queue Q   log an agent in to / out of that one queue
 *                                        (acdc commands need a running node: they go over its bus)
 *
 * account/device/user/crossbar go through the running node's admin endpoint when one runs (its embedded
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
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, nodeDir, ConfigError } from '../node/config.ts';
import type { NodeTree } from '../kernel/index.ts';
// The node, the kernel and the store are imported by the commands that use them, so that
// --help and usage errors answer at once.
import { adminAuthHeader } from '../node/admin-auth.ts';
import { isPackageName } from '../node/app-loader.ts';

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
    version?: string;
    state: string;
    type?: string;
    restarts: number;
    lastFailure?: string;
  }>) {
    out(
      `${a.name}\t${a.state}\ttype=${a.type ?? '?'}\tversion=${a.version ?? '-'}\trestarts=${a.restarts}${a.lastFailure ? `\tlast_failure=${a.lastFailure}` : ''}`,
    );
  }
}

async function cmdAppsUpgrade(name: string, o: NodeOpts & { from: string; json?: boolean }): Promise<void> {
  // The node may run in another folder: it gets the path as this shell means it (a
  // package name that is not a path here is resolved by the node, from its config's folder).
  const from = isPackageName(o.from) && !existsSync(o.from) ? o.from : resolve(o.from);
  const { status, data } = await admin(o, 'POST', `/apps/${encodeURIComponent(name)}/upgrade`, { from });
  const r = data as {
    type?: string;
    reason?: string;
    error?: string;
    from?: string;
    to?: string;
    changed?: string[];
    restarted?: string[];
    added?: string[];
    removed?: string[];
  };
  if (status !== 200)
    throw new Error(
      `upgrade ${name} from ${from}: ${r.reason ?? r.error ?? JSON.stringify(data)}; the old version runs on`,
    );
  if (o.json) return json(data);
  const list = (x: string[] | undefined): string => (x !== undefined && x.length > 0 ? x.join(',') : '-');
  out(
    `${name}: upgraded ${r.from ?? '-'} -> ${r.to ?? '-'}\tchanged=${list(r.changed)}\trestarted=${list(r.restarted)}\tadded=${list(r.added)}\tremoved=${list(r.removed)}`,
  );
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

/** '500ms', '2s', '1m', '1h' or a plain number of ms, as ms (an integer > 0). */
export function duration(v: string, flag = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] ?? 'ms'] ?? 1;
  const ms = m === null ? NaN : Math.round(Number(m[1]) * unit);
  if (!(ms >= 1)) throw new UsageError(`${flag} must be a duration such as 500ms, 2s or 1m, got '${v}'`);
  return ms;
}

/** Sends one chaos request; prints what was hit (or the schedule) and throws the refusal. */
async function chaosRequest(o: NodeOpts & { json?: boolean }, body: Record<string, unknown>): Promise<void> {
  const { status, data } = await admin(o, 'POST', '/chaos', body);
  if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
  if (o.json) return json(data);
  const r = data as {
    kind?: string;
    target?: string;
    params?: Record<string, unknown>;
    seed?: number;
    steps?: number;
    every_ms?: number;
    kinds?: string[];
  };
  if (r.seed !== undefined)
    return out(
      `chaos schedule started: seed ${r.seed}, ${r.steps} steps every ${r.every_ms} ms, kinds ${r.kinds?.join(',')} (stop: fife chaos stop)`,
    );
  out(`${r.kind} ${r.target} ${JSON.stringify(r.params)}`);
}

type ChaosOpts = NodeOpts & {
  json?: boolean;
  randomIn?: string;
  reason?: string;
  ms?: number;
  delayMs?: number;
  drop?: number;
  every?: number;
  for?: number;
  seed?: number;
  kinds?: string[];
};

const targetBody = (target: string | undefined, o: ChaosOpts): Record<string, unknown> => {
  if ((target === undefined) === (o.randomIn === undefined))
    throw new UsageError('give a target (name or <pid>) or --random-in SUPERVISOR, one of them');
  if (target === undefined) return { random_in: o.randomIn };
  return target.startsWith('<') ? { pid: target } : { name: target };
};

async function cmdChaosSchedule(o: ChaosOpts): Promise<void> {
  if (o.every === undefined || o.for === undefined)
    throw new UsageError("a schedule needs --every and --for (or a subcommand: 'fife chaos --help')");
  await chaosRequest(o, {
    every_ms: o.every,
    for_ms: o.for,
    seed: o.seed,
    kinds: o.kinds,
    random_in: o.randomIn,
    ms: o.ms,
    delay_ms: o.delayMs,
    drop: o.drop,
    reason: o.reason,
  });
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
    // A command's options are parsed up to its subcommand only (`fife chaos --ms` and
    // `fife chaos sever-bus --ms` are two commands' options); commander needs it here too.
    .enablePositionalOptions()
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
    .description(
      'run a node in the foreground until SIGTERM/SIGINT (with no apps configured: registrar, callflow, crossbar, and ecallmgr when a switch is)',
    )
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
    .description(
      "a running node's apps: list them (with their versions), start, stop, restart or upgrade one",
    );
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
    apps
      .command('upgrade')
      .description(
        'load a new version of a plugin into the running app (processes with codeChange keep their state; the others are restarted with the new code); a failure leaves the old version running',
      )
      .argument('<name>', 'app name')
      .requiredOption(
        '--from <path>',
        "the plugin's new version: a folder, a module or a package name, as in config 'plugins'",
      )
      .option('--json', 'the result as JSON'),
  ).action((name: string, o: NodeOpts & { from: string; json?: boolean }) => cmdAppsUpgrade(name, o));

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

  const chaos = nodeCommand(
    fife
      .command('chaos')
      .description(
        'fault injection: one fault (a subcommand), or a seeded schedule of them run by the node (--every/--for)',
      )
      .option('--every <duration>', 'schedule: one fault this often (500ms, 2s, 1m)', (v) =>
        duration(v, '--every'),
      )
      .option('--for <duration>', 'schedule: for this long', (v) => duration(v, '--for'))
      .option(
        '--seed <n>',
        'schedule: PRNG seed (the same seed repeats the same faults); default random',
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
            throw new UsageError(`--seed must be an integer within 0..4294967295, got '${v}'`);
          return n;
        },
      )
      .option('--kinds <list>', 'schedule: comma-separated kinds to draw from', (v) => v.split(','))
      .option('--random-in <supervisor>', 'kill/crash pick their target among its live descendants')
      .option('--ms <duration>', 'how long each timed fault lasts (default 500ms)', (v) =>
        duration(v, '--ms'),
      )
      .option('--delay-ms <ms>', 'delay-bus: hold each delivery this long', (v) => duration(v, '--delay-ms'))
      .option('--drop <share>', 'drop-bus: the share of deliveries lost (0..1)', (v) => {
        const n = Number(v);
        if (!(n > 0 && n <= 1)) throw new UsageError(`--drop must be a share within (0, 1], got '${v}'`);
        return n;
      })
      .option('--reason <reason>', 'crash: the exit reason')
      .option('--json', 'print the answer as JSON')
      // Its options only before a subcommand: `fife chaos sever-bus --ms 2s` is the subcommand's.
      .enablePositionalOptions(),
  ).action(cmdChaosSchedule);
  const chaosSub = (name: string, description: string, args: (c: Command) => Command = (c) => c): Command =>
    nodeCommand(
      args(chaos.command(name).description(description)).option('--json', 'print the answer as JSON'),
    );
  for (const kind of ['kill', 'crash'] as const) {
    chaosSub(
      kind,
      kind === 'kill'
        ? 'crash a process with reason killed; its supervisor restarts it'
        : 'crash a process with --reason (default crashed)',
      (c) =>
        c
          .argument('[target]', "registered name or pid ('<node.N>')")
          .option('--random-in <supervisor>', 'pick one of its live descendants at random')
          .option('--reason <reason>', 'exit reason'),
    ).action((target: string | undefined, o: ChaosOpts) =>
      chaosRequest(o, { kind, ...targetBody(target, o), reason: kind === 'crash' ? o.reason : undefined }),
    );
  }
  const msOption = (c: Command): Command =>
    c.option('--ms <duration>', 'for how long (default 500ms)', (v) => duration(v, '--ms'));
  chaosSub('sever-bus', "cut the node's bus connection; it reconnects after --ms", msOption).action(
    (o: ChaosOpts) => chaosRequest(o, { kind: 'sever-bus', ms: o.ms }),
  );
  chaosSub('store-down', 'store requests fail (StoreError unavailable) for --ms', msOption).action(
    (o: ChaosOpts) => chaosRequest(o, { kind: 'store-down', ms: o.ms }),
  );
  chaosSub(
    'drop-event-socket',
    "drop ecallmgr's event socket to a switch (default every one); it reconnects",
    (c) => c.argument('[switch]', 'switch name'),
  ).action((sw: string | undefined, o: ChaosOpts) =>
    chaosRequest(o, { kind: 'drop-event-socket', switch: sw }),
  );
  chaosSub('delay-bus', "hold every delivery to the node's consumers --delay-ms, for --ms", (c) =>
    msOption(c).requiredOption('--delay-ms <duration>', 'the delay', (v) => duration(v, '--delay-ms')),
  ).action((o: ChaosOpts) => chaosRequest(o, { kind: 'delay-bus', delay_ms: o.delayMs, ms: o.ms }));
  chaosSub('drop-bus', "lose a share of the deliveries to the node's consumers, for --ms", (c) =>
    msOption(c).requiredOption('--drop <share>', 'share lost, within (0, 1]', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new UsageError(`--drop must be a share within (0, 1], got '${v}'`);
      return n;
    }),
  ).action((o: ChaosOpts) => chaosRequest(o, { kind: 'drop-bus', drop: o.drop, ms: o.ms }));
  nodeCommand(chaos.command('stop').description('end the running schedule')).action(async (o: NodeOpts) => {
    const { data } = await admin(o, 'POST', '/chaos/stop');
    out((data as { stopped?: boolean }).stopped ? 'chaos schedule stopped' : 'no chaos schedule was running');
  });
  nodeCommand(chaos.command('status').description('the running schedule, if any')).action(
    async (o: NodeOpts) => json((await admin(o, 'GET', '/chaos/schedule')).data),
  );

  fife
    .command('new-app')
    .description(
      'write a plugin WhApp project (its own package, built and tested against fife) to ./NAME or --dir',
    )
    .argument('<name>', "the app's name: lower case letters, digits and '_'")
    .option('--dir <dir>', 'where to write it (default ./NAME; must be empty or absent)')
    .option('--fife <spec>', "the project's fife dependency: a version range, a tarball path or file: path")
    .action(async (name: string, o: { dir?: string; fife?: string }) => {
      const { newApp, checkAppName } = await import('./new-app.ts');
      try {
        checkAppName(name);
      } catch (err) {
        throw new UsageError((err as Error).message, { cause: err });
      }
      const r = newApp(name, o); // a folder that is not empty: NewAppError, exit 1
      out(`wrote ${r.dir}: ${r.files.join(', ')}`);
      out(`next: cd ${r.dir} && npm install && npm test && npm start`);
    });

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
  const crossbar = fife.command('crossbar').description('the REST API (the crossbar app)');
  nodeCommand(
    crossbar
      .command('init-apps')
      .description(
        "register a browser client's apps (DIR/<app>/metadata/app.json with icon/ and screenshots/) in the apps store",
      )
      .argument('<dir>', 'the folder holding one folder per app (a Monster UI apps folder)')
      .option('--api-url <url>', "the REST API URL the apps call (sets each app's api_url)"),
    '--admin-url',
  ).action(async (dir: string, o: Omit<NodeOpts, 'admin'> & { adminUrl?: string; apiUrl?: string }) => {
    const node: NodeOpts = { config: o.config, admin: o.adminUrl, timeout: o.timeout };
    const r = (await runAppOperation(node, 'crossbar', 'init_apps', {
      dir: resolve(dir),
      api_url: o.apiUrl,
    })) as { apps: Array<{ app: string; result: string; id?: string; error?: string; missing?: string[] }> };
    for (const a of r.apps)
      out(
        a.result === 'failed'
          ? `${a.app}: failed: ${a.error}`
          : `${a.app}: ${a.result} ${a.id}${a.missing ? ` (missing images: ${a.missing.join(', ')})` : ''}`,
      );
  });
  const acdc = fife
    .command('acdc')
    .description('call-center queues and agents (the acdc app; needs a running node)');
  const acdcOp = async (o: NodeOpts, op: string, input: Record<string, unknown>): Promise<unknown> => {
    const { status, data } = await admin(o, 'POST', `/apps/acdc/ops/${op}`, input);
    if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
    return (data as { result: unknown }).result;
  };
  const accountOpt = '--account <id>';
  const accountHelp = "the account's id (default: the node's settings.acdc.account_id)";
  nodeCommand(
    acdc
      .command('queues')
      .description(
        "the queues and their managers' counts (waiting, answered, abandoned, wait and talk times)",
      )
      .option(accountOpt, accountHelp)
      .option('--json', 'as JSON'),
  ).action(async (o: NodeOpts & { account?: string; json?: boolean }) => {
    const r = (await acdcOp(o, 'queues', { account: o.account })) as {
      queues: Array<{ id: string; name?: string; strategy?: string; stats: Record<string, unknown> | null }>;
    };
    if (o.json) return json(r);
    for (const q of r.queues)
      out(
        [
          q.id,
          q.strategy ?? '-',
          q.stats === null
            ? '(no manager answered)'
            : Object.entries(q.stats)
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(' '),
          ...(q.name ? [`name=${JSON.stringify(q.name)}`] : []),
        ].join(' '),
      );
  });
  nodeCommand(
    acdc
      .command('agents')
      .description('the agents, their state, queues, calls and misses')
      .option(accountOpt, accountHelp)
      .option('--json', 'as JSON'),
  ).action(async (o: NodeOpts & { account?: string; json?: boolean }) => {
    const r = (await acdcOp(o, 'agents', { account: o.account })) as {
      agents: Array<{
        id: string;
        name?: string;
        status: string | null;
        queues: string[];
        logged_in_queues?: string[];
        calls?: number;
        misses?: number;
      }>;
    };
    if (o.json) return json(r);
    for (const a of r.agents)
      out(
        [
          a.id,
          a.status ?? '(no answer)',
          `queues=${(a.queues ?? []).join(',')}`,
          // Logged in to some of its queues only (login --queue).
          ...(a.status !== 'logged_out' &&
          (a.logged_in_queues ?? a.queues ?? []).length < (a.queues ?? []).length
            ? [`logged_in=${(a.logged_in_queues ?? []).join(',')}`]
            : []),
          `calls=${a.calls ?? 0}`,
          `misses=${a.misses ?? 0}`,
          ...(a.name ? [`name=${JSON.stringify(a.name)}`] : []),
        ].join(' '),
      );
  });
  for (const [action, what] of [
    ['login', 'log an agent in to its queues'],
    ['logout', 'log an agent out'],
    ['pause', 'pause an agent (until resume, or --for seconds)'],
    ['resume', "end an agent's pause"],
  ] as const) {
    const c = acdc
      .command(action)
      .description(what)
      .argument('<agent>', 'the agent: its user id, or its username')
      .option(accountOpt, accountHelp)
      .option('--json', 'as JSON');
    if (action === 'login' || action === 'logout')
      c.option('--queue <queue>', `${action} to this one queue only (its id)`);
    if (action === 'pause')
      c.option('--for <seconds>', 'pause for this long', (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0)
          throw new UsageError(`--for must be a number of seconds > 0, got '${v}'`);
        return n;
      });
    nodeCommand(c).action(
      async (
        agent: string,
        o: NodeOpts & { account?: string; json?: boolean; for?: number; queue?: string },
      ) => {
        const r = (await acdcOp(o, 'agent_action', {
          account: o.account,
          agent,
          action,
          ...(o.for === undefined ? {} : { timeout: o.for }),
          ...(o.queue === undefined ? {} : { queue: o.queue }),
        })) as { agent_id: string; queue_id?: string };
        if (o.json) return json(r);
        out(`${r.agent_id}: ${action} sent${r.queue_id === undefined ? '' : ` (queue ${r.queue_id})`}`);
      },
    );
  }
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
