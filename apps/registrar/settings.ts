/**
 * The registrar's settings: `settings.registrar` in the node's config file, every key
 * optional. `registrarSettings(raw)` fills defaults and refuses bad values with a message
 * naming the key.
 *
 *   queue              the shared, named queue (Kazoo: registrar_listener)
 *   sweep_interval_ms  how often expired registrations are swept (default 15000)
 *   cache_max_entries  StoreCache bound (default 500000: credentials + registrations)
 *   concurrency        responders running at once (default 256)
 *   prefetch           unacked deliveries in flight (default 512)
 *   prime_credentials  load every device's SIP credentials into the cache at start (default
 *                      true; one view query per account): the first REGISTER of each phone
 *                      after a start is answered from memory. false: loaded on first use.
 *   authn_ack          ack authn_req/reg_query only once answered (default false: Kazoo's
 *                      no-ack consumption, ~10 % faster on RabbitMQ). Requests in flight in
 *                      a registrar that dies are then lost and the proxy asks again after its
 *                      timeout (Fife's Kamailio config does, once); true: they are delivered
 *                      again to the restarted registrar.
 */
export interface RegistrarSettings {
  queue: string;
  sweepIntervalMs: number;
  cacheMaxEntries: number;
  concurrency: number;
  prefetch: number;
  authnAck: boolean;
  primeCredentials: boolean;
}

const DEFAULTS: RegistrarSettings = {
  queue: 'registrar_listener',
  sweepIntervalMs: 15_000,
  cacheMaxEntries: 500_000,
  concurrency: 256,
  prefetch: 512,
  authnAck: false,
  primeCredentials: true,
};

export function registrarSettings(raw: Record<string, unknown> | undefined): RegistrarSettings {
  const r = raw ?? {};
  const num = (key: string, dflt: number): number => {
    const v = r[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new Error(`settings.registrar.${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = r[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean')
      throw new Error(`settings.registrar.${key} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const queue = r.queue ?? DEFAULTS.queue;
  if (typeof queue !== 'string' || queue === '')
    throw new Error('settings.registrar.queue must be a non-empty queue name');
  return {
    queue,
    sweepIntervalMs: num('sweep_interval_ms', DEFAULTS.sweepIntervalMs),
    cacheMaxEntries: num('cache_max_entries', DEFAULTS.cacheMaxEntries),
    concurrency: num('concurrency', DEFAULTS.concurrency),
    prefetch: num('prefetch', DEFAULTS.prefetch),
    authnAck: bool('authn_ack', DEFAULTS.authnAck),
    primeCredentials: bool('prime_credentials', DEFAULTS.primeCredentials),
  };
}
