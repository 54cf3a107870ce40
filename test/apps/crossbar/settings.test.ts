/** crossbar's settings: defaults, FIFE_CROSSBAR_* overrides, bad values refused by name. */
import { describe, expect, it } from 'vitest';
import { crossbarSettings } from '../../../apps/crossbar/settings.ts';

describe('crossbar settings', () => {
  it('defaults to 127.0.0.1:8000, 50 rows a page, one-hour tokens', () => {
    expect(crossbarSettings(undefined, {})).toEqual({
      host: '127.0.0.1',
      port: 8000,
      maxBodyBytes: 1024 * 1024,
      tokenTtlS: 3600,
      pageSize: 50,
    });
  });

  it('takes settings.crossbar and lets FIFE_CROSSBAR_HOST / FIFE_CROSSBAR_PORT override them', () => {
    expect(crossbarSettings({ host: '0.0.0.0', port: 8443 }, {})).toMatchObject({
      host: '0.0.0.0',
      port: 8443,
    });
    expect(
      crossbarSettings({ port: 8443 }, { FIFE_CROSSBAR_PORT: '9000', FIFE_CROSSBAR_HOST: '::1' }),
    ).toMatchObject({ host: '::1', port: 9000 });
  });

  it('refuses bad values naming the key or variable', () => {
    expect(() => crossbarSettings({ port: 'eighty' }, {})).toThrow(
      /settings\.crossbar\.port must be a TCP port/,
    );
    expect(() => crossbarSettings({}, { FIFE_CROSSBAR_PORT: '70000' })).toThrow(
      /FIFE_CROSSBAR_PORT must be a TCP port/,
    );
    expect(() => crossbarSettings({ page_size: 0 }, {})).toThrow(/settings\.crossbar\.page_size/);
  });
});
