/**
 * The package's version, read from package.json: the one version Fife reports everywhere
 * (App-Version of every message its apps and listeners send, the apps' version in
 * `fife apps` / `fife tree`, the nodes_advertise Version). Nothing else spells a version.
 */
import pkg from '../package.json' with { type: 'json' };

export const FIFE_VERSION: string = pkg.version;
