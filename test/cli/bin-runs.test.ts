/**
 * bin/fife.js picks what to run: the compiled build in an installed package (no src/), or
 * in a checkout when dist/ is newer than every source; the TypeScript sources through tsx
 * when there is no build, when a source changed since it, or with FIFE_FROM_SOURCE=1.
 * Checked on a copy of bin/fife.js in a scratch package whose two `main`s say which ran.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tmpDir } from '../support/tmp-dirs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

function scratchPackage(): string {
  const dir = tmpDir('fife-bin-');
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/fife.js'), join(dir, 'bin/fife.js'));
  writeFileSync(join(dir, 'package.json'), '{"name":"fife","type":"module"}');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'src/cli'), { recursive: true });
  writeFileSync(
    join(dir, 'src/cli/main.ts'),
    "export async function main(argv: string[]): Promise<void> { console.log('sources', ...argv); }\n",
  );
  return dir;
}

function build(dir: string, at: Date): void {
  mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
  writeFileSync(
    join(dir, 'dist/src/cli/main.js'),
    "export async function main(argv) { console.log('compiled', ...argv); }\n",
  );
  writeFileSync(join(dir, 'dist/.built'), '');
  utimesSync(join(dir, 'dist/.built'), at, at);
}

async function ran(dir: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [join(dir, 'bin/fife.js'), 'x'], {
    env: { ...process.env, ...env },
  });
  return stdout.trim();
}

const past = new Date(Date.now() - 60_000);
const future = new Date(Date.now() + 60_000);

describe('bin/fife.js', () => {
  it('runs the sources through tsx in a checkout with no build', async () => {
    expect(await ran(scratchPackage())).toBe('sources x');
  });

  it('runs the compiled build when it is newer than every source, unless FIFE_FROM_SOURCE=1', async () => {
    const dir = scratchPackage();
    utimesSync(join(dir, 'src/cli/main.ts'), past, past);
    build(dir, new Date());
    expect(await ran(dir)).toBe('compiled x');
    expect(await ran(dir, { FIFE_FROM_SOURCE: '1' })).toBe('sources x');
  });

  it('runs the sources when one changed since the build (never stale code)', async () => {
    const dir = scratchPackage();
    build(dir, past);
    expect(await ran(dir)).toBe('sources x');
    build(dir, future);
    expect(await ran(dir)).toBe('compiled x');
  });

  it('runs the compiled build in an installed package (dist/, no sources)', async () => {
    const dir = scratchPackage();
    build(dir, past);
    rmSync(join(dir, 'src'), { recursive: true });
    rmSync(join(dir, 'node_modules'));
    expect(await ran(dir)).toBe('compiled x');
  });
});
