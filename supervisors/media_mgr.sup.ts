/**
 * media_mgr_sup: the media_mgr WhApp's tree (Kazoo's media_mgr_sup with its media proxy).
 *
 *   media_mgr_sup (one_for_one, 5 restarts in 10 s)
 *   └── media_http   media_mgr_http   the HTTP store proxy (apps/media_mgr/http-server.ts)
 *
 * Arguments are configuration only; no I/O when the spec is built.
 */
import type { SupervisorSpec } from '../src/kernel/index.ts';
import type { DocumentStore } from '../src/store/index.ts';
import { mediaHttpChildSpec } from '../apps/media_mgr/http-server.ts';
import { mediaMgrSettings } from '../apps/media_mgr/settings.ts';

export interface MediaMgrServices {
  store: DocumentStore;
  config?: { settings?: Record<string, Record<string, unknown>> };
}

export function mediaMgrTree(
  services: MediaMgrServices,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SupervisorSpec {
  const settings = mediaMgrSettings(services.config?.settings?.media_mgr, env);
  return {
    flags: { strategy: 'one_for_one', intensity: 5, period: 10 },
    children: [mediaHttpChildSpec({ store: services.store, settings })],
  };
}
