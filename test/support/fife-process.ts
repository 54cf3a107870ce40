/**
 * `fife start` as a user runs it: a child process whose JSON log lines are parsed as they
 * come. `spawnFife(env)` returns at once: `lines` keeps growing, `waitFor(pred)` resolves
 * with the first line matching (rejects if the process exits first), `exited` resolves with
 * the exit code and `stderr()` gives what it wrote there. `startFife(env)` resolves once the
 * node logged `node started` (rejects with its stderr if it exits first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const FIFE_BIN = join(resolve(import.meta.dirname, '../..'), 'bin/fife.js');

export type LogLine = Record<string, unknown>;

export interface FifeProcess {
  child: ChildProcess;
  lines: LogLine[];
  exited: Promise<number | null>;
  stderr(): string;
  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine>;
}

export function spawnFife(env: NodeJS.ProcessEnv): FifeProcess {
  const child = spawn(process.execPath, [FIFE_BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': by then every line the process wrote has been read.
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const rec = JSON.parse(buf.slice(0, i)) as LogLine;
      buf = buf.slice(i + 1);
      lines.push(rec);
      for (const w of waiters.filter((x) => x.pred(rec))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(rec);
      }
    }
  });
  const waitFor = (pred: (l: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      waiters.push({ pred, resolve: res });
      void exited.then((code) => rej(new Error(`fife start exited ${code} first: ${stderr}`)));
    });
  };
  return { child, lines, exited, stderr: () => stderr, waitFor };
}

export async function startFife(env: NodeJS.ProcessEnv): Promise<FifeProcess> {
  const p = spawnFife(env);
  await p.waitFor((l) => l.msg === 'node started');
  return p;
}
