/**
 * `fife switch-sim` (runSwitchSim) and its HTTP control port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runSwitchSim, type SwitchSimHandle } from '../../src/switch/sim-main.ts';
import { RawClient, header, watchedLogger } from './helpers.ts';

let sim: SwitchSimHandle | undefined;
let client: RawClient | undefined;
afterEach(async () => {
  client?.close();
  await sim?.stop();
  sim = undefined;
});

async function start(
  extra: string[] = [],
): Promise<{ sim: SwitchSimHandle; lines: Array<Record<string, unknown>>; base: string }> {
  const { logger, lines } = watchedLogger();
  sim = await runSwitchSim(
    [
      '--port',
      '0',
      '--control-port',
      '0',
      '--password',
      'TopSecret',
      '--register',
      '1002',
      '--seed',
      '7',
      ...extra,
    ],
    { logger, signals: false },
  );
  return { sim, lines, base: `http://127.0.0.1:${sim.control?.port}` };
}

const call = async (
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${base}${path}`, {
    method,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
};

describe('runSwitchSim', () => {
  it('prints one JSON "listening" line with both ports and never the password', async () => {
    const { sim: s, lines } = await start();
    const listening = lines.filter((l) => l.msg === 'listening');
    expect(listening).toHaveLength(1);
    expect(listening[0]).toMatchObject({
      esl: `127.0.0.1:${s.sw.port}`,
      control: `127.0.0.1:${s.control?.port}`,
    });
    expect(JSON.stringify(lines)).not.toContain('TopSecret');
    client = await RawClient.authed(s.sw.port, 'TopSecret');
    client.send('api status\n\n');
    expect((await client.reply()).body).toMatch(/is ready/);
  });

  it('refuses a bad option with a message naming it', async () => {
    await expect(runSwitchSim(['--port', 'eighty'], { signals: false })).rejects.toThrow(
      /--port must be a non-negative integer/,
    );
    await expect(runSwitchSim(['--bogus'], { signals: false })).rejects.toThrow(/bogus/);
  });
});

describe('control port', () => {
  it('places a call, presses digits, hangs it up, and the ESL client sees it all', async () => {
    const { sim: s, base } = await start();
    client = await RawClient.authed(s.sw.port, 'TopSecret');
    client.send('event plain CHANNEL_PARK DTMF CHANNEL_HANGUP\n\n');
    await client.reply();
    const placed = await call(base, 'POST', '/calls', {
      from: '1001',
      to: '2000',
      variables: { ecallmgr_Account_ID: 'a1' },
    });
    expect(placed.status).toBe(201);
    const uuid = placed.json.uuid as string;
    expect((await client.event('CHANNEL_PARK')).headers.get('variable_ecallmgr_Account_ID')).toBe('a1');
    expect((await call(base, 'GET', `/calls/${uuid}`)).json).toMatchObject({
      uuid,
      state: 'CS_EXECUTE',
      destinationNumber: '2000',
    });
    expect((await call(base, 'POST', `/calls/${uuid}/dtmf`, { digits: '5' })).status).toBe(200);
    expect((await client.event('DTMF')).headers.get('DTMF-Digit')).toBe('5');
    expect((await call(base, 'POST', `/calls/${uuid}/hangup`, { cause: 'CALL_REJECTED' })).json).toEqual({
      ok: true,
    });
    expect((await client.event('CHANNEL_HANGUP')).headers.get('Hangup-Cause')).toBe('CALL_REJECTED');
    expect((await call(base, 'POST', `/calls/${uuid}/hangup`, {})).status).toBe(404);
  });

  it('--auth-calls: a call from a registered phone waits for its directory fetch, then parks with its variables', async () => {
    const { sim: s, base } = await start(['--auth-calls', '--realm', 'acme.test']);
    client = await RawClient.authed(s.sw.port, 'TopSecret');
    client.send('event plain REQUEST_PARAMS CHANNEL_PARK\n\n');
    await client.reply();
    const placed = await call(base, 'POST', '/calls', { from: '1002', to: '2000' });
    const uuid = placed.json.uuid as string;
    const fetch = await client.event('REQUEST_PARAMS');
    expect(fetch.headers.get('sip_auth_realm')).toBe('acme.test');
    client.send(
      `sendevent CUSTOM\nEvent-Subclass: fife::fetch_reply\nFetch-UUID: ${fetch.headers.get('Fetch-UUID')}\nFetch-Result: found\nvariable_ecallmgr_Account-ID: acc7\n\n`,
    );
    const park = await client.event('CHANNEL_PARK');
    expect(park.headers.get('Unique-ID')).toBe(uuid);
    expect(park.headers.get('variable_ecallmgr_Account-ID')).toBe('acc7');
  });

  it('manages endpoints and faults, and answers bad requests with 400/404', async () => {
    const { sim: s, base } = await start();
    expect((await call(base, 'POST', '/endpoints', { user: '1005', mode: 'busy' })).status).toBe(201);
    expect((await call(base, 'GET', '/endpoints')).json.map((d: { user: string }) => d.user).sort()).toEqual([
      '1002',
      '1005',
    ]);
    expect((await call(base, 'POST', '/endpoints', { user: '1006', mode: 'sometimes' })).status).toBe(400);
    expect((await call(base, 'POST', '/faults', { refuse: ['api:status'] })).status).toBe(200);
    client = await RawClient.authed(s.sw.port, 'TopSecret');
    client.send('api status\n\n');
    expect((await client.reply()).body).toBe('-ERR command refused\n');
    expect(
      (await call(base, 'POST', '/faults', { appDelayMs: { multiset: 1500, answer: 200 } })).status,
    ).toBe(200);
    expect((await call(base, 'POST', '/faults', { appDelayMs: { answer: 0 } })).status).toBe(200);
    expect([...s.sw.faults.appDelayMs]).toEqual([['multiset', 1500]]);
    expect((await call(base, 'POST', '/faults', { appDelayMs: { multiset: 'slow' } })).status).toBe(400);
    expect((await call(base, 'POST', '/faults', { appDelayMs: [1] })).status).toBe(400);
    await call(base, 'POST', '/faults/reset', {});
    expect(s.sw.faults.appDelayMs.size).toBe(0);
    const before = s.sw.coreUuid;
    const restarted = await call(base, 'POST', '/faults/restart', {});
    expect(restarted.json.coreUuid).not.toBe(before);
    await client.whenClosed();
    expect((await call(base, 'POST', '/calls', '{not json')).status).toBe(400);
    expect((await call(base, 'POST', '/calls', { from: '1' })).json.error).toMatch(
      /"to" must be a non-empty string/,
    );
    expect((await call(base, 'GET', '/nowhere')).status).toBe(404);
    client = await RawClient.authed(s.sw.port, 'TopSecret');
    client.send('api echo back\n\n');
    expect(header(await client.reply(), 'Content-Type')).toBe('api/response');
  });
});
