/**
 * Finds WhApps by name: built-in apps live in apps/<name>/app.ts (app.js in the compiled
 * build); plugins are modules at the paths the config lists. Either kind default-exports an
 * AppDefinition (or exports it as `app`). A module that is missing, or exports something
 * that is not an app definition, is an AppLoadError that says which and why.
 *
 * A plugin path is a module file, or a folder: a plugin package (its package.json
 * `exports["."]` or `main`), else the folder's app.ts / app.js / index.ts / index.js.
 * A plugin may also be named by its package name (`my-whapp`, `@acme/whapp`): the package
 * folder is found as Node finds it from `from` (the config file's folder): node_modules
 * in that folder and each one above, then NODE_PATH; its entry as for a folder. A name
 * no package answers to is still tried as a path (relative to the working directory);
 * when neither exists the error says where the package was looked for.
 *
 * `loadApps` fails on the first broken plugin; `loadPlugins` never throws: a plugin that
 * cannot be loaded comes back in `failed` with a name (its package's name, else its file
 * or folder name) and the reason, and `failedPluginApp` turns it into an app whose start
 * fails with that reason, so the node lists it as failed and goes on without it.
 *
 * `loadPluginVersion(path)` loads a plugin again for an upgrade of a running node (see
 * AppsController.upgradeApp): an ES module cannot be unloaded or re-evaluated under its
 * URL, so the plugin's entry module is imported under a new URL (a `?fife_upgrade=N`
 * query), which evaluates the file as it is now. Modules it imports are shared with the
 * running version when already loaded (the kernel must be: one runtime); a plugin's code
 * that changes belongs in its entry module, or in files under new names.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import type { AppDefinition } from '../kernel/index.ts';

export class AppLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppLoadError';
  }
}

const APPS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../apps');

/** apps/<name>/app.ts in the sources, app.js in the compiled build; undefined if neither. */
function builtinFile(name: string): string | undefined {
  return ['app.ts', 'app.js'].map((f) => join(APPS_DIR, name, f)).find((f) => existsSync(f));
}

/** Names of the built-in apps shipped in apps/. */
export function builtinApps(): string[] {
  if (!existsSync(APPS_DIR)) return [];
  return readdirSync(APPS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && builtinFile(d.name) !== undefined)
    .map((d) => d.name)
    .sort();
}

function importFailure(err: unknown, file: string): string {
  const e = err as Error & { code?: string };
  if (e.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(file))
    return `${e.message} (a TypeScript plugin must be compiled to JavaScript first, e.g. 'npm run build' in its folder, and its package.json 'main' point at the build)`;
  return e.message;
}

let loads = 0;

async function loadModule(file: string, what: string, fresh = false): Promise<AppDefinition<any>> {
  let mod: Record<string, unknown>;
  const url = pathToFileURL(file).href + (fresh ? `?fife_upgrade=${Date.now()}-${++loads}` : '');
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`cannot load ${what} from ${file}: ${importFailure(err, file)}`);
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
  const file = builtinFile(name);
  if (file === undefined)
    throw new AppLoadError(
      `unknown app '${name}': built-in apps are ${builtinApps().join(', ') || '(none)'}; plugins are listed in config 'plugins'`,
    );
  return loadModule(file, `app '${name}'`);
}

interface PluginPackage {
  name?: string;
  main?: string;
  exports?: unknown;
}

function readPackage(folder: string): PluginPackage | undefined {
  const file = join(folder, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PluginPackage;
  } catch (err) {
    throw new AppLoadError(`plugin package ${file} is not JSON: ${(err as Error).message}`);
  }
}

/** The entry a package names: exports "." (a string, or its import / default condition), else main. */
function packageEntry(pkg: PluginPackage): string | undefined {
  let e: unknown = pkg.exports;
  if (typeof e === 'object' && e !== null && '.' in e) e = (e as Record<string, unknown>)['.'];
  if (typeof e === 'object' && e !== null) {
    const c = e as Record<string, unknown>;
    e = c.import ?? c.default;
  }
  return typeof e === 'string' ? e : pkg.main;
}

const isFile = (f: string): boolean => existsSync(f) && statSync(f).isFile();

/** The module file a plugin path stands for (see the contract above). */
export function pluginFile(path: string): string {
  const file = resolve(path);
  if (isFile(file)) return file;
  const pkg = readPackage(file);
  const entry = pkg === undefined ? undefined : packageEntry(pkg);
  if (entry !== undefined) {
    const main = resolve(file, entry);
    if (!isFile(main))
      throw new AppLoadError(
        `plugin package at ${path} names ${entry} as its entry, which does not exist (not built yet? run its 'npm run build')`,
      );
    return main;
  }
  const found = ['app.ts', 'app.js', 'index.ts', 'index.js'].map((c) => join(file, c)).find(isFile);
  if (found === undefined) throw new AppLoadError(`plugin not found at ${path}`);
  return found;
}

/** A package name (optionally scoped), as npm allows them: not a path. */
const PACKAGE_NAME = /^(@[a-z0-9][\w.~-]*\/)?[a-z0-9~][\w.~-]*$/i;
export const isPackageName = (s: string): boolean => PACKAGE_NAME.test(s);

/** The node_modules folders (then NODE_PATH) Node looks in for package `name` from folder `from`. */
const lookupDirs = (name: string, from: string): string[] =>
  createRequire(join(from, 'noop.js')).resolve.paths(name) ?? [];

/** The folder or file a plugin entry of the config stands for (see the contract above). */
export function pluginPath(plugin: string, from: string = process.cwd()): string {
  if (!PACKAGE_NAME.test(plugin)) return plugin;
  const dirs = lookupDirs(plugin, from);
  const found = dirs.map((d) => join(d, plugin)).find((f) => existsSync(join(f, 'package.json')));
  if (found !== undefined) return found;
  if (existsSync(resolve(plugin))) return plugin;
  const looked = dirs.length > 3 ? [...dirs.slice(0, 3), '...'] : dirs;
  throw new AppLoadError(
    `plugin not found: no package '${plugin}' from ${from} (looked in ${looked.join(', ')}; install it there, e.g. npm install ${plugin}), and no file or folder ${resolve(plugin)}`,
  );
}

export async function loadPlugin(plugin: string, fresh = false, from?: string): Promise<AppDefinition<any>> {
  return loadModule(pluginFile(pluginPath(plugin, from)), 'plugin', fresh);
}

/** The plugin at `path` as its files are now, for an upgrade (see the contract). */
export function loadPluginVersion(path: string, from?: string): Promise<AppDefinition<any>> {
  return loadPlugin(path, true, from);
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

/** A plugin that could not be loaded: the name it is listed under, its path, and why. */
export interface PluginFailure {
  name: string;
  plugin: string;
  reason: string;
}

/** The name a broken plugin is listed under: its package's name (without scope), else its file or folder name. */
function pluginName(path: string): string {
  if (PACKAGE_NAME.test(path) && !existsSync(resolve(path))) return path.replace(/^@[^/]+\//, '');
  const file = resolve(path);
  try {
    const pkgName = isFile(file) ? undefined : readPackage(file)?.name;
    if (pkgName) return pkgName.replace(/^@[^/]+\//, '');
  } catch {
    // an unreadable package.json is the failure already reported; fall back to the folder name
  }
  return basename(file, extname(file));
}

/**
 * Loads each plugin; never throws. `taken` are the names already in use (the built-ins):
 * a plugin reusing one fails. Plugins come back in the order given. Package names are
 * resolved from `from` (default: the working directory).
 */
export async function loadPlugins(
  paths: string[],
  taken: string[] = [],
  from?: string,
): Promise<{ apps: AppDefinition<any>[]; failed: PluginFailure[] }> {
  const apps: AppDefinition<any>[] = [];
  const failed: PluginFailure[] = [];
  const names = new Set(taken);
  for (const plugin of paths) {
    try {
      const def = await loadPlugin(plugin, false, from);
      if (names.has(def.name))
        throw new AppLoadError(`plugin ${plugin} is named '${def.name}', which is already taken`);
      names.add(def.name);
      apps.push(def);
    } catch (err) {
      const name = pluginName(plugin);
      failed.push({ name, plugin, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { apps, failed };
}

/** An app standing for a plugin that failed to load: starting it fails with the load error. */
export function failedPluginApp(f: PluginFailure): AppDefinition<any> {
  return {
    name: f.name,
    description: `plugin ${f.plugin} (failed to load)`,
    restart: 'temporary',
    tree: () => {
      throw new AppLoadError(f.reason);
    },
  };
}
