/**
 * `fife switch-sim call|phone|dtmf|answer|hangup|calls`: a person drives a running simulator
 * from the shell (the real `fife` binary, and switchSimClient in-process for the cases
 * that need no process), and an event-socket client sees what they did.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSwitchSim, type SwitchSimHandle } from '../../src/switch/sim-main.ts';
import { switchSimClient } from '../../src/switch/sim-client.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { RawClient, watchedLogger } from './helpers.ts';

const exec = promisify(execFile);

let sim: SwitchSimHandle;
let client: RawClient;
let control: string;

beforeEach(async () => {
  sim = await runSwitchSim(['--port', '0', '--control-port', '0'], {
    logger: watchedLogger().logger,
    signals: false,
  });
  control = `127.0.0.1:${sim.control?.port}`;
  client = await RawClient.authed(sim.sw.port);
  client.send('event plain ALL\n\n');
  await client.reply();
});
afterEach(async () => {
  client.close();
  await sim.stop();
});

async function fife(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [FIFE_BIN, 'switch-sim', ...args], {
      env: { ...process.env, FIFE_SWITCH_SIM_CONTROL: control },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** The client in-process; returns what it printed. */
async function run(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  await switchSimClient([...args, '--control', control], (l) => out.push(l));
  return out;
}

const api = async (cmd: string): Promise<string> => {
  client.send(`api ${cmd}\n\n`);
  return (await client.reply()).body ?? '';
};

describe('fife switch-sim (client commands)', () => {
  it('phone --busy, then call: the call is placed and parked, and a bridge to the busy phone gets 486', async () => {
    const phone = await fife('phone', '1002', '--busy');
    expect(phone.code).toBe(0);
    expect(JSON.parse(phone.stdout)).toMatchObject({
      user: '1002',
      behaviour: { mode: 'busy', rejectSipCode: 486 },
    });
    const placed = await fife('call', '1001', '1002');
    expect(placed.code).toBe(0);
    const uuid = placed.stdout.trim();
    const park = await client.event('CHANNEL_PARK');
    expect(park.headers.get('Unique-ID')).toBe(uuid);
    expect(park.headers.get('Caller-Destination-Number')).toBe('1002');
    expect(await api('originate user/1002 &park()')).toBe('-ERR USER_BUSY\n');
    const done = await client.event('CHANNEL_HANGUP_COMPLETE');
    expect(done.headers.get('variable_sip_term_status')).toBe('486');
  });

  it('dtmf and hangup act on a call; calls lists it', async () => {
    const [uuid = ''] = await run('call', '1001', '2000');
    expect(await run('calls')).toEqual([`${uuid} inbound 1001 -> 2000 RINGING park`]);
    expect(await run('dtmf', uuid, '7#')).toEqual(['ok']);
    expect((await client.event('DTMF')).headers.get('DTMF-Digit')).toBe('7');
    expect((await client.event('DTMF')).headers.get('DTMF-Digit')).toBe('#');
    expect(await run('hangup', uuid, '--cause', 'CALL_REJECTED')).toEqual(['ok']);
    expect((await client.event('CHANNEL_HANGUP')).headers.get('Hangup-Cause')).toBe('CALL_REJECTED');
  });

  it('phone --answer-after / --no-answer / --reject, --next for one call, --unregister', async () => {
    await run('phone', '1003', '--answer-after', '10', '--hangup-after', '20', '--dtmf', '1@5');
    expect(await api('originate user/1003 &park()')).toMatch(/^\+OK /);
    expect((await client.event('DTMF')).headers.get('DTMF-Digit')).toBe('1');
    expect((await client.event('CHANNEL_HANGUP')).headers.get('variable_sip_hangup_disposition')).toBe(
      'recv_bye',
    );
    await run('phone', '1003', '--reject', '480', '--next');
    expect(await api('originate user/1003 &park()')).toBe('-ERR NO_USER_RESPONSE\n');
    expect(await api('originate user/1003 &park()')).toMatch(/^\+OK /);
    await run('phone', '1003', '--no-answer');
    expect(await api('originate {originate_timeout=1}user/1003 &park()')).toBe('-ERR NO_ANSWER\n');
    expect(await run('phone', '1003', '--unregister')).toEqual(['1003 unregistered']);
    expect(await api('originate user/1003 &park()')).toBe('-ERR USER_NOT_REGISTERED\n');
  });

  it('call --callee-busy scripts the called phone for that call only', async () => {
    await run('phone', '1002');
    await run('call', '1001', '1002', '--callee-busy');
    expect(await api('originate user/1002 &park()')).toBe('-ERR USER_BUSY\n');
    expect(await api('originate user/1002 &park()')).toMatch(/^\+OK /);
  });

  it('--help shows the client commands with the options', async () => {
    const help = await fife('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--bus <url>');
    expect(help.stdout).toContain('fife switch-sim call FROM TO');
    expect(help.stdout).toContain('fife switch-sim phone USER');
  });

  it('bad arguments are usage errors (exit 2, one line); a refused request or no simulator exits 1', async () => {
    const usage = await fife('call', '1001');
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toContain('usage: fife switch-sim call FROM TO');
    await expect(run('phone', '1002', '--busy', '--no-answer')).rejects.toThrow(/choose one of/);
    await expect(run('phone', '1002', '--reject', '200')).rejects.toThrow(/SIP failure code/);
    await expect(run('phone', '1002', '--dtmf', 'x@1')).rejects.toThrow(/DIGITS@MS/);
    await expect(run('hangup', 'no-such-call')).rejects.toThrow(/no channel no-such-call/);
    await expect(run('phone', 'ghost', '--busy', '--next')).rejects.toThrow(/no phone ghost registered/);
    await expect(runSwitchSim(['--port', '0', '--bus', 'ftp://x'], { signals: false })).rejects.toThrow(
      /--bus/,
    );
    await expect(runSwitchSim(['--port', '0', '--reg-expires', '0'], { signals: false })).rejects.toThrow(
      /--reg-expires must be at least 1/,
    );
    const down = await fife('calls', '--control', '127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('no simulator control port at http://127.0.0.1:1');
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
  });
});
