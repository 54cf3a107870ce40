/**
 * media_mgr's settings: `settings.media_mgr` in the node's config file, every key optional,
 * with FIFE_MEDIA_MGR_* environment overrides as the node's own settings have.
 * `mediaMgrSettings(raw, env)` fills defaults and refuses bad values with a message naming
 * the key (or the variable).
 *
 *   host            address the HTTP server binds (default 127.0.0.1; FIFE_MEDIA_MGR_HOST)
 *   port            its TCP port (default 24517, Kazoo's media proxy port; 0 = any free
 *                   port; FIFE_MEDIA_MGR_PORT)
 *   url             the base URL other apps hand out (to a switch on another host), when
 *                   it is not `http://host:port` (FIFE_MEDIA_MGR_URL)
 *   max_body_bytes  the largest PUT body taken (default 32 MiB, as the store's attachment
 *                   limit)
 */
export interface MediaMgrSettings {
  readonly host: string;
  readonly port: number;
  readonly url: string | undefined;
  readonly maxBodyBytes: number;
}

export const DEFAULT_MEDIA_PORT = 24517;

const fail = (what: string): never => {
  throw new Error(`media_mgr settings: ${what}`);
};

export function mediaMgrSettings(
  raw: Record<string, unknown> | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): MediaMgrSettings {
  const r = raw ?? {};
  const pick = (key: string, envName: string): { value: unknown; from: string } => {
    const e = env[envName];
    return e !== undefined && e.trim() !== ''
      ? { value: e.trim(), from: envName }
      : { value: r[key], from: `settings.media_mgr.${key}` };
  };
  const host = pick('host', 'FIFE_MEDIA_MGR_HOST');
  if (host.value !== undefined && (typeof host.value !== 'string' || host.value === ''))
    fail(`${host.from} must be a host name or address`);
  const port = pick('port', 'FIFE_MEDIA_MGR_PORT');
  const portNum = port.value === undefined ? DEFAULT_MEDIA_PORT : Number(port.value);
  if (!Number.isInteger(portNum) || portNum < 0 || portNum > 65535)
    fail(`${port.from} must be a TCP port (0-65535), got ${JSON.stringify(port.value)}`);
  const url = pick('url', 'FIFE_MEDIA_MGR_URL');
  if (url.value !== undefined && (typeof url.value !== 'string' || !/^https?:\/\/[^/]+$/.test(url.value)))
    fail(
      `${url.from} must be a base URL such as http://media1.example.com:24517, got ${JSON.stringify(url.value)}`,
    );
  const max = r.max_body_bytes ?? 32 * 1024 * 1024;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
    fail(`settings.media_mgr.max_body_bytes must be a positive integer, got ${JSON.stringify(max)}`);
  return {
    host: (host.value as string | undefined) ?? '127.0.0.1',
    port: portNum,
    url: url.value as string | undefined,
    maxBodyBytes: max as number,
  };
}
