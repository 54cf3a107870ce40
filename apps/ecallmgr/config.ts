/**
 * ecallmgr settings: which switches to connect to, and the timings of its call
 * processes. Pure: reads a settings object and an environment, returns checked values.
 *
 * Contract
 * - `ecallmgrSettings(settings, env)`: `settings` is `config.settings.ecallmgr` (may be
 *   undefined). Switches come from `settings.switches` (a list of `{host, port?,
 *   password?, name?}`), or, when FIFE_ECALLMGR_SWITCHES is set, from it instead
 *   (comma-separated `[password@]host:port`). Port defaults to 8021, password to ClueCon,
 *   name to `freeswitch@<host>:<port>`.
 * - Timings (ms, all optional in settings): `fetchTimeoutMs` (route_req wait, Kazoo's
 *   2600), `authnTimeoutMs` (2000), `keepAliveMs` (how long call_control lingers after
 *   hangup for post-hangup commands, Kazoo's 2000), `nodeDownMaxMs` (how long a call
 *   waits for its switch to come back, Kazoo's 10000), `originateReadyMs` (how long an
 *   originate that sent originate_ready waits for originate_execute, Kazoo's 5000),
 *   `channelCheckMs` (how often call_control asks the switch whether a call's channel still
 *   exists, Kazoo's call_control sanity check period, 300000; at least 100),
 *   `defaultRealm` (route_req realm when the call carries none).
 * - Anything malformed throws an Error that names the key and what is accepted.
 */

export interface SwitchConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

export interface EcallmgrSettings {
  readonly switches: readonly SwitchConfig[];
  readonly fetchTimeoutMs: number;
  readonly authnTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly originateReadyMs: number;
  readonly nodeDownMaxMs: number;
  readonly channelCheckMs: number;
  readonly defaultRealm: string;
}

const fail = (what: string): never => {
  throw new Error(`ecallmgr settings: ${what}`);
};

function switchOf(raw: unknown, where: string): SwitchConfig {
  if (typeof raw !== 'object' || raw === null)
    return fail(`${where} must be an object {host, port?, password?, name?}`);
  const r = raw as Record<string, unknown>;
  if (typeof r.host !== 'string' || r.host === '') return fail(`${where}.host must be a non-empty string`);
  const port = r.port === undefined ? 8021 : Number(r.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    return fail(`${where}.port must be a TCP port, got ${String(r.port)}`);
  if (r.password !== undefined && typeof r.password !== 'string')
    return fail(`${where}.password must be a string`);
  if (r.name !== undefined && (typeof r.name !== 'string' || r.name === ''))
    return fail(`${where}.name must be a non-empty string`);
  return {
    host: r.host,
    port,
    password: (r.password as string | undefined) ?? 'ClueCon',
    name: (r.name as string | undefined) ?? `freeswitch@${r.host}:${port}`,
  };
}

/** `[password@]host:port,...` as FIFE_ECALLMGR_SWITCHES spells it. */
export function parseSwitchList(text: string): SwitchConfig[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i) => {
      const at = entry.lastIndexOf('@');
      const password = at >= 0 ? entry.slice(0, at) : undefined;
      const hostPort = at >= 0 ? entry.slice(at + 1) : entry;
      const colon = hostPort.lastIndexOf(':');
      const host = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
      const port = colon >= 0 ? hostPort.slice(colon + 1) : undefined;
      return switchOf({ host, port, password }, `FIFE_ECALLMGR_SWITCHES entry ${i + 1} ('${host}')`);
    });
}

function ms(settings: Record<string, unknown>, key: string, dflt: number): number {
  const v = settings[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    return fail(`${key} must be a number of ms >= 0, got ${JSON.stringify(v)}`);
  return v;
}

function atLeast(v: number, min: number, key: string): number {
  return v < min ? fail(`${key} must be at least ${min} ms, got ${v}`) : v;
}

export function ecallmgrSettings(
  settings: Record<string, unknown> | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): EcallmgrSettings {
  const s = settings ?? {};
  let switches: SwitchConfig[];
  const fromEnv = env.FIFE_ECALLMGR_SWITCHES;
  if (fromEnv !== undefined && fromEnv.trim() !== '') switches = parseSwitchList(fromEnv);
  else if (s.switches === undefined) switches = [];
  else if (!Array.isArray(s.switches))
    return fail('switches must be a list of {host, port?, password?, name?}');
  else switches = s.switches.map((x, i) => switchOf(x, `switches[${i}]`));
  const names = new Set<string>();
  for (const sw of switches) {
    if (names.has(sw.name)) fail(`two switches are named '${sw.name}': give them distinct names`);
    names.add(sw.name);
  }
  const realm = s.defaultRealm ?? 'fife.local';
  if (typeof realm !== 'string' || realm === '') fail('defaultRealm must be a non-empty string');
  return {
    switches,
    fetchTimeoutMs: ms(s, 'fetchTimeoutMs', 2600),
    authnTimeoutMs: ms(s, 'authnTimeoutMs', 2000),
    keepAliveMs: ms(s, 'keepAliveMs', 2000),
    originateReadyMs: ms(s, 'originateReadyMs', 5000),
    nodeDownMaxMs: ms(s, 'nodeDownMaxMs', 10_000),
    channelCheckMs: atLeast(ms(s, 'channelCheckMs', 300_000), 100, 'channelCheckMs'),
    defaultRealm: realm as string,
  };
}
