/**
 * `fife crossbar init-apps DIR` as an operator runs it after unpacking a browser client:
 * with no node running it writes the store itself; one line per app (created / updated /
 * unchanged with its id, or failed with the reason); a second run finds the apps by name;
 * a DIR that does not exist fails with the reason and a non-zero exit.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../../support/tmp-dirs.ts';
import { buildAppsDir } from './apps-dir.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIFE = join(ROOT, 'bin/fife.js');
const run = promisify(execFile);

describe('fife crossbar init-apps', () => {
  it('registers the apps of a folder into the master account, once per name', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FIFE_DATA_DIR: tmpDir('fife-initapps-'),
      FIFE_NODE: 'initapps@localhost',
      FIFE_APPS: 'registrar,crossbar',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const fife = (...args: string[]) => run(process.execPath, [FIFE, ...args], { env });
    const { dir } = buildAppsDir();
    const none = await fife('crossbar', 'init-apps', dir).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(none?.code).not.toBe(0);
    expect(none?.stderr).toContain('master account');
    await fife('account', 'add', '--name', 'Platform', '--realm', 'sip.platform.test');
    const first = (await fife('crossbar', 'init-apps', dir, '--api-url', 'http://api.test/v2/')).stdout;
    expect(first).toMatch(/^voip: created [0-9a-f]{32}$/m);
    expect(first).toMatch(/^accounts: created [0-9a-f]{32}$/m);
    expect(first).toMatch(/^broken: failed: .*not JSON/m);
    const voipId = /^voip: created ([0-9a-f]{32})$/m.exec(first)![1];
    const second = (await fife('crossbar', 'init-apps', dir, '--api-url', 'http://api.test/v2/')).stdout;
    expect(second).toContain(`voip: unchanged ${voipId}`);
    const missing = await fife('crossbar', 'init-apps', join(dir, 'nope')).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).not.toBe(0);
    expect(missing?.stderr).toMatch(/nope/);
  }, 60_000);
});
