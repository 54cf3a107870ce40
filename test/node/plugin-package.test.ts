/**
 * Plugins named by package name in the config (`plugins: ["pkg-whapp", "@acme/whapp"]`):
 * found as Node finds packages from the config file's folder (node_modules there or in a
 * folder above), whatever the working directory; a name no package answers to fails with
 * where it was looked for, and the node runs the rest.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { loadConfig } from '../../src/node/config.ts';
import { AppsController } from '../../src/kernel/index.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

const nodes: FifeNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

/** A compiled plugin package `name` (app `app`, at `version`) under `root`/node_modules. */
function installPackage(root: string, name: string, app: string, version = '1.2.3'): void {
  const dir = join(root, 'node_modules', name);
  mkdirSync(join(dir, 'dist'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version, type: 'module', exports: { '.': { import: './dist/app.js' } } }),
  );
  writeFileSync(
    join(dir, 'dist', 'app.js'),
    `export default { name: '${app}', version: '${version}', tree: () => ({ children: [] }) };\n`,
  );
}

describe('plugins named by package name', () => {
  it("are resolved from the config file's folder upwards; a missing one fails saying where it was looked for", async () => {
    const project = tmpDir('fife-plugin-pkg-');
    installPackage(project, 'pkg-whapp', 'pkg_whapp');
    installPackage(project, '@acme/whapp', 'acme_whapp');
    // the config sits in a sub-folder: node_modules is found in the folder above
    const etc = join(project, 'etc');
    mkdirSync(etc);
    const file = join(etc, 'fife.json');
    writeFileSync(
      file,
      JSON.stringify({
        plugins: ['pkg-whapp', '@acme/whapp', 'no-such-whapp'],
        apps: ['pkg_whapp', 'acme_whapp'],
      }),
    );
    const config = loadConfig({
      file,
      env: { FIFE_DATA_DIR: join(project, 'data'), FIFE_NODE: 'pkg@localhost', FIFE_LOG_LEVEL: 'silent' },
    });
    expect(config.pluginsFrom).toBe(etc);
    const node = await startNode({ config });
    nodes.push(node);
    const status = await AppsController.appsStatus(node.runtime);
    const byName = (n: string) => status.find((a) => a.name === n);
    expect(byName('pkg_whapp')).toMatchObject({ state: 'running', version: '1.2.3' });
    expect(byName('acme_whapp')).toMatchObject({ state: 'running' });
    expect(byName('no-such-whapp')).toMatchObject({
      state: 'failed',
      lastFailure: expect.stringMatching(
        new RegExp(
          `no package 'no-such-whapp' from ${etc} \\(looked in ${join(etc, 'node_modules')}, ${join(project, 'node_modules')}`,
        ),
      ),
    });
  });

  it('an upgrade names the new version by package name too: the package as now installed', async () => {
    const project = tmpDir('fife-plugin-pkg-up-');
    installPackage(project, 'pkg-whapp', 'pkg_whapp');
    const file = join(project, 'fife.json');
    writeFileSync(file, JSON.stringify({ plugins: ['pkg-whapp'], apps: ['pkg_whapp'] }));
    const config = loadConfig({
      file,
      env: { FIFE_DATA_DIR: join(project, 'data'), FIFE_NODE: 'pkg-up@localhost', FIFE_LOG_LEVEL: 'silent' },
    });
    const node = await startNode({ config });
    nodes.push(node);
    installPackage(project, 'pkg-whapp', 'pkg_whapp', '2.0.0');
    const upgrade = (from: string) =>
      fetch(`${node.adminUrl}/apps/pkg_whapp/upgrade`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from }),
      });
    const r = await upgrade('pkg-whapp');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ type: 'ok', from: '1.2.3', to: '2.0.0' });
    const missing = await upgrade('not-installed-whapp');
    expect(missing.status).toBe(409);
    expect(((await missing.json()) as { reason: string }).reason).toContain(
      `no package 'not-installed-whapp' from ${project}`,
    );
  });
});
