/**
 * The package's version, read from package.json: the one version Fife reports everywhere
 * (App-Version of every message its apps and listeners send, the apps' version in
 * `fife apps` / `fife tree`, the nodes_advertise Version). Nothing else spells a version.
 *
 * Read at load time from the package root, the nearest folder above this file holding
 * Fife's package.json: `..` when running the TypeScript sources, `../..` from the compiled
 * build in dist/ (a JSON import would copy package.json into dist/ and freeze it there).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding Fife's package.json (the installed package, or the checkout). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'fife')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of fife above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const FIFE_VERSION: string = (
  JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
).version;
