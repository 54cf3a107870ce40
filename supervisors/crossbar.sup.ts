/**
 * crossbar_sup: the crossbar WhApp's tree (Kazoo's crossbar_sup with its cowboy listener).
 *
 *   crossbar_sup (one_for_one, 5 restarts in 10 s)
 *   └── crossbar_http   crossbar_http   the REST API v2 server (apps/crossbar/http-server.ts)
 *
 * Arguments are configuration only; no I/O when the spec is built.
 */
import type { SupervisorSpec } from '../src/kernel/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import type { BusTransport } from '../src/bus/index.ts';
import { crossbarHttpChildSpec } from '../apps/crossbar/http-server.ts';
import { crossbarSettings } from '../apps/crossbar/settings.ts';

export interface CrossbarServices {
  store: DocumentStore;
  /** The bus the registrar is asked on (devices' status). */
  bus?: BusTransport;
  config?: { settings?: Record<string, Record<string, unknown>> };
}

export function crossbarTree(
  services: CrossbarServices,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SupervisorSpec {
  const settings = crossbarSettings(services.config?.settings?.crossbar, env);
  return {
    flags: { strategy: 'one_for_one', intensity: 5, period: 10 },
    children: [crossbarHttpChildSpec({ store: services.store, bus: services.bus, settings })],
  };
}
