/**
 * `npm run build`: compiles src/, apps/ and supervisors/ to dist/ (JavaScript, .d.ts and
 * source maps, tsconfig.build.json), copies the files the compiled code reads at run time
 * (the CouchDB design documents under apps/NAME/couchdb/, the observer page under
 * src/node/observer/page/), and writes dist/.built, the
 * stamp bin/fife.js compares with the sources' modification times. Exits 1 on a compile
 * error, with tsc's messages.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const started = Date.now();

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${r.status ?? r.signal})\n`);
  process.exit(1);
}
for (const app of readdirSync(join(root, 'apps'))) {
  const assets = join(root, 'apps', app, 'couchdb');
  if (existsSync(assets)) cpSync(assets, join(dist, 'apps', app, 'couchdb'), { recursive: true });
}
// The observer page's static files (src/node/observer/routes.ts reads them beside itself).
const page = join('src', 'node', 'observer', 'page');
cpSync(join(root, page), join(dist, page), { recursive: true });
// Stamped with the time the build began: a source saved during the build counts as newer.
const stamp = join(dist, '.built');
writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
utimesSync(stamp, started / 1000, started / 1000);
process.stdout.write(`build: dist/ written in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
