#!/usr/bin/env node
// The `fife` command. It runs the compiled build (dist/) when there is one that is up to
// date: always in an installed package, which ships dist/ and no sources. In a checkout
// (src/ present) with no build, or with sources edited since the last `npm run build`, it
// registers tsx (a devDependency there) and runs the TypeScript sources instead, so
// `npm ci && npm start` works from a fresh clone without a build step and an edit never
// runs stale code. FIFE_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
const stamp = join(root, 'dist', '.built');

/** Newest modification time (ms) of the .ts files under the given folders. */
function newestSource(folders) {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') || e.name.endsWith('.json'))
        newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const f of folders) if (existsSync(f)) walk(f);
  return newest;
}

function useCompiled() {
  if (process.env.FIFE_FROM_SOURCE === '1') return false;
  if (!existsSync(compiled)) return false;
  if (!existsSync(join(root, 'src'))) return true; // an installed package
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return newestSource(['src', 'apps', 'supervisors'].map((f) => join(root, f))) <= built;
}

let main;
if (useCompiled()) {
  ({ main } = await import(compiled));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv.slice(2));
