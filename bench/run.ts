/**
 * Runs the benchmarks: `npm run bench` runs every bench/<layer>/*.bench.ts, and
 * `npm run bench -- kernel store` only those layers. Each bench is a standalone script
 * run in its own Node process (with --expose-gc) that prints its own figures.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const layers = readdirSync(here).filter(
  (d) => statSync(join(here, d)).isDirectory() && (wanted.length === 0 || wanted.includes(d)),
);
let failed = 0;
for (const layer of layers.sort()) {
  for (const file of readdirSync(join(here, layer))
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()) {
    process.stdout.write(`\n=== bench/${layer}/${file}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, layer, file)], {
      stdio: 'inherit',
    });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
