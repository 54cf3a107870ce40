/**
 * crossbar's settings: `settings.crossbar` in the node's config file, every key optional,
 * with FIFE_CROSSBAR_* environment overrides. `crossbarSettings(raw, env)` fills defaults
 * and refuses bad values with a message naming the key (or the variable).
 *
 *   host            address the REST API binds (default 127.0.0.1; FIFE_CROSSBAR_HOST)
 *   port            its TCP port (default 8000, Kazoo's; 0 = any free port; FIFE_CROSSBAR_PORT)
 *   max_body_bytes  the largest request body taken (default 1 MiB); larger is 413
 *   token_ttl_s     lifetime of an auth token in seconds (default 3600, Kazoo's)
 *   page_size       listing page size when the request names none (default 50, Kazoo's)
 */
export interface CrossbarSettings {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly tokenTtlS: number;
  readonly pageSize: number;
}

export const DEFAULT_CROSSBAR_PORT = 8000;

const fail = (what: string): never => {
  throw new Error(`crossbar settings: ${what}`);
};

function positiveInt(r: Record<string, unknown>, key: string, dflt: number): number {
  const v = r[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    fail(`settings.crossbar.${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

export function crossbarSettings(
  raw: Record<string, unknown> | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): CrossbarSettings {
  const r = raw ?? {};
  const pick = (key: string, envName: string): { value: unknown; from: string } => {
    const e = env[envName];
    return e !== undefined && e.trim() !== ''
      ? { value: e.trim(), from: envName }
      : { value: r[key], from: `settings.crossbar.${key}` };
  };
  const host = pick('host', 'FIFE_CROSSBAR_HOST');
  if (host.value !== undefined && (typeof host.value !== 'string' || host.value === ''))
    fail(`${host.from} must be a host name or address`);
  const port = pick('port', 'FIFE_CROSSBAR_PORT');
  const portNum = port.value === undefined ? DEFAULT_CROSSBAR_PORT : Number(port.value);
  if (!Number.isInteger(portNum) || portNum < 0 || portNum > 65535)
    fail(`${port.from} must be a TCP port (0-65535), got ${JSON.stringify(port.value)}`);
  return {
    host: (host.value as string | undefined) ?? '127.0.0.1',
    port: portNum,
    maxBodyBytes: positiveInt(r, 'max_body_bytes', 1024 * 1024),
    tokenTtlS: positiveInt(r, 'token_ttl_s', 3600),
    pageSize: positiveInt(r, 'page_size', 50),
  };
}
