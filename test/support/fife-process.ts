/**
 * `fife start` as a user runs it: a child process whose JSON log lines are parsed as they
 * come. `startFife(env)` resolves once the node logged `node started` (rejects with its
 * stderr if it exits first); `lines` keeps growing; `exited` resolves with the exit code;
 * `waitForLine(match)` resolves with the first line (logged so far or later) that matches,
 * and rejects if the process exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const FIFE_BIN = join(resolve(import.meta.dirname, '../..'), 'bin/fife.js');

export interface FifeProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  waitForLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export function startFife(env: NodeJS.ProcessEnv): Promise<FifeProcess> {
  const child = spawn(process.execPath, [FIFE_BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<(line: Record<string, unknown>) => void>();
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitForLine = (match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
    new Promise((res, rej) => {
      const seen = lines.find(match);
      if (seen !== undefined) return res(seen);
      const w = (line: Record<string, unknown>): void => {
        if (!match(line)) return;
        waiters.delete(w);
        res(line);
      };
      waiters.add(w);
      void exited.then((code) => waiters.has(w) && rej(new Error(`fife start exited ${code} before the line came: ${stderr}`)));
    });
  return new Promise((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const rec = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        lines.push(rec);
        for (const w of [...waiters]) w(rec);
        if (rec.msg === 'node started') res({ child, lines, exited, waitForLine });
      }
    });
    void exited.then((code) => rej(new Error(`fife start exited ${code}: ${stderr}`)));
  });
}
