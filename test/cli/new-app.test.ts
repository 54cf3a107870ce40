/**
 * `fife new-app` and the package's public entry points: the generated project's files, its
 * refusals, and that every name a plugin imports from `fife/...` (the generated project and
 * examples/hello-app) is exported by the entry point package.json maps it to. The project
 * is built, installed and tested for real against the packed package by
 * scripts/package-check.sh.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { newApp, fifeDependency } from '../../src/cli/new-app.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
  files: string[];
  bin: Record<string, string>;
};

describe('fife new-app', () => {
  it('writes a project that depends on fife and lists itself as a plugin of its node config', async () => {
    const dir = join(tmpDir('fife-new-app-'), 'greetings');
    const { stdout } = await run(process.execPath, [
      join(ROOT, 'bin/fife.js'),
      'new-app',
      'greetings',
      '--dir',
      dir,
    ]);
    expect(stdout).toContain(`wrote ${dir}`);
    const project = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, any>;
    expect(project).toMatchObject({
      name: 'greetings',
      main: 'dist/src/app.js',
      dependencies: { fife: `^${FIFE_VERSION}` },
      scripts: { test: expect.stringContaining('node --test') },
    });
    expect(Object.keys(project.devDependencies).sort()).toEqual(['@types/node', 'typescript']);
    expect(JSON.parse(readFileSync(join(dir, 'fife.json'), 'utf8'))).toMatchObject({
      plugins: ['.'],
      apps: ['greetings'],
    });
    for (const f of ['src/app.ts', 'src/messages.ts', 'src/greeter.ts', 'test/app.test.ts', 'README.md'])
      expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readFileSync(join(dir, 'src/messages.ts'), 'utf8')).toContain('addFamily(APP, messages)');
    expect(readFileSync(join(dir, 'src/greeter.ts'), 'utf8')).toContain('GenListenerBehaviour');
  });

  it('refuses a bad name (usage, exit 2) and a folder that is not empty (exit 1), writing nothing', async () => {
    const base = tmpDir('fife-new-app-');
    const bad = await run(process.execPath, [
      join(ROOT, 'bin/fife.js'),
      'new-app',
      'Hello-App',
      '--dir',
      join(base, 'x'),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("app name 'Hello-App' is not valid"),
    });
    expect(existsSync(join(base, 'x'))).toBe(false);
    mkdirSync(join(base, 'full'));
    writeFileSync(join(base, 'full', 'keep.txt'), 'mine');
    expect(() => newApp('full', { dir: join(base, 'full') })).toThrow(/exists and is not empty/);
    expect(readdirSync(join(base, 'full'))).toEqual(['keep.txt']);
  });

  it('takes a version range as it is and makes a tarball or file: path absolute', () => {
    expect(fifeDependency(undefined)).toBe(`^${FIFE_VERSION}`);
    expect(fifeDependency('~0.1.0')).toBe('~0.1.0');
    expect(fifeDependency('./fife-0.1.0.tgz', '/work/x')).toBe('file:/work/x/fife-0.1.0.tgz');
    expect(fifeDependency('file:../fife', '/work/x')).toBe('file:/work/fife');
  });
});

/** Named imports from 'fife/<entry>' in a TypeScript file: [entry, name, isType]. */
function fifeImports(text: string): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [];
  for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'fife\/([a-z]+)'/g)) {
    for (const raw of m[2]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const isType = m[1] !== undefined || raw.startsWith('type ');
      out.push([m[3]!, raw.replace(/^type\s+/, '').split(/\s+as\s+/)[0]!, isType]);
    }
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the public entry points', () => {
  it('package.json maps each entry point to compiled code with its types, and ships dist, bin, docs', () => {
    for (const entry of ['kernel', 'bus', 'api', 'store', 'switch', 'node']) {
      const e = pkg.exports[`./${entry}`] as Record<string, string>;
      expect(e, entry).toEqual({
        'fife-source': `./src/${entry}/index.ts`,
        types: `./dist/src/${entry}/index.d.ts`,
        default: `./dist/src/${entry}/index.js`,
      });
      expect(existsSync(join(ROOT, e['fife-source']!)), entry).toBe(true);
    }
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/', 'bin/', 'docs/', 'README.md']));
    expect(pkg.bin).toEqual({ fife: 'bin/fife.js' });
  });

  it('export every value a plugin imports (the generated project, examples/hello-app)', async () => {
    const dir = join(tmpDir('fife-new-app-'), 'surface');
    newApp('surface', { dir });
    const files = [
      ...tsFiles(join(dir, 'src')),
      ...tsFiles(join(dir, 'test')),
      ...tsFiles(join(ROOT, 'examples/hello-app/src')),
      ...tsFiles(join(ROOT, 'examples/hello-app/test')),
    ];
    const imports = files.flatMap((f) => fifeImports(readFileSync(f, 'utf8')));
    expect(new Set(imports.map(([e]) => e))).toEqual(new Set(['kernel', 'bus', 'api', 'store', 'node']));
    const missing: string[] = [];
    for (const [entry, name, isType] of imports) {
      if (isType) continue; // types are checked by tsc in scripts/package-check.sh
      const mod = (await import(join(ROOT, `src/${entry}/index.ts`))) as Record<string, unknown>;
      if (!(name in mod)) missing.push(`fife/${entry}: ${name}`);
    }
    expect(missing).toEqual([]);
  });
});
