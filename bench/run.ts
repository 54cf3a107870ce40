/**
 * Runs the benchmarks: `npm run bench` runs every bench/<layer>/*.bench.ts but the soak
 * and acdc (run only when named: `npm run bench -- soak`, `npm run bench -- acdc`), and `npm run bench -- kernel store`
 * only those layers. Each bench is a standalone script
 * run in its own Node process (with --expose-gc) that prints its own figures.
 *
 * `--dist` (`npm run bench:dist` for the bus): each bench runs twice, on the TypeScript
 * sources through tsx and then on the compiled build (dist/, built first when older than
 * the sources; bench/dist-hooks.ts swaps the modules), and every figure line of the form
 * `NAME  p50 N µs  p99 N µs  K in flight: N rt/s` is printed side by side with the ratio
 * compiled / sources.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const dist = args.includes('--dist');
const wanted = args.filter((a) => a !== '--dist');
/** Layers run only when named: the soak takes 30 minutes by default, acdc a few minutes. */
const ON_REQUEST = ['soak', 'acdc'];
const layers = readdirSync(here).filter(
  (d) =>
    statSync(join(here, d)).isDirectory() &&
    (wanted.length === 0 ? !ON_REQUEST.includes(d) : wanted.includes(d)),
);
let failed = 0;
if (dist) ensureBuild();
for (const layer of layers.sort()) {
  for (const file of readdirSync(join(here, layer))
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()) {
    process.stdout.write(`\n=== bench/${layer}/${file}\n`);
    if (!dist) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, layer, file)], {
        stdio: 'inherit',
      });
      if (r.status !== 0) failed++;
      continue;
    }
    const runs = (['sources', 'compiled'] as const).map((kind) => {
      process.stdout.write(
        `--- ${kind === 'sources' ? 'TypeScript sources (tsx)' : 'compiled build (dist/)'}\n`,
      );
      const hooks = kind === 'compiled' ? ['--import', join(here, 'dist-hooks.ts')] : [];
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', ...hooks, '--expose-gc', join(here, layer, file)],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      process.stdout.write(r.stdout);
      if (r.status !== 0) failed++;
      return figures(r.stdout);
    });
    compare(runs[0]!, runs[1]!);
  }
}
process.exit(failed === 0 ? 0 : 1);

interface Figure {
  p50: number;
  p99: number;
  rps: number;
}

/** The figure lines of a bench's output, by name. */
function figures(out: string): Map<string, Figure> {
  const m = new Map<string, Figure>();
  for (const l of out.split('\n')) {
    const f = /^(.+?)\s+p50\s+(\d+) µs\s+p99\s+(\d+) µs\s+\d+ in flight:\s+(\d+) rt\/s/.exec(l);
    if (f) m.set(f[1]!.trim(), { p50: Number(f[2]), p99: Number(f[3]), rps: Number(f[4]) });
  }
  return m;
}

function compare(src: Map<string, Figure>, built: Map<string, Figure>): void {
  process.stdout.write(
    '--- compiled / sources (p50 and p99: below 1 is faster; throughput: above 1 is faster)\n',
  );
  for (const [name, s] of src) {
    const d = built.get(name);
    if (d === undefined) continue;
    const r = (a: number, b: number): string => (b === 0 ? '-' : (a / b).toFixed(2));
    process.stdout.write(
      `${name.padEnd(40)} p50 ${s.p50}/${d.p50} µs (${r(d.p50, s.p50)}x)  p99 ${s.p99}/${d.p99} µs (${r(d.p99, s.p99)}x)  ${s.rps}/${d.rps} rt/s (${r(d.rps, s.rps)}x)\n`,
    );
  }
}

/** Builds dist/ when it is missing or older than a source, as bin/fife.js judges it. */
function ensureBuild(): void {
  const root = join(here, '..');
  const stamp = join(root, 'dist', '.built');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .reduce((t, e) => Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (['src', 'apps', 'supervisors'].every((d) => newest(join(root, d)) <= built)) return;
  process.stdout.write('building dist/ first (npm run build)\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'build.ts')], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(1);
}
