/**
 * `fife start`: one node in the foreground of its OS process, for a terminal, systemd or
 * a container runtime.
 *
 * Contract
 * - SIGTERM and SIGINT handlers are installed before the start begins. A signal during the
 *   start aborts it: what had started is stopped in reverse (startNode's AbortSignal). A
 *   signal once the node runs stops it (apps in reverse, each draining). A second signal
 *   while stopping is logged and changes nothing.
 * - When the kernel root ends without a stop (`fife kill kernel_sup`, restart intensity
 *   exceeded), the node has no apps and no admin endpoint left: as an OTP node halts when
 *   its kernel application dies, the process logs why (fatal, with the reason), stops what
 *   is left (runtime, bus, store), removes its admin.json and lock, and exits 4, so a
 *   supervisor of OS processes (systemd `Restart=on-failure`, a container's restart
 *   policy) starts it again.
 * - When an app ends for good and its application type says the node goes with it
 *   (config `appTypes`: permanent, or transient that ended abnormally; see
 *   apps-controller.ts), the process logs `app failed for good: the node stops` (fatal,
 *   with the app, its type and the reason), stops cleanly (the other apps in reverse,
 *   bus, store, admin.json, lock) and exits 5, for the same OS-level restart.
 * - An uncaught exception is logged (fatal, with its stack); the process removes its own
 *   admin.json and lock and exits 1 without further cleanup (its state is unknown). An
 *   unhandled rejection is logged and the node keeps running.
 * - A start that fails writes one line `fife: <why>` on stderr, besides the log line.
 *
 * Exit codes (EXIT): 0 stopped by SIGTERM/SIGINT (also during the start); 1 the start or
 * the stop failed, or an uncaught exception; 2 bad usage or configuration (the CLI);
 * 3 another node already runs on this node folder (lock held); 4 the kernel root died;
 * 5 an app whose application type takes the node down ended for good.
 */
import { join } from 'node:path';
import pino from 'pino';
import { createRootLogger, formatReason, type Logger } from '../kernel/index.ts';
import { nodeDir, type NodeConfig } from './config.ts';
import { startNode, NodeStartAborted, type FifeNode } from './node.ts';
import { NodeLockedError, removeOwnFile, LOCK_FILE } from './node-lock.ts';
import { ADMIN_FILE } from './admin.ts';

export const EXIT = { stopped: 0, failed: 1, usage: 2, locked: 3, halted: 4, appFailed: 5 } as const;

export async function runForeground(config: NodeConfig): Promise<void> {
  const out = pino.destination({ dest: 1, sync: false });
  const log: Logger = createRootLogger({
    node: config.node,
    level: config.logLevel,
    destination: out,
    toStdout: true,
  });
  const dir = nodeDir(config);
  const ac = new AbortController();
  let node: FifeNode | undefined;
  let stopping = false;

  // The node runs until a signal or a halt, each with its own exit code: an event loop
  // that drains without one of them is a failure, not a clean stop.
  process.exitCode = EXIT.failed;
  // Exits once every log line is out, in order (stdout may be a slow pipe; pino's own
  // flush at exit can write the last lines ahead of a write still in flight), or after 2 s.
  const exit = (code: number): void => {
    let gone = false;
    const go = (): void => {
      if (gone) return;
      gone = true;
      process.exit(code);
    };
    out.once('close', go);
    setTimeout(go, 2_000);
    try {
      out.end();
    } catch {
      go();
    }
  };
  const stopAndExit = (code: number): void => {
    stopping = true;
    node!.stop().then(
      () => exit(code),
      (err: unknown) => {
        log.fatal({ err: (err as Error).message }, 'stop failed');
        exit(EXIT.failed);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping || ac.signal.aborted)
      return void log.warn({ signal }, 'signal received while stopping: carrying on with the stop');
    log.info({ signal }, 'signal received: stopping');
    if (node === undefined) ac.abort(signal);
    else stopAndExit(EXIT.stopped);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) =>
    log.error(
      { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) },
      'unhandled promise rejection (kept running)',
    ),
  );
  process.on('uncaughtException', (err) => {
    log.fatal({ err: { message: err.message, stack: err.stack } }, 'uncaught exception: node exits');
    removeOwnFile(join(dir, ADMIN_FILE));
    removeOwnFile(join(dir, LOCK_FILE));
    process.exit(EXIT.failed); // at once: the process's state is unknown (pino flushes synchronously on exit)
  });

  try {
    node = await startNode({ config, log, signal: ac.signal });
  } catch (err) {
    if (err instanceof NodeStartAborted) return exit(EXIT.stopped);
    process.stderr.write(`fife: ${(err as Error).message}\n`);
    return exit(err instanceof NodeLockedError ? EXIT.locked : EXIT.failed);
  }
  if (ac.signal.aborted) return stopAndExit(EXIT.stopped);
  void node.halted.then(({ reason, app, type }) => {
    if (stopping) return;
    if (app !== undefined) {
      log.fatal(
        { app, type, reason: formatReason(reason), exit_code: EXIT.appFailed },
        'app failed for good: the node stops',
      );
      return stopAndExit(EXIT.appFailed);
    }
    log.fatal({ reason: formatReason(reason), exit_code: EXIT.halted }, 'kernel root ended: the node halts');
    stopAndExit(EXIT.halted);
  });
}
