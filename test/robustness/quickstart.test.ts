/**
 * README.md's quick start cannot rot: its marked shell blocks (`<!-- quickstart:NAME -->`
 * ... `<!-- /quickstart:NAME -->`) are run as written, in a temporary folder, by bash:
 * the switch simulator and the node in the background, then the API block (first account
 * and user, login with curl, a device and a callflow over the API, a call placed). The
 * only changes are the ports (README's 8000 / 8021 / 8022 become free ones, through the
 * environment where a command reads one: FIFE_CROSSBAR_PORT, FIFE_SWITCH_SIM_CONTROL) and
 * `npx fife` / `npm start` running this checkout's bin/fife.js (the temporary folder has
 * no node_modules).
 *
 * Then the call is checked as the README says a user sees it (`fife switch-sim calls`:
 * answered, playing the callflow's tone), and the callflow is edited over HTTP: the next
 * call follows the edited flow.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { freePort } from '../apps/crossbar/support.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const execFileP = promisify(execFile);

/** The shell commands of README's block NAME (the fenced `sh` block between its markers). */
function quickstartBlock(name: string): string {
  const m = new RegExp(
    `<!-- quickstart:${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\s*<!-- /quickstart:${name} -->`,
  ).exec(README);
  if (m === null) throw new Error(`README.md has no quickstart:${name} block`);
  return m[1]!;
}

/** `npx fife` and `npm start` as this checkout's bin/fife.js (see the header). */
const SHIMS = `set -euo pipefail
npx() { if [ "$1" = fife ]; then shift; node "${FIFE_BIN}" "$@"; else command npx "$@"; fi; }
npm() { if [ "$1" = start ]; then shift; node "${FIFE_BIN}" start "$@"; else command npm "$@"; fi; }
`;

interface Bg {
  child: ChildProcess;
  out: () => string;
  waitFor(re: RegExp): Promise<void>;
}

const background: ChildProcess[] = [];
afterAll(async () => {
  for (const c of background.splice(0).reverse()) {
    if (c.exitCode !== null || c.pid === undefined) continue;
    const gone = new Promise((r) => c.once('close', r));
    process.kill(-c.pid, 'SIGTERM');
    await gone;
  }
});

/** A block run in the background in its own process group (stopped with it after the test). */
function runInBackground(script: string, cwd: string, env: NodeJS.ProcessEnv): Bg {
  const child = spawn('bash', ['-c', SHIMS + script], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  background.push(child);
  let out = '';
  const waiters: Array<{ re: RegExp; ok: () => void }> = [];
  const feed = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.filter((x) => x.re.test(out))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.ok();
    }
  };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  const closed = new Promise<number | null>((r) => child.on('close', r));
  return {
    child,
    out: () => out,
    waitFor: (re) =>
      re.test(out)
        ? Promise.resolve()
        : new Promise((ok, fail) => {
            waiters.push({ re, ok });
            void closed.then((code) => fail(new Error(`exited ${code} before ${re}: ${out.slice(-2000)}`)));
          }),
  };
}

/** Polls `fife switch-sim calls` until a line matches (a deadline, no fixed wait). */
async function callMatching(env: NodeJS.ProcessEnv, re: RegExp, deadlineMs = 20_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < until) {
    last = (await execFileP(process.execPath, [FIFE_BIN, 'switch-sim', 'calls'], { env })).stdout;
    const line = last.split('\n').find((l) => re.test(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no call matching ${re} in 'fife switch-sim calls': ${JSON.stringify(last)}`);
}

describe("README's quick start", () => {
  it('runs as written: first login, a device and a callflow over the API, a call that follows it; an edited callflow is followed on the next call', async () => {
    const [api, esl, control] = [await freePort(), await freePort(), await freePort()];
    const ports = (s: string): string =>
      s
        .replaceAll('127.0.0.1:8000', `127.0.0.1:${api}`)
        .replaceAll('127.0.0.1:8021', `127.0.0.1:${esl}`)
        .replaceAll('--port 8021', `--port ${esl}`)
        .replaceAll('--control-port 8022', `--control-port ${control}`);
    const cwd = tmpDir('fife-quickstart-');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIFE_')) env[k] = v;
    Object.assign(env, {
      FIFE_CROSSBAR_PORT: String(api),
      FIFE_SWITCH_SIM_CONTROL: `127.0.0.1:${control}`,
      FIFE_NODE: 'quickstart@localhost',
    });

    const sim = runInBackground(ports(quickstartBlock('switch')), cwd, env);
    await sim.waitFor(/"msg":"listening"/);
    const node = runInBackground(ports(quickstartBlock('node')), cwd, env);
    await node.waitFor(/"msg":"node started"/);
    await node.waitFor(/"msg":"esl connection up"/);
    expect(node.out()).toMatch(/"apps":\["registrar","ecallmgr","callflow","crossbar"\]/);

    const script = ports(quickstartBlock('api'));
    const { stdout } = await execFileP('bash', ['-c', SHIMS + script], { cwd, env });
    const uuid = stdout.trim().split('\n').at(-1)!;
    expect(uuid, stdout).toMatch(/^[0-9a-f-]{36}$/);
    const first = await callMatching(
      env,
      new RegExp(`^${uuid} inbound 1001 -> 2000 ACTIVE playback tone_stream://`),
    );
    expect(first).toContain('tone_stream://%(400,200,440)');

    // The callflow edited over HTTP: the next call plays the new tone.
    const base = `http://127.0.0.1:${api}/v2`;
    const login = (await (
      await fetch(`${base}/user_auth`, {
        method: 'PUT',
        body: JSON.stringify({
          data: { credentials: createHash('md5').update('admin:secret').digest('hex'), account_name: 'Acme' },
        }),
      })
    ).json()) as { auth_token: string; data: { account_id: string } };
    const headers = { 'x-auth-token': login.auth_token };
    const flows = `${base}/accounts/${login.data.account_id}/callflows`;
    const list = (await (await fetch(flows, { headers })).json()) as { data: Array<{ id: string }> };
    expect(list.data).toHaveLength(1);
    const patched = await fetch(`${flows}/${list.data[0]!.id}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({
        data: { flow: { module: 'play', data: { id: 'tone_stream://%(100,100,880)', answer: true } } },
      }),
    });
    expect(patched.status).toBe(200);
    await execFileP(process.execPath, [FIFE_BIN, 'switch-sim', 'hangup', uuid], { env });
    const next = (
      await execFileP(process.execPath, [FIFE_BIN, 'switch-sim', 'call', '1001', '2000'], { env })
    ).stdout.trim();
    const second = await callMatching(env, new RegExp(`^${next} inbound 1001 -> 2000 ACTIVE playback `));
    expect(second).toContain('tone_stream://%(100,100,880)');
  }, 120_000);
});
