/**
 * Finds WhApps by name: built-in apps live in apps/<name>/app.ts; plugins are modules at
 * the paths the config lists. Either kind default-exports an AppDefinition (or exports
 * it as `app`). A module that is missing, or exports something that is not an app
 * definition, is an AppLoadError that says which and why.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AppDefinition } from '../kernel/index.ts';

export class AppLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppLoadError';
  }
}

const APPS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../apps');

/** Names of the built-in apps shipped in apps/. */
export function builtinApps(): string[] {
  if (!existsSync(APPS_DIR)) return [];
  return readdirSync(APPS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(APPS_DIR, d.name, 'app.ts')))
    .map((d) => d.name)
    .sort();
}

async function loadModule(file: string, what: string): Promise<AppDefinition<any>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`cannot load ${what} from ${file}: ${(err as Error).message}`);
  }
  const def = (mod.default ?? mod.app) as AppDefinition<any> | undefined;
  if (
    typeof def !== 'object' ||
    def === null ||
    typeof def.name !== 'string' ||
    typeof def.tree !== 'function'
  ) {
    throw new AppLoadError(
      `${what} at ${file} must export an AppDefinition {name, tree(env), deps?, restart?} as default or as 'app'`,
    );
  }
  return def;
}

export async function loadBuiltinApp(name: string): Promise<AppDefinition<any>> {
  const file = join(APPS_DIR, name, 'app.ts');
  if (!existsSync(file))
    throw new AppLoadError(
      `unknown app '${name}': built-in apps are ${builtinApps().join(', ') || '(none)'}; plugins are listed in config 'plugins'`,
    );
  return loadModule(file, `app '${name}'`);
}

export async function loadPlugin(path: string): Promise<AppDefinition<any>> {
  const file = resolve(path);
  const candidates = [
    file,
    join(file, 'app.ts'),
    join(file, 'app.js'),
    join(file, 'index.ts'),
    join(file, 'index.js'),
  ];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (found === undefined) throw new AppLoadError(`plugin not found at ${path}`);
  return loadModule(found, 'plugin');
}

/** Every app the node can start: built-ins plus plugins (a plugin may not reuse a built-in name). */
export async function loadApps(plugins: string[]): Promise<AppDefinition<any>[]> {
  const defs = await Promise.all(builtinApps().map(loadBuiltinApp));
  for (const p of plugins) {
    const def = await loadPlugin(p);
    if (defs.some((d) => d.name === def.name))
      throw new AppLoadError(`plugin ${p} is named '${def.name}', which is already taken`);
    defs.push(def);
  }
  return defs;
}
