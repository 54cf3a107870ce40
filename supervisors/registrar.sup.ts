/**
 * registrar_sup: the registrar WhApp's tree.
 *
 *   registrar_sup (rest_for_one, 5 restarts in 30 s)
 *   ├── reg_tables              TableKeeper: heir of the tables below while their owner restarts
 *   ├── reg_store               gen_server: batched writer of registration documents; its
 *   │                           pending writes in registrar_reg_writes (kept by reg_tables)
 *   ├── reg_server              gen_listener on registrar_listener_reg_success (acked after the
 *   │                           database write): reg_success; owns the registration tables
 *   │                           (registrar_registrations, registrar_reg_users) and the sweep
 *   └── reg_authn               gen_listener on registrar_listener (no ack): authn_req on both
 *                               namings, reg_query; owns registrar_credentials and its change
 *                               feeds; reads reg_server's tables without a message
 *
 * The children's arguments are configuration only: what must outlive a restart is in the
 * tables, which the keeper holds between an owner's death and its successor's claim.
 */
import { TableKeeper, type SupervisorSpec } from '../src/kernel/index.ts';
import type { BusTransport } from '../src/bus/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import { REG_TABLES, regServerChildSpec } from '../apps/registrar/reg-server.ts';
import { regStoreChildSpec } from '../apps/registrar/reg-store.ts';
import { REGISTRATIONS_DB } from '../apps/registrar/databases.ts';
import { regAuthnChildSpec } from '../apps/registrar/reg-authn.ts';
import { registrarSettings } from '../apps/registrar/settings.ts';
import { FIFE_VERSION } from '../src/version.ts';

export interface RegistrarServices {
  store: DocumentStore;
  bus: BusTransport;
  config?: { settings?: Record<string, Record<string, unknown>> };
}

export function registrarTree(
  services: RegistrarServices,
  opts: { appVersion?: string } = {},
): SupervisorSpec {
  const settings = registrarSettings(services.config?.settings?.registrar);
  const args = { store: services.store, settings, appVersion: opts.appVersion ?? FIFE_VERSION };
  return {
    flags: { strategy: 'rest_for_one', intensity: 5, period: 30 },
    children: [
      TableKeeper.childSpec(REG_TABLES, { name: REG_TABLES }),
      regStoreChildSpec({ store: services.store, db: REGISTRATIONS_DB, keeper: REG_TABLES }),
      regServerChildSpec(args, services.bus),
      regAuthnChildSpec({ ...args, transport: services.bus }),
    ],
  };
}
