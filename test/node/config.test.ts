import { describe, it, expect } from 'vitest';
import { tmpDir } from '../support/tmp-dirs.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/node/config.ts';

describe('node config', () => {
  it('with no configuration the node runs the platform: registrar, callflow and crossbar on embedded bus and store', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({
      apps: ['registrar', 'callflow', 'crossbar'],
      appsFromDefaults: true,
      bus: 'embedded',
      store: 'embedded',
      admin: { host: '127.0.0.1', port: 0 },
      logLevel: 'info',
    });
    expect(c.node).toMatch(/^fife@/);
  });

  it('environment overrides the file, which overrides the defaults', () => {
    const dir = tmpDir('fife-cfg-');
    const file = join(dir, 'fife.json');
    writeFileSync(
      file,
      JSON.stringify({
        node: 'a@file',
        apps: ['registrar'],
        bus: 'amqp://guest:guest@127.0.0.1:5672',
        admin: { port: 7000 },
      }),
    );
    const c = loadConfig({
      file,
      env: { FIFE_APPS: 'registrar, ecallmgr', FIFE_NODE: 'b@env', FIFE_STORE_URL: 'http://127.0.0.1:5984' },
    });
    expect(c).toMatchObject({
      node: 'b@env',
      apps: ['registrar', 'ecallmgr'],
      bus: 'amqp://guest:guest@127.0.0.1:5672',
      store: 'http://127.0.0.1:5984',
      admin: { host: '127.0.0.1', port: 7000 },
    });
  });

  it('a configured switch adds ecallmgr to the platform; apps named anywhere replace it, an empty FIFE_APPS runs none', () => {
    expect(loadConfig({ env: { FIFE_ECALLMGR_SWITCHES: '127.0.0.1:8021' } }).apps).toEqual([
      'registrar',
      'ecallmgr',
      'callflow',
      'crossbar',
    ]);
    const dir = tmpDir('fife-cfg-');
    const withSwitch = join(dir, 'switch.json');
    writeFileSync(
      withSwitch,
      JSON.stringify({ settings: { ecallmgr: { switches: [{ host: '127.0.0.1' }] } } }),
    );
    expect(loadConfig({ file: withSwitch, env: {} }).apps).toContain('ecallmgr');
    const named = join(dir, 'named.json');
    writeFileSync(named, JSON.stringify({ apps: ['registrar'] }));
    expect(loadConfig({ file: named, env: {} })).toMatchObject({ apps: ['registrar'] });
    expect(loadConfig({ file: named, env: {} }).appsFromDefaults).toBeUndefined();
    expect(loadConfig({ env: { FIFE_APPS: '' } }).apps).toEqual([]);
  });

  it.each([
    [{ FIFE_NODE: 'no-at-sign' }, /FIFE_NODE must be name@host, got 'no-at-sign'/],
    [{ FIFE_BUS_URL: 'redis://x' }, /FIFE_BUS_URL must be 'embedded' or amqp/],
    [{ FIFE_ADMIN_PORT: '70000' }, /FIFE_ADMIN_PORT must be a port 0..65535/],
    [{ FIFE_LOG_LEVEL: 'loud' }, /FIFE_LOG_LEVEL must be one of/],
    [{ FIFE_APPS: 'Bad App' }, /FIFE_APPS item must be an app name/],
  ])('a bad value is a ConfigError naming the variable: %j', (env, msg) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(msg);
  });

  it('an unreadable or non-object config file is a ConfigError', () => {
    const dir = tmpDir('fife-cfg-');
    writeFileSync(join(dir, 'bad.json'), '{not json');
    writeFileSync(join(dir, 'arr.json'), '[1]');
    expect(() => loadConfig({ file: join(dir, 'bad.json'), env: {} })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ file: join(dir, 'arr.json'), env: {} })).toThrow(/JSON object/);
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(ConfigError);
  });
});

describe('node config: application types and zone', () => {
  it('appTypes from the file, FIFE_APP_TYPES over it; the zone defaults to local', () => {
    const dir = tmpDir('fife-cfg-');
    const file = join(dir, 'fife.json');
    writeFileSync(file, JSON.stringify({ appTypes: { registrar: 'permanent' }, zone: 'east' }));
    expect(loadConfig({ file, env: {} })).toMatchObject({
      appTypes: { registrar: 'permanent' },
      zone: 'east',
    });
    expect(
      loadConfig({
        file,
        env: { FIFE_APP_TYPES: 'registrar:transient, crossbar:temporary', FIFE_ZONE: 'west' },
      }),
    ).toMatchObject({ appTypes: { registrar: 'transient', crossbar: 'temporary' }, zone: 'west' });
    expect(loadConfig({ env: {} })).toMatchObject({ appTypes: {}, zone: 'local' });
  });

  it('a bad application type names its key, or its variable', () => {
    expect(() => loadConfig({ env: { FIFE_APP_TYPES: 'registrar:forever' } })).toThrow(
      "FIFE_APP_TYPES item 'registrar' must be one of permanent, transient, temporary, got 'forever'",
    );
    const dir = tmpDir('fife-cfg-');
    const file = join(dir, 'fife.json');
    writeFileSync(file, JSON.stringify({ appTypes: { registrar: 'always' } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(
      "appTypes.registrar must be one of permanent, transient, temporary, got 'always'",
    );
    expect(() => loadConfig({ env: { FIFE_APP_TYPES: 'registrar' } })).toThrow(
      "FIFE_APP_TYPES item 'registrar' must be one of permanent, transient, temporary, got ''",
    );
  });
});
