/**
 * A debug-level pino logger into memory whose lines a test can wait for (no sleeps):
 * `await waitFor((l) => l.msg === 'x', 3)` resolves once three such lines were written.
 */
import { createRootLogger, type Logger } from '../../src/kernel/log.ts';

export type LogLine = Record<string, unknown>;

export function watchedLogger(): {
  logger: Logger;
  lines: LogLine[];
  waitFor(pred: (l: LogLine) => boolean, count?: number): Promise<LogLine[]>;
} {
  const lines: LogLine[] = [];
  let waiters: Array<() => void> = [];
  const destination = {
    write: (s: string): void => {
      lines.push(JSON.parse(s) as LogLine);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
  };
  const logger = createRootLogger({ node: 'test@localhost', level: 'debug', destination });
  const waitFor = async (pred: (l: LogLine) => boolean, count = 1): Promise<LogLine[]> => {
    while (lines.filter(pred).length < count) await new Promise<void>((r) => waiters.push(r));
    return lines.filter(pred);
  };
  return { logger, lines, waitFor };
}
