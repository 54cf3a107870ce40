/**
 * `fife switch-sim`: runs the FreeSWITCH simulator as its own process.
 *
 * Contract
 * - runSwitchSim(argv) parses the options below, starts the simulator (and the HTTP control
 *   port if asked), writes ONE JSON log line `{"msg":"listening", "esl": "host:port",
 *   "control": "host:port"|null, "core_uuid": ...}` and resolves with a handle whose
 *   stop() closes everything (idempotent). With `signals` (default true) SIGINT/SIGTERM
 *   call stop().
 * - Options: --port (8021; 0 = any free port), --host (127.0.0.1), --password (default
 *   $FIFE_ESL_PASSWORD or ClueCon; never logged), --control-port (off unless given; 0 = any),
 *   --register user[,user...] (devices that answer at once), --seed N (reproducible
 *   UUIDs), --playback-ms N (length of every played file), --log-level.
 * - Bad options throw an Error that says which option and what is expected.
 * - Run directly: `node --import tsx src/switch/sim-main.ts --port 8021 --control-port 8022`.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createRootLogger, type Logger } from '../kernel/log.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import { Switch } from './switch.ts';

export interface SwitchSimHandle {
  readonly sw: Switch;
  readonly control: ControlServer | undefined;
  stop(): Promise<void>;
}

function intOption(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export async function runSwitchSim(argv: string[], opts: { logger?: Logger; signals?: boolean } = {}): Promise<SwitchSimHandle> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      password: { type: 'string' },
      'control-port': { type: 'string' },
      register: { type: 'string' },
      seed: { type: 'string' },
      'playback-ms': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const logger = opts.logger ?? createRootLogger({ node: 'switch-sim', level: values['log-level'] });
  const host = values.host ?? '127.0.0.1';
  const sw = await Switch.start({
    port: intOption('port', values.port, 8021),
    host,
    password: values.password ?? process.env.FIFE_ESL_PASSWORD ?? 'ClueCon',
    seed: intOption('seed', values.seed),
    media: { playbackMs: intOption('playback-ms', values['playback-ms']) },
    logger,
  });
  for (const user of (values.register ?? '').split(',').filter((u) => u !== '')) sw.registerEndpoint(user.trim());
  const controlPort = intOption('control-port', values['control-port']);
  const control = controlPort === undefined ? undefined : await startControlServer(sw, { port: controlPort, host, logger });
  logger.info({ esl: `${host}:${sw.port}`, control: control === undefined ? null : `${host}:${control.port}`, core_uuid: sw.coreUuid }, 'listening');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await control?.close();
      await sw.close();
    })());
  if (opts.signals !== false) {
    const onSignal = (): void => void stop().then(() => process.exit(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return { sw, control, stop };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSwitchSim(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`switch-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
