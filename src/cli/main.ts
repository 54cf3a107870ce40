/**
 * The `fife` command.
 *
 *   fife start [--config FILE]          run a node in the foreground until SIGTERM/SIGINT
 *   fife tree [--json]                  print a running node's live supervision trees
 *   fife apps [list]                    list a running node's apps and their state
 *   fife nodes                          list the cluster: every node heard on the bus
 *   fife apps start|stop|restart NAME   start / stop / restart an app on a running node
 *   fife kill NAME|PID [--reason R]     fault injection: crash a process with R (default killed)
 *   fife switch-sim [...]               run the event-socket switch simulator alone
 *   fife account add --name NAME --realm REALM                      create an account; prints its id
 *   fife device add --realm REALM --username USER --password PASS   create a SIP device (or --a1-hash HASH); prints its id
 *
 * account/device go through the running node's admin endpoint when one runs (its embedded
 * store is locked by it); with no node running, or a CouchDB store, they open the store
 * themselves.
 *
 * Commands that talk to a running node find it through --admin URL, FIFE_ADMIN_URL, or
 * the admin.json the node wrote in its data folder (same --config / FIFE_* settings as
 * the node). Usage errors exit 2, failures 1, each with one clear line on stderr.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, nodeDir, ConfigError } from '../node/config.ts';
import { runForeground } from '../node/daemon.ts';
import { adminAuthHeader } from '../node/admin.ts';
import { renderTree, createRootLogger, type NodeTree } from '../kernel/index.ts';
import { openStore } from '../store/index.ts';
import { loadBuiltinApp } from '../node/app-loader.ts';

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Record<string, string | true>;
}

export function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (v !== undefined) flags[k] = v;
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) flags[k] = argv[++i]!;
      else flags[k] = true;
    } else positional.push(a);
  }
  return { positional, flags };
}

const USAGE = `usage: fife <command>
  start [--config FILE]            run a node until SIGTERM
  tree [--json]                    live supervision trees of a running node
  apps [list]                      apps of a running node
  nodes                            the cluster as a running node sees it
  apps start|stop|restart NAME     control an app on a running node
  kill NAME|PID [--reason R]       crash a process on purpose (fault injection)
  switch-sim [--port N] [...]      run the switch simulator alone
  account add --name NAME --realm REALM                     create an account (prints its id)
  device add --realm REALM --username USER --password PASS  create a SIP device (or --a1-hash HASH)
common: --config FILE, --admin URL (or FIFE_ADMIN_URL)`;

const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function adminBase(p: Parsed): string {
  const explicit = str(p.flags.admin) ?? process.env.FIFE_ADMIN_URL;
  if (explicit) return explicit.replace(/\/$/, '');
  const cfg = loadConfig({ file: str(p.flags.config) });
  const file = join(nodeDir(cfg), 'admin.json');
  if (!existsSync(file)) throw new Error(`no running node '${cfg.node}' found (no ${file}); start one with 'fife start' or pass --admin URL`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
}

async function admin(p: Parsed, method: string, path: string, body?: unknown): Promise<{ status: number; data: unknown }> {
  const base = adminBase(p);
  let res: Response;
  try {
    res = await fetch(base + path, { method, headers: { ...adminAuthHeader(process.env.FIFE_ADMIN_TOKEN ?? loadConfig({ file: str(p.flags.config) }).admin.token), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) }, body: method === 'GET' ? undefined : JSON.stringify(body ?? {}) });
  } catch (err) {
    throw new Error(`cannot reach the node at ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const text = await res.text();
  const data: unknown = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  return { status: res.status, data };
}

async function cmdStart(p: Parsed): Promise<void> {
  await runForeground(loadConfig({ file: str(p.flags.config) }));
}

async function cmdTree(p: Parsed): Promise<void> {
  const { data } = await admin(p, 'GET', '/tree');
  process.stdout.write(p.flags.json ? JSON.stringify(data, null, 2) + '\n' : renderTree(data as NodeTree) + '\n');
}

async function cmdApps(p: Parsed): Promise<void> {
  const [, sub = 'list', name] = p.positional;
  if (sub === 'list') {
    const { data } = await admin(p, 'GET', '/apps');
    for (const a of data as Array<{ name: string; state: string; restarts: number; lastFailure?: string }>) {
      process.stdout.write(`${a.name}\t${a.state}\trestarts=${a.restarts}${a.lastFailure ? `\tlast_failure=${a.lastFailure}` : ''}\n`);
    }
    return;
  }
  if (!['start', 'stop', 'restart'].includes(sub) || name === undefined) throw new UsageError(`fife apps ${sub}: expected start|stop|restart NAME`);
  const { status, data } = await admin(p, 'POST', `/apps/${encodeURIComponent(name)}/${sub}`);
  if (status !== 200) throw new Error(`${sub} ${name}: ${(data as { reason?: string }).reason ?? JSON.stringify(data)}`);
  process.stdout.write(`${name}: ${sub} ok\n`);
}

async function cmdNodes(p: Parsed): Promise<void> {
  const { data } = await admin(p, 'GET', '/nodes');
  for (const n of data as Array<{ node: string; apps: string[]; version?: string; uptimeS?: number; lastSeenMsAgo: number }>) {
    process.stdout.write(`${n.node}\tapps=${n.apps.join(',') || '-'}\tversion=${n.version ?? '?'}\tuptime=${n.uptimeS ?? '?'}s\tlast_seen=${n.lastSeenMsAgo}ms\n`);
  }
}

async function cmdKill(p: Parsed): Promise<void> {
  const target = p.positional[1];
  if (target === undefined) throw new UsageError('fife kill NAME|PID [--reason R]');
  const body = target.startsWith('<') ? { pid: target } : { name: target };
  const { status, data } = await admin(p, 'POST', '/kill', { ...body, reason: str(p.flags.reason) ?? 'killed' });
  if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
  process.stdout.write(`${JSON.stringify(data)}\n`);
}

/** The running node's admin URL, or undefined when none runs (no admin.json, or it is stale). */
async function runningNode(p: Parsed): Promise<string | undefined> {
  let base: string;
  try {
    base = adminBase(p);
  } catch {
    return undefined;
  }
  const up = await fetch(`${base}/health`).then(() => true, () => false);
  if (!up && (str(p.flags.admin) ?? process.env.FIFE_ADMIN_URL)) throw new Error(`cannot reach the node at ${base}`);
  return up ? base : undefined;
}

/**
 * Runs an operation an app declares: through the running node's admin endpoint when one
 * runs (the embedded store is held open by it), else on the configured store directly.
 */
async function runAppOperation(p: Parsed, app: string, op: string, input: Record<string, unknown>): Promise<unknown> {
  const cfg = loadConfig({ file: str(p.flags.config) });
  if (!/^https?:\/\//i.test(cfg.store) && (await runningNode(p)) !== undefined) {
    const { status, data } = await admin(p, 'POST', `/apps/${app}/ops/${op}`, input);
    if (status !== 200) throw new Error((data as { error?: string }).error ?? JSON.stringify(data));
    return (data as { result: unknown }).result;
  }
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

/** `fife account add` / `fife device add`: the registrar's add_account / add_device. */
async function cmdProvision(p: Parsed): Promise<void> {
  const [what, sub] = p.positional;
  if (sub !== 'add') throw new UsageError(`fife ${what} add ...`);
  const f = (k: string): string | undefined => str(p.flags[k]);
  const r = (
    what === 'account'
      ? await runAppOperation(p, 'registrar', 'add_account', { name: f('name') ?? '', realm: f('realm') ?? '' })
      : await runAppOperation(p, 'registrar', 'add_device', { realm: f('realm') ?? '', username: f('username') ?? '', password: f('password'), a1Hash: f('a1-hash'), name: f('name'), ownerId: f('owner-id') })
  ) as { id: string };
  process.stdout.write(`${r.id}\n`);
}

async function cmdSwitchSim(argv: string[]): Promise<void> {
  const { runSwitchSim } = await import('../switch/sim-main.ts');
  await runSwitchSim(argv);
}

export async function main(argv: string[]): Promise<void> {
  const p = parseArgs(argv);
  const cmd = p.positional[0];
  try {
    switch (cmd) {
      case 'start':
        return await cmdStart(p);
      case 'tree':
        return await cmdTree(p);
      case 'apps':
        return await cmdApps(p);
      case 'kill':
        return await cmdKill(p);
      case 'nodes':
        return await cmdNodes(p);
      case 'switch-sim':
        return await cmdSwitchSim(argv.slice(1));
      case 'account':
      case 'device':
        return await cmdProvision(p);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(USAGE + '\n');
        return;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof ConfigError;
    process.stderr.write(`fife: ${(err as Error).message}${err instanceof UsageError ? `\n${USAGE}` : ''}\n`);
    process.exit(usage ? 2 : 1);
  }
}
