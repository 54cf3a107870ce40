/**
 * registrar_sup: the registrar WhApp's tree.
 *
 *   registrar_sup (rest_for_one, 5 restarts in 30 s)
 *   ├── reg_server              gen_listener on registrar_listener_reg_success (acked after the
 *   │                           database write): reg_success; owns the cache, the registration
 *   │                           table and the expiry sweep (a restart re-primes from the database)
 *   └── reg_authn               gen_listener on registrar_listener (no ack): authn_req on both
 *                               namings, reg_query; answers from reg_server's core
 */
import type { SupervisorSpec } from '../src/kernel/index.ts';
import type { BusTransport } from '../src/bus/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import { RegServerArgs, regServerChildSpec } from '../apps/registrar/reg-server.ts';
import { RegAuthnArgs, regAuthnChildSpec } from '../apps/registrar/reg-authn.ts';
import { registrarSettings } from '../apps/registrar/settings.ts';
import { FIFE_VERSION } from '../src/version.ts';

export interface RegistrarServices {
  store: DocumentStore;
  bus: BusTransport;
  config?: { settings?: Record<string, Record<string, unknown>> };
}

export function registrarTree(services: RegistrarServices, opts: { appVersion?: string } = {}): SupervisorSpec {
  const settings = registrarSettings(services.config?.settings?.registrar);
  const core = new RegServerArgs(services.store, settings, opts.appVersion ?? FIFE_VERSION);
  return {
    flags: { strategy: 'rest_for_one', intensity: 5, period: 30 },
    children: [
      regServerChildSpec(core, services.bus),
      regAuthnChildSpec(new RegAuthnArgs(core, services.bus), services.bus),
    ],
  };
}
