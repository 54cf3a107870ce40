/**
 * media_mgr on the embedded store (the suite in media-mgr.suite.ts), and as a WhApp of a
 * node: loaded by name, its base URL found by other code in the node and through its
 * `base_url` / `store_url` operations.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { AppsController } from '../../../src/kernel/index.ts';
import { EmbeddedStore } from '../../../src/store/index.ts';
import { loadConfig } from '../../../src/node/config.ts';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { mediaBaseUrl } from '../../../apps/media_mgr/media-urls.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { bytes, describeMediaMgr, freePort, wavBody } from './media-mgr.suite.ts';

describeMediaMgr(
  'embedded store',
  async () => new EmbeddedStore({ dir: tmpDir('fife-media-'), logger: memoryLogger().logger }),
);

describe('media_mgr in a node', () => {
  const nodes: FifeNode[] = [];
  afterAll(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  it('starts by name, tells other apps its base URL, and stores what is PUT', async () => {
    const port = await freePort();
    const config = loadConfig({
      env: {
        FIFE_APPS: 'media_mgr',
        FIFE_DATA_DIR: tmpDir('fife-media-node-'),
        FIFE_NODE: 'media@localhost',
      },
    });
    config.settings.media_mgr = { port };
    const node = await startNode({ config, logDestination: { write: () => undefined } });
    nodes.push(node);
    expect(mediaBaseUrl(node.runtime)).toBe(`http://127.0.0.1:${port}`);
    const op = async (name: string, input: Record<string, unknown>): Promise<unknown> => {
      const found = await AppsController.operation(node.runtime, 'media_mgr', name);
      if (found.type !== 'ok') throw new Error(found.reason);
      return found.run(input);
    };
    expect(await op('base_url', {})).toEqual({ url: `http://127.0.0.1:${port}` });
    const { url } = (await op('store_url', {
      db: 'system_media',
      doc: 'prompt',
      attachment: 'hello.wav',
    })) as {
      url: string;
    };
    expect(url).toBe(`http://127.0.0.1:${port}/store/system_media/prompt/hello.wav`);
    await expect(op('store_url', { db: 'Bad', doc: 'x', attachment: 'y' })).rejects.toMatchObject({
      code: 'invalid',
    });
    const wav = wavBody(20);
    // the database must exist: the proxy creates documents, never databases
    expect((await fetch(url, { method: 'PUT', body: bytes(wav) })).status).toBe(404);
  });
});
