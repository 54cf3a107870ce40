/**
 * `node --import tsx --import ./bench/dist-hooks.ts BENCH.ts`: runs a benchmark against the
 * compiled build. The benchmark file itself still goes through tsx, but every module of the
 * project it reaches (src/, apps/, supervisors/ as .ts) is swapped for its compiled twin in
 * dist/ (the .js tsc wrote), so the code measured is what an installed package runs.
 * Registered after tsx, this resolve hook runs first and rewrites tsx's answer.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..') + '/').href;

const hook = `
const ROOT = ${JSON.stringify(root)};
const LAYERS = ['src/', 'apps/', 'supervisors/'];
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!r.url.startsWith(ROOT) || !r.url.endsWith('.ts')) return r;
  const rel = r.url.slice(ROOT.length);
  if (!LAYERS.some((l) => rel.startsWith(l))) return r;
  return { ...r, url: ROOT + 'dist/' + rel.slice(0, -3) + '.js', format: 'module' };
}
`;

register(`data:text/javascript,${encodeURIComponent(hook)}`);
