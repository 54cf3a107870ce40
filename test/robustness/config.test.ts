/**
 * Configuration mistakes an operator makes: unknown keys (top level and nested) name the
 * key and the closest known one; every type error names its key, or the environment
 * variable it came from; `fife start` with such a config exits 2 with that one line and
 * starts nothing.
 */
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpDir } from '../support/tmp-dirs.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { loadConfig, ConfigError } from '../../src/node/config.ts';

const run = promisify(execFile);

function configFile(content: unknown): string {
  const file = join(tmpDir('fife-cfg-'), 'fife.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

const problem = (content: unknown, env: NodeJS.ProcessEnv = {}): string => {
  try {
    loadConfig({ file: content === undefined ? undefined : configFile(content), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
};

describe('config: unknown keys', () => {
  it('a misspelt top-level key is named with the closest known key', () => {
    expect(problem({ bsu: 'embedded' })).toContain("unknown key 'bsu' (did you mean 'bus'?)");
    expect(problem({ heartbeat: 1000 })).toContain("unknown key 'heartbeat' (did you mean 'heartbeatMs'?)");
  });

  it('a misspelt nested key is named with its path', () => {
    expect(problem({ admin: { prot: 1 } })).toContain(
      "unknown key 'admin.prot' (did you mean 'admin.port'?)",
    );
  });

  it('every problem is reported at once, with the file it is in', () => {
    const msg = problem({ bsu: 'embedded', admin: { hots: 'x' }, dataDir: 42 });
    expect(msg).toMatch(/fife\.json/);
    expect(msg).toContain("unknown key 'bsu'");
    expect(msg).toContain("unknown key 'admin.hots' (did you mean 'admin.host'?)");
    expect(msg).toContain('dataDir must be a string, got 42');
  });

  it('settings stay free-form per app, and admin.token is a known key', () => {
    const c = loadConfig({
      file: configFile({
        settings: { ecallmgr: { anything: { deep: [1] } }, mine: {} },
        admin: { token: 't0k' },
      }),
      env: {},
    });
    expect(c.settings).toEqual({ ecallmgr: { anything: { deep: [1] } }, mine: {} });
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 0, token: 't0k' });
  });
});

describe('config: type errors name their key', () => {
  it.each([
    [{ dataDir: 42 }, 'dataDir must be a string, got 42'],
    [{ admin: { host: 42 } }, 'admin.host must be a string, got 42'],
    [{ admin: { port: '80' } }, "admin.port must be a whole number, got '80'"],
    [{ admin: { port: 70000 } }, 'admin.port must be a port 0..65535'],
    [{ admin: 'localhost' }, "admin must be an object, got 'localhost'"],
    [{ apps: 'registrar' }, "apps must be a list, got 'registrar'"],
    [{ apps: ['registrar', 7] }, 'apps[1] must be a string, got 7'],
    [{ plugins: [null] }, 'plugins[0] must be a string, got null'],
    [{ heartbeatMs: 1.5 }, 'heartbeatMs must be a whole number, got 1.5'],
    [{ settings: { ecallmgr: 5 } }, 'settings.ecallmgr must be an object, got 5'],
    [
      { logLevel: 'loud' },
      "logLevel must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'",
    ],
  ])('%j', (content, msg) => {
    expect(problem(content)).toContain(msg);
  });
});

describe('config: environment overrides are checked the same way', () => {
  it.each([
    [{ FIFE_ADMIN_PORT: 'http' }, "FIFE_ADMIN_PORT must be a whole number, got 'http'"],
    [{ FIFE_ADMIN_PORT: '70000' }, 'FIFE_ADMIN_PORT must be a port 0..65535'],
    [{ FIFE_HEARTBEAT_MS: '5' }, 'FIFE_HEARTBEAT_MS must be a whole number of ms >= 100, got 5'],
    [
      { FIFE_APPS: 'registrar,Bad App' },
      "FIFE_APPS item must be an app name (lowercase letters, digits, - and _), got 'Bad App'",
    ],
    [{ FIFE_BUS_URL: 'redis://x' }, "FIFE_BUS_URL must be 'embedded' or amqp:// URLs"],
  ])('%j', (env, msg) => {
    expect(problem(undefined, env)).toContain(msg);
  });

  it('a good variable overrides a bad file value, and is not blamed for it', () => {
    expect(
      loadConfig({ file: configFile({ admin: { port: 'x' } }), env: { FIFE_ADMIN_PORT: '7000' } }).admin.port,
    ).toBe(7000);
    const msg = problem({ admin: { host: 42 } }, { FIFE_ADMIN_PORT: '7000' });
    expect(msg).toContain('admin.host must be a string, got 42');
    expect(msg).not.toContain('FIFE_ADMIN_PORT');
  });
});

describe('fife start with a bad config', () => {
  it('exits 2 with one line naming the key and the closest known key, and starts nothing', async () => {
    const dataDir = tmpDir('fife-cfg-');
    const file = configFile({ node: 'bad@localhost', dataDir, admin: { prot: 1 } });
    const e = await run(process.execPath, [FIFE_BIN, 'start', '--config', file], {
      env: { ...process.env, FIFE_LOG_PRETTY: '0' },
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (x: { code: number; stdout: string; stderr: string }) => x,
    );
    expect(e.code).toBe(2);
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
    expect(e.stderr).toContain("unknown key 'admin.prot' (did you mean 'admin.port'?)");
    expect(e.stdout).toBe('');
    expect(existsSync(join(dataDir, 'bad@localhost'))).toBe(false);
  });
});
