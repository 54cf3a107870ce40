/**
 * Reading an app's design documents from its views folder (Kazoo keeps them as JSON files
 * beside the app): good files load in name order, a bad file fails with its name.
 * (Loading them into a database is in the behaviour suite, on both adapters.)
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDesignDocs } from '../../src/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'fife-views-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

const devices = {
  _id: '_design/devices',
  language: 'javascript',
  views: { listing_by_owner: { map: 'function (doc) { emit(doc.owner_id, null); }' } },
};
const users = {
  _id: '_design/users',
  views: { crossbar_listing: { map: 'function (doc) { emit(doc._id, null); }', reduce: '_count' } },
};

describe('readDesignDocs', () => {
  it('loads every .json file of the folder in name order and ignores other files', () => {
    const dir = folder('good', {
      'users.json': JSON.stringify(users),
      'devices.json': JSON.stringify(devices),
      'README.md': '# views',
    });
    expect(readDesignDocs(dir)).toEqual([devices, users]);
  });

  it('fails invalid, naming the file, for non-JSON or a malformed design document', () => {
    const cases: Array<[string, RegExp]> = [
      ['{ nope', /broken\.json: not JSON/],
      [JSON.stringify({ _id: 'devices', views: {} }), /broken\.json: _id must be "_design\/<name>"/],
      [
        JSON.stringify({ _id: '_design/x', views: { v: { map: 42 } } }),
        /broken\.json: view v needs a map function/,
      ],
      [
        JSON.stringify({ _id: '_design/x', views: { v: { map: 'function(){}', reduce: {} } } }),
        /reduce must be a string/,
      ],
      [JSON.stringify({ _id: '_design/x' }), /views must be an object/],
    ];
    cases.forEach(([text, message], i) => {
      const dir = folder(`bad${i}`, { 'broken.json': text });
      expect(() => readDesignDocs(dir)).toThrow(message);
    });
  });
});
