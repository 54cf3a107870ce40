/**
 * The media_mgr WhApp: Kazoo's media proxy. Switches HTTP-PUT recordings (voicemail
 * messages) to it and GET media for playback; the media are attachments in the document
 * store. Its tree is supervisors/media_mgr.sup.ts; routes in store-proxy.ts; settings
 * (`settings.media_mgr`, FIFE_MEDIA_MGR_*) in settings.ts.
 *
 * Other apps build URLs with `mediaStoreUrl(mediaBaseUrl(runtime), db, doc, name)`
 * (media-urls.ts). Operations: `base_url` ({} -> {url}) and `store_url` ({db, doc,
 * attachment} -> {url}); both answer `not_started` while the app's server is not up.
 */
import type { AppDefinition } from '../../src/kernel/index.ts';
import type { NodeServices } from '../../src/node/node.ts';
import { mediaMgrTree } from '../../supervisors/media_mgr.sup.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { mediaBaseUrl, mediaStoreUrl } from './media-urls.ts';

export { mediaBaseUrl, mediaStoreUrl } from './media-urls.ts';

class OperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function baseUrl(s: NodeServices): string {
  const url = mediaBaseUrl(s.runtime);
  if (url === undefined) throw new OperationError('not_started', 'media_mgr server is not running');
  return url;
}

const app: AppDefinition<NodeServices> = {
  name: 'media_mgr',
  version: FIFE_VERSION,
  description: 'media proxy: recordings HTTP-PUT by switches stored as attachments, served back for playback',
  restart: 'permanent',
  tree: (services) => mediaMgrTree(services),
  operations: {
    base_url: async (_input, s) => ({ url: baseUrl(s) }),
    store_url: async (input, s) => {
      const { db, doc, attachment } = input as Record<string, unknown>;
      if (typeof db !== 'string' || typeof doc !== 'string' || typeof attachment !== 'string')
        throw new OperationError('invalid', 'store_url takes {db, doc, attachment} (strings)');
      try {
        return { url: mediaStoreUrl(baseUrl(s), db, doc, attachment) };
      } catch (err) {
        if ((err as { code?: unknown }).code === 'invalid')
          throw new OperationError('invalid', (err as Error).message);
        throw err;
      }
    },
  },
};

export default app;
