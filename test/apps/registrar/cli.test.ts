/**
 * `fife account add` / `fife device add` as an operator scripts them: against the store
 * when no node runs, through the running node's admin endpoint when one does (its
 * embedded store is locked by it), and the registrar answering for what they created.
 */
import { tmpDir } from '../../support/tmp-dirs.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { loadConfig } from '../../../src/node/config.ts';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, Requester } from '../../../src/bus/index.ts';
import { authnReq, authnTarget } from './support.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIFE = join(ROOT, 'bin/fife.js');
const run = promisify(execFile);

const nodes: FifeNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

const envFor = (dataDir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  FIFE_DATA_DIR: dataDir,
  FIFE_NODE: 'regcli@localhost',
  FIFE_APPS: 'registrar',
  FIFE_LOG_LEVEL: 'warn',
  FIFE_BUS_URL: '',
  FIFE_STORE_URL: '',
});
const fife = (env: NodeJS.ProcessEnv, ...args: string[]) => run(process.execPath, [FIFE, ...args], { env });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the command to fail');
    },
    (e: { code: number; stderr: string }) => e,
  );

describe('fife account add / fife device add', () => {
  it('without a running node they write the store; with one they go through it; the registrar answers for the device', async () => {
    const dataDir = tmpDir('fife-regcli-');
    const env = envFor(dataDir);
    const account = (
      await fife(env, 'account', 'add', '--name', 'Acme', '--realm', 'cli.example.com')
    ).stdout.trim();
    expect(account).toMatch(/^[0-9a-f]{32}$/);
    expect(
      (
        await fife(
          env,
          'device',
          'add',
          '--realm',
          'cli.example.com',
          '--username',
          'alice',
          '--password',
          'pw-a',
        )
      ).stdout.trim(),
    ).toMatch(/^[0-9a-f]{32}$/);

    const node = await startNode({ config: loadConfig({ env }), logDestination: { write: () => undefined } });
    nodes.push(node);
    expect(
      (
        await fife(
          env,
          'device',
          'add',
          '--realm',
          'cli.example.com',
          '--username',
          'bob',
          '--a1-hash',
          'c4ca4238a0b923820dcc509a6f75849b',
        )
      ).stdout.trim(),
    ).toMatch(/^[0-9a-f]{32}$/);
    const dup = await failure(fife(env, 'account', 'add', '--name', 'Again', '--realm', 'cli.example.com'));
    expect(dup).toMatchObject({ code: 1 });
    expect(dup.stderr).toContain('realm cli.example.com already belongs to an account');
    const orphan = await failure(
      fife(env, 'device', 'add', '--realm', 'nowhere.test', '--username', 'x', '--password', 'y'),
    );
    expect(orphan.stderr).toContain('no account has realm nowhere.test');

    const { logger } = memoryLogger();
    const bus = createTransport({ url: 'embedded', logger });
    await bus.start();
    const req = new Requester({ transport: bus, logger, timeoutMs: 3000 });
    await req.start();
    try {
      const a = await req.call(authnReq('alice', 'cli.example.com'), authnTarget('cli.example.com'));
      expect(a).toMatchObject({ 'Auth-Method': 'password', 'Auth-Password': 'pw-a' });
      expect(a['Custom-Channel-Vars']).toMatchObject({ 'Account-ID': account });
      expect(
        await req.call(authnReq('bob', 'cli.example.com'), authnTarget('cli.example.com')),
      ).toMatchObject({ 'Auth-Method': 'a1-hash', 'Auth-Password': 'c4ca4238a0b923820dcc509a6f75849b' });
    } finally {
      await req.stop();
      await bus.close();
    }
  });

  it('bad usage says what is missing and exits non-zero', async () => {
    const env = envFor(tmpDir('fife-regcli-'));
    const e = await failure(fife(env, 'device', 'add', '--realm', 'x.test', '--username', 'u'));
    expect(e.stderr).toContain('give exactly one of --password or --a1-hash');
  });
});
