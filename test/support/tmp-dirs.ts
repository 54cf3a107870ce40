/**
 * Temporary folders for a test file: `tmpDir(prefix)` makes one under the OS temp folder;
 * every folder made is removed after the file's tests (under vitest), or when the process
 * exits (a bench script that uses the test harnesses).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
const removeAll = (): void => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
};
if (process.env.VITEST !== undefined) {
  const { afterAll } = await import('vitest');
  afterAll(removeAll);
} else process.on('exit', removeAll);

export function tmpDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
