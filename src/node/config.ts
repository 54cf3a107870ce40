/**
 * Node configuration: a JSON file plus environment overrides, checked once at start
 * against one JSON Schema (ajv).
 *
 * Sources, later wins: defaults, the config file (`--config PATH` or FIFE_CONFIG), then
 * environment variables (ENV_KEYS below):
 *   FIFE_NODE        node name                     (default fife@<hostname>)
 *   FIFE_APPS        comma-separated app names     (default: the platform, below; '' = none)
 *   FIFE_BUS_URL     'embedded' or amqp:// URLs    (default embedded)
 *   FIFE_STORE_URL   'embedded', a folder, or an http:// CouchDB URL (default embedded)
 *   FIFE_DATA_DIR    where the node keeps its data (default ./data)
 *   FIFE_ADMIN_HOST / FIFE_ADMIN_PORT   admin endpoint (default 127.0.0.1, port 0 = any free port)
 *   FIFE_ADMIN_TOKEN token the admin endpoint asks for (default none)
 *   FIFE_LOG_LEVEL   pino level                    (default info)
 *   FIFE_PLUGINS     comma-separated plugin WhApps: paths of modules or folders, or package
 *                    names, resolved as Node does from the config file's folder (else the
 *                    working directory; `pluginsFrom`)
 *   FIFE_HEARTBEAT_MS  how often the node announces itself on the bus (default 5000)
 *   FIFE_ZONE        the node's zone, announced in its heartbeat (default local)
 *   FIFE_APP_TYPES   application types, `app:type,...` (file: `appTypes` {app: type});
 *                    permanent | transient | temporary, default temporary (apps-controller.ts)
 *
 * Contract
 * - `loadConfig({file, env})` returns a checked NodeConfig or throws ONE ConfigError whose
 *   message lists every problem, each naming its key as written (`admin.port`, `apps[1]`)
 *   or, for a value that came from the environment, its variable (`FIFE_ADMIN_PORT`):
 *   a wrong type (`dataDir must be a string, got 42`), a value out of range, or an
 *   unknown key at any level (`unknown key 'admin.prot' (did you mean 'admin.port'?)`).
 *   Nothing starts on a bad config.
 * - `settings` is free-form per app (`settings.<app>` must be an object; each app checks
 *   its own settings).
 * - Apps named neither in the file nor in FIFE_APPS: the platform (`platformApps`), i.e.
 *   registrar, callflow and crossbar, with ecallmgr before callflow when a switch is
 *   configured (`settings.ecallmgr.switches` non-empty or FIFE_ECALLMGR_SWITCHES set);
 *   `appsFromDefaults` is then true, so the node can say what it left out. An empty
 *   FIFE_APPS (or `apps: []`) runs no app.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { APP_TYPES, type AppType } from '../kernel/app-types.ts';

export interface NodeConfig {
  node: string;
  apps: string[];
  bus: string;
  store: string;
  dataDir: string;
  admin: { host: string; port: number; token?: string };
  logLevel: string;
  plugins: string[];
  /** The folder a plugin named by its package name is resolved from: the config file's, else the working directory. */
  pluginsFrom?: string;
  heartbeatMs: number;
  /** True when `apps` is the platform's default list (nothing named apps). */
  appsFromDefaults?: boolean;
  /** The node's zone (Kazoo's zones): announced in its heartbeat, shown by `fife nodes`. */
  zone: string;
  /** OTP application type per app name; apps not named are DEFAULT_APP_TYPE (temporary). */
  appTypes: Record<string, AppType>;
  /** Free-form per-app settings: config.settings[appName]. */
  settings: Record<string, Record<string, unknown>>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The config file's schema; `description` is what an out-of-range value is told to be. */
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    node: { type: 'string', pattern: '^[\\w.-]+@[\\w.-]+$', description: 'name@host' },
    apps: {
      type: 'array',
      items: {
        type: 'string',
        pattern: '^[a-z][\\w-]*$',
        description: 'an app name (lowercase letters, digits, - and _)',
      },
    },
    bus: {
      type: 'string',
      pattern: '^(embedded$|amqps?://)',
      description: "'embedded' or amqp:// URLs (comma-separated)",
    },
    store: {
      type: 'string',
      minLength: 1,
      description: "'embedded', a folder, or an http(s):// CouchDB URL",
    },
    dataDir: { type: 'string', minLength: 1, description: 'a folder' },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1, description: 'an address to listen on' },
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          description: 'a port 0..65535 (0: any free port)',
        },
        token: { type: 'string', minLength: 1, description: 'a non-empty token' },
      },
    },
    logLevel: { type: 'string', enum: LEVELS, description: `one of ${LEVELS.join(', ')}` },
    plugins: {
      type: 'array',
      items: { type: 'string', minLength: 1, description: 'a module path or a package name' },
    },
    heartbeatMs: { type: 'integer', minimum: 100, description: 'a whole number of ms >= 100' },
    zone: {
      type: 'string',
      pattern: '^[\\w.-]+$',
      description: 'a zone name (letters, digits, _ . -)',
    },
    appTypes: {
      type: 'object',
      additionalProperties: {
        type: 'string',
        enum: APP_TYPES,
        description: `one of ${APP_TYPES.join(', ')}`,
      },
      description: 'an object of app name -> application type',
    },
    settings: {
      type: 'object',
      additionalProperties: { type: 'object' },
      description: 'an object of per-app objects',
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, verbose: true, strict: true }).compile(SCHEMA);

/** Environment variable -> config key path; `list` values are comma-separated, `int` numeric. */
const ENV_KEYS: Array<{ name: string; path: string[]; kind?: 'list' | 'int' | 'map' }> = [
  { name: 'FIFE_NODE', path: ['node'] },
  { name: 'FIFE_APPS', path: ['apps'], kind: 'list' },
  { name: 'FIFE_BUS_URL', path: ['bus'] },
  { name: 'FIFE_STORE_URL', path: ['store'] },
  { name: 'FIFE_DATA_DIR', path: ['dataDir'] },
  { name: 'FIFE_ADMIN_HOST', path: ['admin', 'host'] },
  { name: 'FIFE_ADMIN_PORT', path: ['admin', 'port'], kind: 'int' },
  { name: 'FIFE_ADMIN_TOKEN', path: ['admin', 'token'] },
  { name: 'FIFE_LOG_LEVEL', path: ['logLevel'] },
  { name: 'FIFE_PLUGINS', path: ['plugins'], kind: 'list' },
  { name: 'FIFE_HEARTBEAT_MS', path: ['heartbeatMs'], kind: 'int' },
  { name: 'FIFE_ZONE', path: ['zone'] },
  { name: 'FIFE_APP_TYPES', path: ['appTypes'], kind: 'map' },
];

export function defaultConfig(): NodeConfig {
  return {
    node: `fife@${hostname()}`,
    apps: [],
    bus: 'embedded',
    store: 'embedded',
    dataDir: './data',
    admin: { host: '127.0.0.1', port: 0 },
    logLevel: 'info',
    plugins: [],
    heartbeatMs: 5000,
    zone: 'local',
    appTypes: {},
    settings: {},
  };
}

/**
 * What `fife start` runs when no app is named: the platform a first run needs (SIP
 * registrations, call routing, the REST API), and the switch bridge when a switch is
 * configured (without one ecallmgr would only retry a connection to nothing).
 */
export function platformApps(settings: unknown, env: NodeJS.ProcessEnv): string[] {
  const ecallmgr = (settings as { ecallmgr?: { switches?: unknown } } | undefined)?.ecallmgr;
  const switches =
    (Array.isArray(ecallmgr?.switches) && ecallmgr.switches.length > 0) ||
    (env.FIFE_ECALLMGR_SWITCHES ?? '').trim() !== '';
  return switches ? ['registrar', 'ecallmgr', 'callflow', 'crossbar'] : ['registrar', 'callflow', 'crossbar'];
}

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** `a:permanent, b:temporary` -> {a: 'permanent', b: 'temporary'} (an item without `:` maps to ''). */
const map = (s: string): Record<string, string> =>
  Object.fromEntries(
    list(s).map((item) => {
      const i = item.indexOf(':');
      return i < 0 ? [item, ''] : [item.slice(0, i).trim(), item.slice(i + 1).trim()];
    }),
  );

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): NodeConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.FIFE_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file !== undefined && file !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ConfigError(`config file ${file} must hold a JSON object`);
    raw = parsed as Record<string, unknown>;
  }
  const defaults = defaultConfig();
  const admin = raw.admin;
  const cfg: Record<string, unknown> = {
    ...defaults,
    ...raw,
    // A non-object `admin` is left as is for the schema to name it.
    admin:
      typeof admin === 'object' && admin !== null && !Array.isArray(admin)
        ? { ...defaults.admin, ...admin }
        : (admin ?? defaults.admin),
  };
  const fromEnv = new Map<string, string>();
  for (const { name, path, kind } of ENV_KEYS) {
    const v = env[name];
    if (v === undefined || (v === '' && kind !== 'list' && kind !== 'map')) continue;
    const value =
      kind === 'list'
        ? list(v)
        : kind === 'map'
          ? map(v)
          : kind === 'int' && /^-?\d+$/.test(v.trim())
            ? Number(v)
            : v;
    let target = cfg;
    for (const k of path.slice(0, -1)) {
      if (typeof target[k] !== 'object' || target[k] === null) target[k] = {};
      target = target[k] as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
    fromEnv.set(path.join('.'), name);
  }
  if (!validate(cfg)) {
    const problems = [...new Set((validate.errors ?? []).map((e) => describeError(e, fromEnv)))];
    throw new ConfigError(`bad config${file ? ` (${file})` : ''}: ${problems.join('; ')}`);
  }
  const c = cfg as unknown as NodeConfig;
  c.dataDir = resolve(c.dataDir);
  c.pluginsFrom = file !== undefined && file !== '' ? dirname(resolve(file)) : process.cwd();
  if (!('apps' in raw) && !fromEnv.has('apps')) {
    c.apps = platformApps(c.settings, env);
    c.appsFromDefaults = true;
  }
  return c;
}

/** `/admin/port` -> `admin.port`; `/apps/1` -> `apps[1]`. */
function keyOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));
const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  array: 'a list',
  object: 'an object',
  boolean: 'true or false',
};

function describeError(e: ErrorObject, fromEnv: Map<string, string>): string {
  const key = keyOf(e.instancePath);
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
    const prefix = key === '' ? '' : `${key}.`;
    const near = closest(extra, known);
    return `unknown key '${prefix}${extra}'${near === undefined ? '' : ` (did you mean '${prefix}${near}'?)`}`;
  }
  // A value from the environment is named by its variable (list items by the list's,
  // map items by the map's with their key).
  const parent = key.replace(/\[\d+\]$/, '');
  const mapKey = /^([^.[]+)\.(.+)$/.exec(key);
  const envName =
    fromEnv.get(key) ??
    (fromEnv.has(parent) ? `${fromEnv.get(parent)} item` : undefined) ??
    (mapKey && fromEnv.has(mapKey[1]!) ? `${fromEnv.get(mapKey[1]!)} item '${mapKey[2]}'` : undefined);
  const name = envName ?? key;
  if (e.keyword === 'type') {
    const t = (e.params as { type: string | string[] }).type;
    return `${name} must be ${[t]
      .flat()
      .map((x) => TYPE_WORDS[x] ?? x)
      .join(' or ')}, got ${show(e.data)}`;
  }
  const what = (e.parentSchema as { description?: string } | undefined)?.description ?? e.message ?? 'valid';
  return `${name} must be ${what}, got ${show(e.data)}`;
}

/** The candidate nearest to `word` by edit distance (undefined when there is none). */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Where a node keeps its files: <dataDir>/<node name>. */
export const nodeDir = (c: NodeConfig): string => resolve(c.dataDir, c.node.replace(/[^\w.@-]/g, '_'));
