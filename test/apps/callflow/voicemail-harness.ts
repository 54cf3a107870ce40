/**
 * The callflow harness (harness.ts) plus media_mgr's tree in the same runtime (its store
 * proxy on an ephemeral loopback port, where callflow's voicemail uploads and the
 * simulator fetches messages), and a vmbox `vmbox-1` (mailbox 3000, PIN 1234) with
 * callflows 3000 (compose) and 3001 (check).
 */
import { Supervisor, type Pid } from '../../../src/kernel/index.ts';
import { mediaMgrTree } from '../../../supervisors/media_mgr.sup.ts';
import { startCfHarness, type CfHarness } from './harness.ts';

export const BOX = 'vmbox-1';
export const PIN = '1234';

export async function startVmHarness(opts: { amqpUrl?: string } = {}): Promise<CfHarness> {
  const h = await startCfHarness(opts);
  const r = await Supervisor.start(
    h.rt,
    mediaMgrTree({ store: h.store, config: { settings: { media_mgr: { host: '127.0.0.1', port: 0 } } } }, {}),
    { name: 'media_mgr_sup' },
  );
  if (r.type !== 'ok') throw new Error(`media_mgr failed to start: ${JSON.stringify(r)}`);
  const media: Pid = r.pid;
  await h.store.save(h.accountDb, {
    _id: BOX,
    pvt_type: 'vmbox',
    name: 'Box 3000',
    mailbox: '3000',
    pin: PIN,
    owner_id: 'user2',
    timezone: 'UTC',
    media: {},
  });
  const vm = (action: string) => ({ module: 'voicemail', data: { id: BOX, action }, children: {} });
  await h.putCallflow('cf-3000', ['3000'], vm('compose'));
  await h.putCallflow('cf-3001', ['3001'], vm('check'));
  const close = h.close.bind(h);
  h.close = async () => {
    const exited = h.rt.awaitExit(media);
    h.rt.exit(media, 'shutdown');
    await exited;
    await close();
  };
  return h;
}
