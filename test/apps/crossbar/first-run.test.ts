/**
 * `npm start` with no configuration: the node runs the platform (registrar, callflow,
 * crossbar on embedded bus and store), says once that no switch is configured (so
 * ecallmgr is left out), and tells where the REST API listens and how to make the first
 * login (`fife account add`, `fife user add`). Only the ports are overridden (tests run
 * in parallel): FIFE_CROSSBAR_PORT=0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFife, FIFE_BIN, type FifeProcess } from '../../support/fife-process.ts';
import { tmpDir } from '../../support/tmp-dirs.ts';

const run = promisify(execFile);
const started: FifeProcess[] = [];
afterAll(async () => {
  for (const p of started.splice(0)) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

/** The environment of a user who configured nothing (no FIFE_* but the ports and folder). */
function bareEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIFE_')) env[k] = v;
  return { ...env, FIFE_DATA_DIR: dataDir, FIFE_NODE: 'firstrun@localhost', FIFE_CROSSBAR_PORT: '0' };
}

describe('first run', () => {
  it('npm start with no configuration runs the platform and says how to make the first login', async () => {
    const dataDir = tmpDir('fife-first-run-');
    const env = bareEnv(dataDir);
    const node = await startFife(env);
    started.push(node);

    const startedLine = await node.waitFor((l) => l.msg === 'node started');
    expect(startedLine.apps).toEqual(['registrar', 'callflow', 'crossbar']);
    const noSwitch = node.lines.filter((l) => /no switch configured/.test(String(l.msg)));
    expect(noSwitch).toHaveLength(1);
    expect(noSwitch[0]).toMatchObject({ level: 30 });
    expect(String(noSwitch[0]!.msg)).toContain('FIFE_ECALLMGR_SWITCHES');

    const hint = await node.waitFor((l) => /no account yet/.test(String(l.msg)));
    const url = String(hint.api);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    expect(String(hint.msg)).toContain('fife account add');
    expect(String(hint.msg)).toContain('fife user add');

    // The API answers where it said it listens.
    const res = await fetch(`${url}/user_auth`, {
      method: 'PUT',
      body: JSON.stringify({ data: { credentials: 'x', account_name: 'nobody' } }),
    });
    expect(res.status).toBe(401);

    // Once an account exists, a restart no longer asks for one.
    await run(process.execPath, [FIFE_BIN, 'account', 'add', '--name', 'Acme', '--realm', 'acme.example'], {
      env,
    });
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    started.splice(started.indexOf(node), 1);
    const again = await startFife(env);
    started.push(again);
    const listening = await again.waitFor((l) => l.msg === 'crossbar listening');
    expect(String(listening.url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(again.lines.some((l) => /no account yet/.test(String(l.msg)))).toBe(false);
  }, 120_000); // two node starts
});
