/**
 * The callflow bench's switch in its own OS process (forked by callflow.bench.ts), as
 * FreeSWITCH runs beside the platform in production: the simulator with phone 1002
 * registered (answering at once), and the phones' side of the calls (placing them,
 * hanging B up) driven here, so neither shares the platform's event loop.
 *
 * Contract (IPC messages with the parent)
 * - On start: `{type:'ready', port}` (the event socket on 127.0.0.1, any free port).
 * - `{type:'calls', dialled, total, concurrency}` -> `{type:'calls', rate, done, cpuMs}`:
 *   `total` complete calls (drive.ts callflowCall) to dialled[(i*7) % n], this process's
 *   CPU per call.
 * - `{type:'hold', dialled, total, concurrency}` -> `{type:'hold'}` once `total` calls are
 *   bridged; `{type:'release'}` -> `{type:'release', ms}` once all of them are destroyed.
 * - `{type:'burst', dialled, total}` -> `{type:'burst', ms, p50, lost}`: `total` calls
 *   placed in one go (dialled[i % n]); ms until the last was bridged, the p50 of each
 *   call's time from placed to bridged, and `lost`, the calls not bridged within STEP_MS.
 *   The bridged ones are held (`release` hangs them up).
 * - `{type:'stop'}` closes the simulator and exits. Any failure is sent as
 *   `{type:'error', message}` (the parent stops with it); the process exits with the parent.
 */
import { createRootLogger } from '../../src/kernel/log.ts';
import { Switch } from '../../src/switch/index.ts';
import { callflowCall, drive, placeCall, switchWaits } from './drive.ts';

type Msg =
  | { type: 'calls' | 'hold'; dialled: string[]; total: number; concurrency: number }
  | { type: 'burst'; dialled: string[]; total: number }
  | { type: 'release' }
  | { type: 'stop' };

const send = (m: Record<string, unknown>): void => void process.send?.(m);
const sw = await Switch.start({
  port: 0,
  logger: createRootLogger({ node: 'bench-switch', level: 'silent' }),
});
sw.registerEndpoint('1002');
const wait = switchWaits(sw);
const held: string[] = [];

async function handle(m: Msg): Promise<void> {
  switch (m.type) {
    case 'calls': {
      const r = await drive(
        m.concurrency,
        (i) => callflowCall(sw, wait, m.dialled[(i * 7) % m.dialled.length]!),
        {
          total: m.total,
        },
      );
      send({ type: 'calls', ...r });
      return;
    }
    case 'hold': {
      for (let i = 0; i < m.total; i += m.concurrency)
        await Promise.all(
          Array.from({ length: Math.min(m.concurrency, m.total - i) }, async () => {
            const a = placeCall(sw, m.dialled[held.length % m.dialled.length]!);
            held.push(a);
            await wait('CHANNEL_BRIDGE', a);
          }),
        );
      send({ type: 'hold' });
      return;
    }
    case 'burst': {
      const t0 = performance.now();
      const ms: number[] = [];
      let lost = 0;
      const calls = Array.from({ length: m.total }, (_, i) =>
        placeCall(sw, m.dialled[i % m.dialled.length]!),
      );
      await Promise.all(
        calls.map((a) =>
          wait('CHANNEL_BRIDGE', a).then(
            () => {
              ms.push(performance.now() - t0);
              held.push(a);
            },
            () => {
              lost++;
              sw.hangup(a);
            },
          ),
        ),
      );
      ms.sort((x, y) => x - y);
      send({
        type: 'burst',
        ms: ms.at(-1) ?? NaN,
        p50: ms[Math.floor(ms.length / 2)] ?? NaN,
        lost,
      });
      return;
    }
    case 'release': {
      const t0 = performance.now();
      const ends = held.map((a) => wait('CHANNEL_DESTROY', a));
      for (const a of held) sw.hangup(a);
      await Promise.all(ends);
      held.length = 0;
      send({ type: 'release', ms: performance.now() - t0 });
      return;
    }
    case 'stop':
      await sw.close();
      process.exit(0);
  }
}

process.on('message', (m: Msg) => {
  handle(m).catch((e: unknown) =>
    send({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port: sw.port });
