/**
 * Node configuration: a JSON file plus environment overrides, checked once at start.
 *
 * Sources, later wins: defaults, the config file (`--config PATH` or FIFE_CONFIG), then
 * environment variables:
 *   FIFE_NODE        node name                     (default fife@<hostname>)
 *   FIFE_APPS        comma-separated app names     (default none)
 *   FIFE_BUS_URL     'embedded' or amqp:// URLs    (default embedded)
 *   FIFE_STORE_URL   'embedded', a folder, or an http:// CouchDB URL (default embedded)
 *   FIFE_DATA_DIR    where the node keeps its data (default ./data)
 *   FIFE_ADMIN_HOST / FIFE_ADMIN_PORT   admin endpoint (default 127.0.0.1, port 0 = any free port)
 *   FIFE_ADMIN_TOKEN the admin endpoint's bearer token (required for a non-loopback host)
 *   FIFE_LOG_LEVEL   pino level                    (default info)
 *   FIFE_PLUGINS     comma-separated paths of plugin WhApp modules
 *   FIFE_HEARTBEAT_MS  how often the node announces itself on the bus (default 5000)
 * A bad value is a ConfigError naming the key and what is allowed; nothing starts.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export interface NodeConfig {
  node: string;
  apps: string[];
  bus: string;
  store: string;
  dataDir: string;
  admin: { host: string; port: number; token?: string };
  logLevel: string;
  plugins: string[];
  heartbeatMs: number;
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
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

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
    settings: {},
  };
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): NodeConfig {
  const env = opts.env ?? process.env;
  const cfg = defaultConfig();
  const file = opts.file ?? env.FIFE_CONFIG;
  if (file !== undefined && file !== '') {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${file} must hold a JSON object`);
    Object.assign(cfg, raw);
    cfg.admin = { ...defaultConfig().admin, ...(raw as { admin?: object }).admin };
  }
  if (env.FIFE_NODE) cfg.node = env.FIFE_NODE;
  if (env.FIFE_APPS !== undefined) cfg.apps = list(env.FIFE_APPS);
  if (env.FIFE_BUS_URL) cfg.bus = env.FIFE_BUS_URL;
  if (env.FIFE_STORE_URL) cfg.store = env.FIFE_STORE_URL;
  if (env.FIFE_DATA_DIR) cfg.dataDir = env.FIFE_DATA_DIR;
  if (env.FIFE_ADMIN_HOST) cfg.admin.host = env.FIFE_ADMIN_HOST;
  if (env.FIFE_ADMIN_PORT) cfg.admin.port = Number(env.FIFE_ADMIN_PORT);
  if (env.FIFE_ADMIN_TOKEN) cfg.admin.token = env.FIFE_ADMIN_TOKEN;
  if (env.FIFE_LOG_LEVEL) cfg.logLevel = env.FIFE_LOG_LEVEL;
  if (env.FIFE_PLUGINS !== undefined) cfg.plugins = list(env.FIFE_PLUGINS);
  if (env.FIFE_HEARTBEAT_MS) cfg.heartbeatMs = Number(env.FIFE_HEARTBEAT_MS);
  return check(cfg);
}

function check(c: NodeConfig): NodeConfig {
  if (typeof c.node !== 'string' || !/^[\w.-]+@[\w.-]+$/.test(c.node)) throw new ConfigError(`node must look like name@host, got '${String(c.node)}'`);
  if (!Array.isArray(c.apps) || !c.apps.every((a) => typeof a === 'string' && /^[a-z][\w-]*$/.test(a))) throw new ConfigError(`apps must be a list of app names (lowercase), got ${JSON.stringify(c.apps)}`);
  if (!Array.isArray(c.plugins) || !c.plugins.every((p) => typeof p === 'string')) throw new ConfigError('plugins must be a list of module paths');
  if (typeof c.bus !== 'string' || !(c.bus === 'embedded' || /^amqps?:\/\//.test(c.bus))) throw new ConfigError(`bus must be 'embedded' or amqp:// URLs, got '${String(c.bus)}'`);
  if (typeof c.store !== 'string' || c.store === '') throw new ConfigError("store must be 'embedded', a folder, or an http(s):// CouchDB URL");
  if (!Number.isInteger(c.admin.port) || c.admin.port < 0 || c.admin.port > 65535) throw new ConfigError(`admin port must be 0..65535, got ${String(c.admin.port)}`);
  if (!LEVELS.includes(c.logLevel)) throw new ConfigError(`logLevel must be one of ${LEVELS.join(', ')}, got '${c.logLevel}'`);
  if (!Number.isInteger(c.heartbeatMs) || c.heartbeatMs < 100) throw new ConfigError(`heartbeatMs must be a whole number of ms >= 100, got ${String(c.heartbeatMs)}`);
  if (typeof c.settings !== 'object' || c.settings === null) throw new ConfigError('settings must be an object of per-app objects');
  c.dataDir = resolve(c.dataDir);
  return c;
}

/** Where a node keeps its files: <dataDir>/<node name>. */
export const nodeDir = (c: NodeConfig): string => resolve(c.dataDir, c.node.replace(/[^\w.@-]/g, '_'));
