/**
 * A browser client's apps folder as Monster UI ships one (`<app>/metadata/app.json`,
 * `metadata/icon/<icon>`, `metadata/screenshots/<name>`), built in a temp folder for the
 * apps-store tests: `voip` (an icon and two screenshots), `accounts` (an icon only),
 * `broken` (app.json not JSON), `nameless` (app.json without the required fields) and
 * `assets` (no metadata: not an app). Answers the folder and the image bytes written.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../../support/tmp-dirs.ts';

export interface AppsDir {
  dir: string;
  images: Record<string, Buffer>;
}

const png = (): Buffer => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(48)]);

export function writeApp(
  dir: string,
  folder: string,
  meta: unknown,
  images: Record<string, Buffer> = {},
): void {
  const m = join(dir, folder, 'metadata');
  mkdirSync(join(m, 'icon'), { recursive: true });
  mkdirSync(join(m, 'screenshots'), { recursive: true });
  writeFileSync(join(m, 'app.json'), typeof meta === 'string' ? meta : JSON.stringify(meta, null, 2));
  for (const [path, bytes] of Object.entries(images)) writeFileSync(join(m, path), bytes);
}

export const voipMeta = (label = 'Smart PBX') => ({
  name: 'voip',
  i18n: { 'en-US': { label, description: 'A PBX in the browser' } },
  tags: ['reseller', 'developer'],
  icon: 'VoIP_Services.png',
  screenshots: ['voip1.png', 'voip2.png'],
  api_url: 'http://old.example/v2/',
  source_url: 'http://apps.example/voip',
  author: '2600Hz',
  version: '4.3',
  license: '-',
  price: 0,
  phase: 'gold',
});

export function buildAppsDir(): AppsDir {
  const dir = tmpDir('fife-apps-');
  const images = { icon: png(), shot0: png(), shot1: png(), accountsIcon: png() };
  writeApp(dir, 'voip', voipMeta(), {
    'icon/VoIP_Services.png': images.icon,
    'screenshots/voip1.png': images.shot0,
    'screenshots/voip2.png': images.shot1,
  });
  writeApp(
    dir,
    'accounts',
    { name: 'accounts', i18n: { 'en-US': { label: 'Accounts Manager' } }, icon: 'accounts.png' },
    { 'icon/accounts.png': images.accountsIcon },
  );
  writeApp(dir, 'broken', '{ "name": "broken", ');
  writeApp(dir, 'nameless', { tags: ['x'] });
  mkdirSync(join(dir, 'assets', 'css'), { recursive: true });
  return { dir, images };
}
