/**
 * media_mgr's settings: defaults, FIFE_MEDIA_MGR_* overrides, and bad values refused with
 * a message naming the key or the variable.
 */
import { describe, expect, it } from 'vitest';
import { mediaMgrSettings } from '../../../apps/media_mgr/settings.ts';
import { mediaStoreUrl } from '../../../apps/media_mgr/media-urls.ts';

describe('media_mgr settings', () => {
  it('defaults to loopback on Kazoo media proxy port 24517', () => {
    expect(mediaMgrSettings(undefined, {})).toEqual({
      host: '127.0.0.1',
      port: 24517,
      url: undefined,
      maxBodyBytes: 32 * 1024 * 1024,
    });
  });

  it('takes the config file settings, and the environment over them', () => {
    const file = { host: '10.0.0.5', port: 8080, url: 'http://media.example:8080', max_body_bytes: 1000 };
    expect(mediaMgrSettings(file, {})).toEqual({
      host: '10.0.0.5',
      port: 8080,
      url: 'http://media.example:8080',
      maxBodyBytes: 1000,
    });
    expect(
      mediaMgrSettings(file, {
        FIFE_MEDIA_MGR_HOST: '127.0.0.2',
        FIFE_MEDIA_MGR_PORT: '9000',
        FIFE_MEDIA_MGR_URL: 'http://other:9000',
      }),
    ).toMatchObject({ host: '127.0.0.2', port: 9000, url: 'http://other:9000' });
  });

  it('refuses bad values naming where they came from', () => {
    expect(() => mediaMgrSettings({ port: 70000 }, {})).toThrow(
      /settings\.media_mgr\.port must be a TCP port/,
    );
    expect(() => mediaMgrSettings({}, { FIFE_MEDIA_MGR_PORT: 'http' })).toThrow(
      /FIFE_MEDIA_MGR_PORT must be a TCP port/,
    );
    expect(() => mediaMgrSettings({ host: 5 }, {})).toThrow(/settings\.media_mgr\.host/);
    expect(() => mediaMgrSettings({ url: 'media:80' }, {})).toThrow(
      /settings\.media_mgr\.url must be a base URL/,
    );
    expect(() => mediaMgrSettings({ max_body_bytes: 0 }, {})).toThrow(
      /max_body_bytes must be a positive integer/,
    );
  });
});

describe('mediaStoreUrl', () => {
  it('encodes each part, the account database in Kazoo encoded form', () => {
    expect(
      mediaStoreUrl('http://m:24517/', 'account/ab/cd/0123456789abcdef0123456789', 'msg 1', 'a#b.wav'),
    ).toBe('http://m:24517/store/account%2Fab%2Fcd%2F0123456789abcdef0123456789/msg%201/a%23b.wav');
    expect(mediaStoreUrl('http://m', 'account%2Fab%2Fcd%2Fef', 'm', 'x.wav')).toBe(
      'http://m/store/account%2Fab%2Fcd%2Fef/m/x.wav',
    );
  });

  it('refuses what the store would refuse', () => {
    expect(() => mediaStoreUrl('http://m', 'Bad', 'm', 'x.wav')).toThrow(/illegal database name/);
    expect(() => mediaStoreUrl('http://m', 'db', '_m', 'x.wav')).toThrow(/starts with '_'/);
    expect(() => mediaStoreUrl('http://m', 'db', 'm', '')).toThrow(/attachment name/);
  });
});
