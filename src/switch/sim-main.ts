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
 *   --register user[,user...] (phones that answer at once), --seed N (reproducible
 *   UUIDs), --playback-ms N (length of every played file), --log-level, --bus URL (phone
 *   registrations published as reg_success there), --realm, --reg-expires S, --auth-calls
 *   (calls from registered phones are authenticated with a directory fetch first).
 * - `fife switch-sim call|phone|dtmf|answer|hangup|calls ...` are client commands that talk
 *   to a running simulator's control port (sim-client.ts).
 * - Bad options (unknown, missing value, not a number, stray arguments) throw a
 *   SwitchSimUsageError that says which option and what is expected.
 * - switchSimMain(argv) is the command (`fife switch-sim`, or this file run directly):
 *   `--help` prints SWITCH_SIM_USAGE and returns; otherwise runSwitchSim.
 * - Run directly: `node --import tsx src/switch/sim-main.ts --port 8021 --control-port 8022`
 *   (usage errors exit 2, failures 1).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createRootLogger, type Logger } from '../kernel/log.ts';
import { startControlServer, type ControlServer } from './control-server.ts';
import { Switch } from './switch.ts';
import { SwitchSimUsageError } from './sim-errors.ts';
import { CLIENT_COMMANDS, SWITCH_SIM_CLIENT_USAGE, switchSimClient } from './sim-client.ts';
import { busExchangeSpecs } from '../api/bus-adapters.ts';
import { createTransport, type BusTransport } from '../bus/index.ts';

export interface SwitchSimHandle {
  readonly sw: Switch;
  readonly control: ControlServer | undefined;
  stop(): Promise<void>;
}

export { SwitchSimUsageError };

export const SWITCH_SIM_USAGE = `Usage: fife switch-sim [options]

Run the FreeSWITCH event-socket simulator alone (foreground until SIGTERM/SIGINT).

Options:
  --port <n>            event-socket port (default 8021; 0: any free port)
  --host <addr>         address to listen on (default 127.0.0.1)
  --password <pass>     event-socket password (default $FIFE_ESL_PASSWORD or ClueCon)
  --control-port <n>    also serve the HTTP control API on this port (0: any free port)
  --register <users>    comma-separated phones that answer at once
  --bus <url>           publish phone registrations (reg_success) on this bus
                        (amqp://user:pass@host:5672, or embedded)
  --realm <realm>       SIP realm of those registrations (default fife.test)
  --reg-expires <s>     their Expires; re-published every half of it (default 3600)
  --auth-calls          authenticate calls from registered phones with a directory
                        fetch first (answered by ecallmgr's authn), as sofia's auth-calls
  --seed <n>            reproducible UUIDs
  --playback-ms <n>     length of every played file
  --log-level <level>   pino level (default info)
  -h, --help            display this help

${SWITCH_SIM_CLIENT_USAGE}`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  password: { type: 'string' },
  'control-port': { type: 'string' },
  register: { type: 'string' },
  seed: { type: 'string' },
  'playback-ms': { type: 'string' },
  'log-level': { type: 'string' },
  bus: { type: 'string' },
  realm: { type: 'string' },
  'reg-expires': { type: 'string' },
  'auth-calls': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    // node's message, up to its first sentence: "Unknown option '--bogus'", "Option '--port <value>' argument missing"
    throw new SwitchSimUsageError((err as Error).message.split(/\.( |$)/)[0]!);
  }
}

/** The `fife switch-sim` command: --help, or the simulator until a signal. */
export async function switchSimMain(argv: string[]): Promise<SwitchSimHandle | undefined> {
  if ((CLIENT_COMMANDS as readonly string[]).includes(argv[0] ?? '')) {
    await switchSimClient(argv);
    return undefined;
  }
  if (parse(argv).help) {
    process.stdout.write(`${SWITCH_SIM_USAGE}\n`);
    return undefined;
  }
  return runSwitchSim(argv);
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intOption(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new SwitchSimUsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export async function runSwitchSim(
  argv: string[],
  opts: { logger?: Logger; signals?: boolean } = {},
): Promise<SwitchSimHandle> {
  const values = parse(argv);
  // Every option is checked before anything listens.
  const port = intOption('port', values.port, 8021);
  const seed = intOption('seed', values.seed);
  const playbackMs = intOption('playback-ms', values['playback-ms']);
  const controlPort = intOption('control-port', values['control-port']);
  const level = values['log-level'];
  if (level !== undefined && !LEVELS.includes(level))
    throw new SwitchSimUsageError(
      `--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
    );
  const regExpires = intOption('reg-expires', values['reg-expires']);
  if (regExpires === 0) throw new SwitchSimUsageError('--reg-expires must be at least 1 second');
  if (values.realm !== undefined && !/^[\w.-]+$/.test(values.realm))
    throw new SwitchSimUsageError(`--realm must be a domain name, got ${JSON.stringify(values.realm)}`);
  const logger = opts.logger ?? createRootLogger({ node: 'switch-sim', level });
  const host = values.host ?? '127.0.0.1';
  let bus: BusTransport | undefined;
  if (values.bus !== undefined) {
    try {
      bus = createTransport({ url: values.bus, logger, connectionName: 'fife switch-sim' });
    } catch (err) {
      throw new SwitchSimUsageError(`--bus: ${(err as Error).message}`);
    }
    try {
      await bus.start();
      await bus.assertExchanges(busExchangeSpecs());
    } catch (err) {
      await bus
        .close()
        .catch((e: unknown) => logger.warn({ err: e }, 'bus close after a failed start failed'));
      throw new Error(`--bus: no connection to the bus (${(err as Error).message})`, { cause: err });
    }
  }
  const sw = await Switch.start({
    bus,
    registration: { realm: values.realm, expiresS: regExpires },
    authCalls: values['auth-calls'] === true,
    port,
    host,
    password: values.password ?? process.env.FIFE_ESL_PASSWORD ?? 'ClueCon',
    seed,
    media: { playbackMs },
    logger,
  });
  for (const user of (values.register ?? '').split(',').filter((u) => u !== ''))
    sw.registerEndpoint(user.trim());
  const control =
    controlPort === undefined ? undefined : await startControlServer(sw, { port: controlPort, host, logger });
  logger.info(
    {
      esl: `${host}:${sw.port}`,
      control: control === undefined ? null : `${host}:${control.port}`,
      core_uuid: sw.coreUuid,
    },
    'listening',
  );
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await control?.close();
      await sw.close();
      await bus?.close();
    })());
  if (opts.signals !== false) {
    const onSignal = (): void => void stop().then(() => process.exit(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return { sw, control, stop };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  switchSimMain(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`switch-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof SwitchSimUsageError ? 2 : 1);
  });
}
