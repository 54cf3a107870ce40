/**
 * Issue 9, item 11: provisioning input. The registrar's add_account / add_device
 * operations (what `fife account add` / `fife device add` and POST
 * /apps/registrar/ops/... run) refuse a realm that is not a SIP domain, a username that is
 * not a SIP user part, either beyond its length limit, and an empty password, each with a
 * message naming the field; nothing is written for a refused input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpDir } from '../support/tmp-dirs.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { EmbeddedStore, accountDbName, ACCOUNTS_DB } from '../../src/store/index.ts';
import registrar from '../../apps/registrar/app.ts';
import type { NodeServices } from '../../src/node/node.ts';

const run = promisify(execFile);

describe('registrar provisioning refuses bad realms, usernames and passwords', () => {
  const { logger } = memoryLogger();
  const store = new EmbeddedStore({ dir: join(tmpDir('fife-prov-'), 'store'), logger });
  const services = { store, log: logger } as unknown as NodeServices;
  const op = (name: 'add_account' | 'add_device', input: Record<string, unknown>) =>
    registrar.operations![name]!(input, services) as Promise<{ id: string }>;
  const refusal = (p: Promise<unknown>) =>
    p.then(
      (v) => {
        throw new Error(`accepted: ${JSON.stringify(v)}`);
      },
      (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }),
    );
  let accountId = '';

  beforeAll(async () => {
    accountId = (await op('add_account', { name: 'Acme', realm: 'Sip.Acme-1.example' })).id;
  });
  afterAll(() => store.close());

  it.each(
    [
      ['not a realm!', /invalid realm: .*not a SIP domain/],
      ['a b.example', /invalid realm: .*not a SIP domain/],
      ['10.0.0.1', /invalid realm: .*must start with a letter/],
      ['example..com', /invalid realm: .*empty label/],
      ['-acme.example', /invalid realm: .*not a SIP domain/],
      ['a 64-character label', `${'a'.repeat(64)}.example`, /invalid realm: .*64 characters \(at most 63\)/],
      [
        '263 characters',
        `${'abcdefghi.'.repeat(26)}com`,
        /invalid realm: it has 263 characters \(at most 253\)/,
      ],
    ].map((c) => (c.length === 2 ? [JSON.stringify(c[0]), ...c] : c)) as Array<[string, string, RegExp]>,
  )('add_account refuses realm %s', async (_label, realm, message) => {
    expect(await refusal(op('add_account', { name: 'X', realm }))).toMatchObject({
      code: 'invalid',
      message: expect.stringMatching(message),
    });
  });

  it.each(
    [
      ['a b:c@d', /invalid username: .*holds " "/],
      ['alice@acme', /invalid username: .*holds "@"/],
      ['bob:x', /invalid username: .*holds ":"/],
      ['50%zz', /invalid username: .*'%' not followed by two hex digits/],
      ['60,000 characters', 'x'.repeat(60_000), /invalid username: it has 60000 characters \(at most 128\)/],
    ].map((c) => (c.length === 2 ? [JSON.stringify(c[0]), ...c] : c)) as Array<[string, string, RegExp]>,
  )('add_device refuses username %s', async (_label, username, message) => {
    const r = await refusal(op('add_device', { realm: 'sip.acme-1.example', username, password: 'pw' }));
    expect(r).toMatchObject({ code: 'invalid', message: expect.stringMatching(message) });
    expect(r.message.length).toBeLessThan(300);
  });

  it('add_device refuses a bad realm and an empty password, naming the field', async () => {
    expect(
      await refusal(op('add_device', { realm: 'not a realm!', username: 'alice', password: 'pw' })),
    ).toMatchObject({ code: 'invalid', message: expect.stringMatching(/^invalid realm: /) });
    expect(
      await refusal(op('add_device', { realm: 'sip.acme-1.example', username: 'alice', password: '' })),
    ).toMatchObject({ code: 'invalid', message: expect.stringMatching(/^invalid password: it is empty/) });
  });

  it('refused input wrote nothing; RFC 3261 user parts and domain names within the limits are accepted', async () => {
    const devices = async () =>
      (await store.allDocs(accountDbName(accountId), { includeDocs: true })).rows
        .filter((r) => r.doc?.pvt_type === 'device')
        .map((r) => (r.doc!.sip as { username: string }).username);
    expect(await devices()).toEqual([]);
    expect(
      (await store.allDocs(ACCOUNTS_DB, { includeDocs: true })).rows
        .filter((r) => r.doc?.pvt_type === 'account')
        .map((r) => r.doc!.realm),
    ).toEqual(['sip.acme-1.example']);
    for (const username of [
      "o'brien.(home)",
      'a&b=c+d$e,f;g?h/i',
      '%41lice',
      '+4930123456',
      'x'.repeat(128),
    ]) {
      expect((await op('add_device', { realm: 'sip.acme-1.example', username, password: 'pw' })).id).toMatch(
        /^[0-9a-f]{32}$/,
      );
    }
    expect((await devices()).sort()).toEqual(
      ["o'brien.(home)", 'a&b=c+d$e,f;g?h/i', '%41lice', '+4930123456', 'x'.repeat(128)].sort(),
    );
    expect(
      (
        await op('add_account', {
          name: 'Max',
          realm: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
        })
      ).id,
    ).toMatch(/^[0-9a-f]{32}$/);
  });

  it('the CLI prints the refusal and exits non-zero', async () => {
    const dataDir = tmpDir('fife-prov-cli-');
    const env = {
      ...process.env,
      FIFE_DATA_DIR: dataDir,
      FIFE_NODE: 'provcli@localhost',
      FIFE_APPS: 'registrar',
      FIFE_LOG_LEVEL: 'warn',
      FIFE_BUS_URL: '',
      FIFE_STORE_URL: '',
    };
    const e = await run(
      process.execPath,
      [FIFE_BIN, 'account', 'add', '--name', 'Bad', '--realm', 'not a realm!'],
      { env },
    ).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(e).toMatchObject({ code: 1 });
    expect(e!.stderr).toContain('invalid realm: "not a realm!" is not a SIP domain');
  });
});
