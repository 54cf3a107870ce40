/**
 * EslConnection (the typed client ecallmgr will use) against the simulator over loopback:
 * promise API, failure of pending requests, reconnect with re-subscription, bad bytes.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EslConnection, jsonStringField } from '../../src/switch/esl-connection.ts';
import {
  EslChannelGoneError,
  EslCommandError,
  EslDisconnectedError,
  EslNotConnectedError,
  EslTimeoutError,
  eventHeader,
  type EslEvent,
} from '../../src/switch/esl-errors.ts';
import type { Switch } from '../../src/switch/switch.ts';
import { nextSimEvent, startSwitch, watchedLogger } from './helpers.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { password?: string; requestTimeoutMs?: number } = {}): Promise<{
  sw: Switch;
  esl: EslConnection;
  lines: Array<Record<string, unknown>>;
  waitFor: ReturnType<typeof watchedLogger>['waitFor'];
}> {
  const { sw } = await startSwitch({ password: 'pw-1' });
  cleanups.push(() => sw.close());
  const { logger, lines, waitFor } = watchedLogger();
  const esl = new EslConnection({
    port: sw.port,
    password: opts.password ?? 'pw-1',
    logger,
    backoff: { initialMs: 10, maxMs: 50 },
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  cleanups.push(() => esl.close());
  return { sw, esl, lines, waitFor };
}

const nextEvent = (esl: EslConnection, match: (e: EslEvent) => boolean): Promise<EslEvent> =>
  new Promise((resolve) => {
    const on = (e: EslEvent): void => {
      if (!match(e)) return;
      esl.off('event', on);
      resolve(e);
    };
    esl.on('event', on);
  });

const once = (esl: EslConnection, name: 'up' | 'down'): Promise<void> =>
  new Promise((r) => (name === 'up' ? esl.once('up', () => r()) : esl.once('down', () => r())));

async function parked(sw: Switch): Promise<string> {
  const p = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await p;
  return uuid;
}

describe('requests', () => {
  it('api resolves with the body; -ERR rejects with EslCommandError', async () => {
    const { esl } = await setup();
    await esl.start();
    expect(esl.isUp).toBe(true);
    expect(await esl.api('echo hello')).toBe('hello');
    await expect(esl.api('nope')).rejects.toThrow(EslCommandError);
  });

  it('bgapi resolves with the BACKGROUND_JOB body', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    sw.registerEndpoint('1003');
    const out = await esl.bgapi('originate user/1003 &park()');
    expect(out).toMatch(/^\+OK [0-9a-f-]{36}\n$/);
    await expect(esl.bgapi('originate user/ghost &park()')).rejects.toThrow(/USER_NOT_REGISTERED/);
  });

  it('execute resolves on its own CHANNEL_EXECUTE_COMPLETE; hangup ends the call; a bad uuid rejects', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    const uuid = await parked(sw);
    const [answered, setDone] = await Promise.all([
      esl.execute(uuid, 'answer', '', { eventLock: true }),
      esl.execute(uuid, 'set', 'x=1', { eventLock: true }),
    ]);
    expect(answered.headers.Application).toBe('answer');
    expect(setDone.headers.Application).toBe('set');
    expect(setDone.headers.variable_x).toBe('1');
    expect(sw.channel(uuid)?.answerState).toBe('answered');
    const gone = sw.whenDestroyed(uuid);
    await esl.hangup(uuid, 'USER_BUSY');
    await gone;
    await expect(esl.execute(uuid, 'answer')).rejects.toThrow(/invalid session id/);
  });

  it('subscribe delivers typed events; filter narrows them', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    await esl.subscribe(['CHANNEL_CREATE']);
    const created = nextEvent(esl, (e) => e.name === 'CHANNEL_CREATE');
    const uuid = sw.placeCall({ from: '1', to: '2' });
    const ev = await created;
    expect(ev.uuid).toBe(uuid);
    expect(ev.headers['Caller-Destination-Number']).toBe('2');
    await esl.filter('Caller-Destination-Number', '4');
    const seen: string[] = [];
    esl.on(
      'event',
      (e) => e.name === 'CHANNEL_CREATE' && seen.push(e.headers['Caller-Destination-Number'] ?? ''),
    );
    const four = nextEvent(esl, (e) => e.name === 'CHANNEL_CREATE');
    sw.placeCall({ from: '1', to: '3' });
    sw.placeCall({ from: '1', to: '4' });
    await four;
    expect(seen).toEqual(['4']);
  });
});

describe('failure', () => {
  it('an execute queued behind a locked application rejects with EslChannelGoneError when the channel is destroyed', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    await esl.subscribe(['CHANNEL_DESTROY']);
    const uuid = await parked(sw);
    const running = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE' && e.headers.some(([k, v]) => k === 'Application' && v === 'sleep'),
    );
    const sleep = esl.execute(uuid, 'sleep', '60000', { eventLock: true });
    await running;
    const queued = esl.execute(uuid, 'set', 'never=1');
    const gone = expect(queued).rejects.toThrow(EslChannelGoneError);
    await esl.hangup(uuid);
    expect((await sleep).headers['Hangup-Cause']).toBe('NORMAL_CLEARING');
    await gone;
  });

  it('a TCP reset also takes it down, rejects what was pending, and it comes back', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    const release = sw.faults.stallReplies();
    const pending = esl.api('status');
    const rejected = expect(pending).rejects.toThrow(EslDisconnectedError);
    const down = once(esl, 'down');
    const up = once(esl, 'up');
    sw.dropConnections({ reset: true });
    await down;
    await rejected;
    release();
    await up;
    expect(await esl.api('echo again')).toBe('again');
  });

  it('rejects a request made while down at once, saying how to recover', async () => {
    const { esl } = await setup();
    await expect(esl.api('status')).rejects.toThrow(EslNotConnectedError);
    await expect(esl.api('status')).rejects.toThrow(/wait for its 'up' event/);
  });

  it('rejects every pending api/bgapi/execute when the socket drops', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    const uuid = await parked(sw);
    const executing = nextSimEvent(
      sw,
      (e) => e.name === 'CHANNEL_EXECUTE' && e.headers.some(([k, v]) => k === 'Application' && v === 'sleep'),
    );
    const exec = esl.execute(uuid, 'sleep', '60000');
    await executing;
    const release = sw.faults.stallReplies();
    const api = esl.api('status');
    const bg = esl.bgapi('status');
    const down = once(esl, 'down');
    sw.dropConnections();
    await down;
    release();
    for (const p of [exec, api, bg]) await expect(p).rejects.toThrow(EslDisconnectedError);
  });

  it('reconnects with backoff and re-subscribes, so events flow again after up', async () => {
    const { sw, esl, lines } = await setup();
    await esl.start();
    await esl.subscribe(['CHANNEL_PARK']);
    const down = once(esl, 'down');
    const up = once(esl, 'up');
    await sw.restart({ downMs: 30 });
    await down;
    await up;
    const park = nextEvent(esl, (e) => e.name === 'CHANNEL_PARK');
    const uuid = sw.placeCall({ from: '1', to: '2' });
    expect((await park).uuid).toBe(uuid);
    expect((await park).headers['Core-UUID']).toBe(sw.coreUuid);
    expect(lines.some((l) => l.msg === 'esl connection down')).toBe(true);
  });

  it('during a partition requests fail with EslTimeoutError; after it heals, late answers are absorbed and the connection works', async () => {
    const { sw, esl } = await setup({ requestTimeoutMs: 150 });
    await esl.start();
    const heal = sw.partition();
    await expect(esl.api('echo lost-1')).rejects.toThrow(EslTimeoutError);
    await expect(esl.command('event json CHANNEL_ANSWER')).rejects.toThrow(
      /no answer from the switch within 150 ms/,
    );
    expect(esl.isUp).toBe(true);
    heal();
    expect(await esl.api('echo after')).toBe('after');
    expect(await esl.command('filter Unique-ID x')).toBe('+OK filter added. [Unique-ID]=[x]');
  });

  it('logs a refused password and never comes up, without crashing or logging the password', async () => {
    const { esl, lines, waitFor } = await setup({ password: 'wrong-pw' });
    let upCount = 0;
    esl.on('up', () => upCount++);
    void esl.start().catch(() => undefined);
    await waitFor((l) => String(l.msg).startsWith('esl authentication failed'), 2);
    expect(upCount).toBe(0);
    expect(JSON.stringify(lines)).not.toContain('wrong-pw');
  });

  it('survives header values with broken % escapes: logs them and keeps working', async () => {
    const { sw, esl, lines } = await setup();
    await esl.start();
    await esl.subscribe(['CUSTOM']);
    const got = nextEvent(esl, (e) => e.name === 'CUSTOM');
    const body = 'Event-Name: CUSTOM\nEvent-Subclass: test::bad\nBad-Value: 100%ZZ%E0%A4\n\n';
    sw.injectRaw(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-plain\n\n${body}`);
    const ev = await got;
    expect(ev.headers['Bad-Value']).toBe('100%ZZ%E0%A4');
    expect(lines.some((l) => l.msg === 'malformed header value from the switch; decoded leniently')).toBe(
      true,
    );
    expect(await esl.api('echo alive')).toBe('alive');
  });

  it('JSON events: every header as JSON.parse reads it, whatever the text holds (escapes, a key in a value, a key twice, numbers)', async () => {
    const { sw, esl } = await setup();
    await esl.start();
    await esl.subscribe(['CUSTOM']);
    const texts = [
      '{"Event-Name":"CUSTOM","Event-Subclass":"test::plain","Unique-ID":"u-1","Application":"set","_body":"hi"}',
      '{"Event-Name":"CUSTOM","Event-Subclass":"test::tricky","Note":"x\\",\\"Unique-ID\\":\\"fake","Unique-ID":"u-2"}',
      '{"Event-Name":"CUSTOM","Event-Subclass":"test::twice","Application":"a\\"b","Unique-ID":"u-3","Unique-ID":"u-4"}',
      '{"Event-Name":"CUSTOM","Event-Subclass":"test::spaced", "Unique-ID" : "u-5","Event-Sequence":7}',
    ];
    for (const text of texts) {
      const got = nextEvent(esl, (e) => e.name === 'CUSTOM');
      sw.injectRaw(`Content-Length: ${Buffer.byteLength(text)}\nContent-Type: text/event-json\n\n${text}`);
      const ev = await got;
      const want = JSON.parse(text) as Record<string, unknown>;
      // one header at a time (before the whole event is decoded), then the whole record
      for (const h of ['Unique-ID', 'Application', 'Event-Sequence', 'Missing'])
        expect(eventHeader(ev, h)).toBe(want[h] === undefined ? undefined : String(want[h]));
      expect(ev.uuid).toBe(want['Unique-ID']);
      expect(ev.subclass).toBe(want['Event-Subclass']);
      expect(ev.body).toBe(want._body ?? '');
      const { _body, ...headers } = want;
      expect(ev.headers).toEqual(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])));
    }
  });

  it('reads a header from the JSON text only when the text is plain, and says when it cannot tell', () => {
    expect(jsonStringField('{"A":"1","B":"2"}', 'B')).toBe('2');
    expect(jsonStringField('{"A":"1","B":"2"}', 'C')).toBeUndefined();
    // "B" quoted inside a value is escaped there: only the key matches
    expect(jsonStringField('{"A":"x\\"B\\"","B":"2"}', 'B')).toBe('2');
    for (const text of [
      '{"A":"x\\"B","B":"2"}',
      '{"B":"2","B":"3"}',
      '{"B":"a\\nb"}',
      '{"B":2}',
      '{"B" :"2"}',
    ])
      expect(typeof jsonStringField(text, 'B')).toBe('symbol');
  });

  it('close is idempotent and rejects start() if never up', async () => {
    const { esl } = await setup({ password: 'wrong-pw' });
    const first = esl.start();
    expect(esl.start()).toBe(first);
    const rejected = expect(first).rejects.toThrow(/closed before it came up/);
    await esl.close();
    await esl.close();
    await rejected;
    await expect(esl.start()).rejects.toThrow(/is closed; make a new one/);
  });

  it('retries an unreachable switch as its backoff says: initialMs, doubling, never above maxMs', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 1));
      });
    });
    const { logger, lines, waitFor } = watchedLogger();
    const esl = new EslConnection({ port, logger, backoff: { initialMs: 5, maxMs: 20, jitter: 0 } });
    const started = esl.start().catch((e: unknown) => e);
    await waitFor((l) => l.msg === 'esl reconnect scheduled', 4);
    await esl.close();
    expect(await started).toBeInstanceOf(Error);
    expect(
      lines
        .filter((l) => l.msg === 'esl reconnect scheduled')
        .slice(0, 4)
        .map((l) => l.delay_ms),
    ).toEqual([5, 10, 20, 20]);
  });

  it('refuses a bad backoff when constructed, naming the field', () => {
    expect(
      () =>
        new EslConnection({ port: 1, logger: watchedLogger().logger, backoff: { initialMs: 50, maxMs: 10 } }),
    ).toThrow(/backoff\.maxMs must be a number of ms at least initialMs \(50\)/);
  });
});
