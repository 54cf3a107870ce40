/**
 * Finds WhApps by name: built-in apps live in apps/<name>/app.ts; plugins are modules at
 * the paths the config lists. Either kind default-exports an AppDefinition (or exports
 * it as `app`). A module that is missing, or exports something that is not an app
 * definition, is an AppLoadError that says which and why.
 *
 * `loadPluginVersion(path)` loads a plugin again for an upgrade of a running node (see
 * AppsController.upgradeApp): an ES module cannot be unloaded or re-evaluated under its
 * URL, so the plugin's entry module is imported under a new URL (a `?fife_upgrade=N`
 * query), which evaluates the file as it is now. Modules it imports are shared with the
 * running version when already loaded (the kernel must be: one runtime); a plugin's code
 * that changes belongs in its entry module, or in files under new names.
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

let loads = 0;

async function loadModule(file: string, what: string, fresh = false): Promise<AppDefinition<any>> {
  let mod: Record<string, unknown>;
  const url = pathToFileURL(file).href + (fresh ? `?fife_upgrade=${Date.now()}-${++loads}` : '');
  try {
    mod = (await import(url)) as Record<string, unknown>;
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

export async function loadPlugin(path: string, fresh = false): Promise<AppDefinition<any>> {
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
  return loadModule(found, 'plugin', fresh);
}

/** The plugin at `path` as its files are now, for an upgrade (see the contract). */
export function loadPluginVersion(path: string): Promise<AppDefinition<any>> {
  return loadPlugin(path, true);
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
