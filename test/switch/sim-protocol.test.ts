/**
 * The simulator's event-socket protocol, seen from a plain TCP client (transcripts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Switch } from '../../src/switch/switch.ts';
import { RawClient, header, startSwitch } from './helpers.ts';

let sw: Switch;
let lines: Array<Record<string, unknown>>;
let password = 'S3cret!';
const clients: RawClient[] = [];
const open = async (authed = true): Promise<RawClient> => {
  const c = authed ? await RawClient.authed(sw.port, password) : await RawClient.open(sw.port);
  clients.push(c);
  return c;
};

beforeEach(async () => {
  password = 'S3cret!';
  ({ sw, lines } = await startSwitch({ password }));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await sw.close();
});

describe('authentication', () => {
  it('asks for auth, accepts the password, refuses commands before it', async () => {
    const c = await open(false);
    expect(header(await c.next(), 'Content-Type')).toBe('auth/request');
    c.send('api status\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('-ERR command not found');
    c.send('auth S3cret!\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK accepted');
  });

  it('accepts userauth user@domain:password', async () => {
    const c = await open(false);
    await c.next();
    c.send('userauth 1000@example.com:S3cret!\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK accepted');
  });

  it('answers a wrong password with -ERR invalid, the disconnect notice, and closes; the password is never logged', async () => {
    const c = await open(false);
    await c.next();
    c.send('auth nope\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('-ERR invalid');
    const notice = await c.next();
    expect(header(notice, 'Content-Type')).toBe('text/disconnect-notice');
    expect(notice.body).toBe('Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
    await c.whenClosed();
    expect(JSON.stringify(lines)).not.toContain('S3cret!');
  });
});

describe('commands and replies', () => {
  it('answers api with api/response and Content-Length, unknown commands with -ERR', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('api status\n\n');
    const status = await c.reply();
    expect(header(status, 'Content-Type')).toBe('api/response');
    expect(Number(header(status, 'Content-Length'))).toBe(Buffer.byteLength(status.body ?? ''));
    expect(status.body).toMatch(/^UP 0 years/);
    c.send('api no_such_thing\n\n');
    expect((await c.reply()).body).toBe('-ERR no_such_thing Command not found!\n');
    c.send('frobnicate\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('-ERR command not found');
  });

  it('handles several commands in one write and one command over several writes, replying in order', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('api uuid_exists nope\n\napi echo hi\n\nevent plain CHANNEL_CREATE\n\n');
    expect((await c.reply()).body).toBe('false');
    expect((await c.reply()).body).toBe('hi');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK event listener enabled plain');
    for (const piece of ['api ', 'ec', 'ho split', '\n', '\n']) c.send(piece);
    expect((await c.reply()).body).toBe('split');
  });

  it('replies to bgapi at once with the client Job-UUID, then fires BACKGROUND_JOB', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('event plain BACKGROUND_JOB\n\n');
    await c.reply();
    c.send('bgapi status\nJob-UUID: job-42\n\n');
    const r = await c.reply();
    expect(header(r, 'Reply-Text')).toBe('+OK Job-UUID: job-42');
    expect(header(r, 'Job-UUID')).toBe('job-42');
    const job = await c.event('BACKGROUND_JOB');
    expect(job.headers.get('Job-UUID')).toBe('job-42');
    expect(job.headers.get('Job-Command')).toBe('status');
    expect(job.body).toMatch(/is ready/);
  });

  it('sendevent fires the event to subscribers and answers +OK <event-uuid>', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('event plain CUSTOM my::thing\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK event listener enabled plain');
    c.send('sendevent CUSTOM\nEvent-Subclass: my::thing\nFoo: bar baz\ncontent-length: 4\n\nbody');
    expect(header(await c.reply(), 'Reply-Text')).toMatch(/^\+OK [0-9a-f-]{36}$/);
    const ev = await c.event('CUSTOM');
    expect(ev.headers.get('Event-Subclass')).toBe('my::thing');
    expect(ev.headers.get('Foo')).toBe('bar baz');
    expect(ev.body).toBe('body');
  });

  it('gives the exact reply texts for subscriptions, filters, linger and sendmsg errors', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    const say = async (cmd: string): Promise<string | undefined> => {
      c.send(`${cmd}\n\n`);
      return header(await c.reply(), 'Reply-Text');
    };
    expect(await say('event json CHANNEL_ANSWER CUSTOM kazoo::noop')).toBe('+OK event listener enabled json');
    expect(await say('event plain NOT_AN_EVENT')).toBe('-ERR no keywords supplied');
    expect(await say('filter Unique-ID abc')).toBe('+OK filter added. [Unique-ID]=[abc]');
    expect(await say('filter delete Unique-ID abc')).toBe('+OK filter deleted. [Unique-ID]=[abc]');
    expect(await say('nixevent CHANNEL_ANSWER')).toBe('+OK events nixed');
    expect(await say('noevents')).toBe('+OK no longer listening for events');
    expect(await say('linger')).toBe('-ERR not controlling a session');
    expect(await say('sendmsg 00000000-dead\ncall-command: execute\nexecute-app-name: answer')).toBe(
      '-ERR invalid session id [00000000-dead]',
    );
    expect(await say('exit')).toBe('+OK bye');
    expect(header(await c.next(), 'Content-Type')).toBe('text/disconnect-notice');
    await c.whenClosed();
  });

  it('closes a connection that sends an oversized frame, with a clear error, and keeps serving others', async () => {
    await sw.close();
    ({ sw, lines } = await startSwitch({ maxFrameBytes: 1024, password }));
    const bad = await open();
    const good = await open();
    bad.send(`sendmsg x\ncontent-length: 5000\n\n`);
    expect(header(await bad.reply(), 'Reply-Text')).toMatch(
      /^-ERR Content-Length 5000 is over the 1024-byte limit/,
    );
    await bad.whenClosed();
    good.send('api echo still here\n\n');
    expect((await good.reply()).body).toBe('still here');
    expect(lines.some((l) => l.msg === 'bad frame from esl client; closing')).toBe(true);
  });

  it('survives a client that leaves in the middle of a command', async () => {
    await sw.close();
    ({ sw, lines } = await startSwitch({ password }));
    const quitter = await open();
    const left = new Promise<number>((resolve) =>
      sw.onConnectionClosed((info) => resolve(info.pendingBytes)),
    );
    quitter.send('sendmsg abc\ncontent-length: 100\n\nonly part');
    quitter.socket.end();
    expect(await left).toBeGreaterThan(0);
    expect(lines.some((l) => l.msg === 'esl client left in the middle of a command')).toBe(true);
    const other = await open();
    other.send('api echo ok\n\n');
    expect((await other.reply()).body).toBe('ok');
  });
});

describe('events on the wire', () => {
  it('sends subscribed events as text/event-plain with url-encoded values, in Event-Sequence order', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('event plain ALL\n\n');
    await c.reply();
    const uuid = sw.placeCall({ from: '1001', to: '2000', callerIdName: 'Alice Q' });
    const create = await c.event('CHANNEL_CREATE');
    const raw = c.frames.find((f) => f.body?.includes('Event-Name: CHANNEL_CREATE'));
    expect(raw?.body).toContain('Caller-Caller-ID-Name: Alice%20Q');
    expect(raw?.body).toContain('Channel-Name: sofia/internal/1001%40127.0.0.1');
    expect(create.headers.get('Unique-ID')).toBe(uuid);
    const park = await c.event('CHANNEL_PARK');
    expect(Number(park.headers.get('Event-Sequence'))).toBeGreaterThan(
      Number(create.headers.get('Event-Sequence')),
    );
  });

  it('filters events in: once a filter exists only matching events pass', async () => {
    const c = await RawClient.authed(sw.port, 'S3cret!');
    clients.push(c);
    c.send('event plain CHANNEL_CREATE\n\n');
    await c.reply();
    const first = sw.placeCall({ from: '1', to: '2' });
    c.send(`filter Unique-ID ${first}\n\n`);
    await c.reply();
    const second = sw.placeCall({ from: '3', to: '4' });
    c.send('event plain CHANNEL_HANGUP\n\n');
    await c.reply();
    sw.hangup(second);
    sw.hangup(first);
    expect((await c.event('CHANNEL_HANGUP')).headers.get('Unique-ID')).toBe(first);
    const creates = c.frames.filter((f) => f.body?.includes('Event-Name: CHANNEL_CREATE'));
    expect(creates).toHaveLength(1);
    expect(creates[0]?.body).toContain(`Unique-ID: ${first}`);
  });

  it('myevents takes one channel only; at its hangup the socket gets the disconnect notice unless lingering', async () => {
    const a = sw.placeCall({ from: '1', to: '2' });
    const b = sw.placeCall({ from: '3', to: '4' });
    const c = await open();
    c.send(`myevents ${a} json\n\n`);
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK Events Enabled');
    c.send(`myevents ${a}\n\n`);
    expect(header(await c.reply(), 'Reply-Text')).toBe('-ERR aready enabled.');
    c.send('linger 5\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK will linger 5 seconds');
    sw.hangup(b);
    sw.hangup(a, 'USER_BUSY');
    const notice = await c.next((f) => header(f, 'Content-Type') === 'text/disconnect-notice');
    expect(header(notice, 'Controlled-Session-UUID')).toBe(a);
    expect(header(notice, 'Content-Disposition')).toBe('linger');
    const destroy = await c.event('CHANNEL_DESTROY');
    expect(destroy.headers.get('Unique-ID')).toBe(a);
    expect(destroy.headers.get('Hangup-Cause')).toBe('USER_BUSY');
    expect(c.frames.some((f) => f.body?.includes(b))).toBe(false);

    const d = sw.placeCall({ from: '5', to: '6' });
    const c2 = await open();
    c2.send(`myevents ${d}\n\n`);
    await c2.reply();
    sw.hangup(d);
    const n2 = await c2.next((f) => header(f, 'Content-Type') === 'text/disconnect-notice');
    expect(header(n2, 'Content-Disposition')).toBe('disconnect');
    await c2.whenClosed();
  });

  it('fires HEARTBEAT events when asked, with the session count', async () => {
    await sw.close();
    ({ sw, lines } = await startSwitch({ password, heartbeatMs: 20 }));
    sw.placeCall({ from: '1', to: '2' });
    const c = await open();
    c.send('event json HEARTBEAT\n\n');
    expect(header(await c.reply(), 'Reply-Text')).toBe('+OK event listener enabled json');
    const hb = await c.event('HEARTBEAT');
    expect(hb.headers.get('Event-Info')).toBe('System Ready');
    expect(hb.headers.get('Session-Count')).toBe('1');
  });

  it('with a seed and a fake clock, the same session gives the same bytes on every run', async () => {
    const run = async (): Promise<string> => {
      const { sw: s } = await startSwitch({ seed: 42, clock: { startMicros: 1_700_000_000_000_000 } });
      const c = await RawClient.authed(s.port);
      c.send('event plain ALL\n\n');
      await c.reply();
      const destroyed = new Promise<void>((r) => s.onEvent((e) => e.name === 'CHANNEL_DESTROY' && r()));
      const uuid = s.placeCall({ from: '1001', to: '2000' });
      c.send(`sendmsg ${uuid}\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: fixed-1\n\n`);
      await c.event('CHANNEL_ANSWER');
      c.send(`sendmsg ${uuid}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n`);
      await destroyed;
      await c.event('CHANNEL_DESTROY');
      const text = c.frames
        .map((f) => `${f.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${f.body ?? ''}`)
        .join('');
      c.close();
      await s.close();
      return text;
    };
    const first = await run();
    expect(first).toContain('Event-Date-Timestamp: 17000000000');
    expect(await run()).toBe(first);
  });

  it('uuid_bridge joins two existing channels; when one leaves the other is hung up', async () => {
    const c = await open();
    const a = sw.placeCall({ from: '1', to: '2' });
    const b = sw.placeCall({ from: '3', to: '4' });
    c.send('event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_DESTROY\n\n');
    await c.reply();
    c.send(`api uuid_bridge ${a} ${b}\n\n`);
    expect((await c.reply()).body).toBe(`+OK ${b}\n`);
    expect((await c.event('CHANNEL_BRIDGE')).headers.get('Other-Leg-Unique-ID')).toBe(b);
    sw.hangup(b);
    await c.event('CHANNEL_UNBRIDGE');
    const gone = [await c.event('CHANNEL_DESTROY'), await c.event('CHANNEL_DESTROY')].map((e) =>
      e.headers.get('Unique-ID'),
    );
    expect(gone.sort()).toEqual([a, b].sort());
  });

  it('uuid_bridge stops what the legs were playing (hold music ends when the bridge starts)', async () => {
    const c = await open();
    const a = sw.placeCall({ from: '5', to: '6' });
    const b = sw.placeCall({ from: '7', to: '8' });
    c.send('event plain PLAYBACK_START PLAYBACK_STOP CHANNEL_BRIDGE\n\n');
    await c.reply();
    // An hour of silence stands in for hold music: only the bridge can end it.
    c.send(
      `sendmsg ${a}\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://3600000\n\n`,
    );
    await c.reply();
    await c.event('PLAYBACK_START');
    c.send(`api uuid_bridge ${a} ${b}\n\n`);
    expect((await c.reply()).body).toBe(`+OK ${b}\n`);
    expect((await c.event('PLAYBACK_STOP')).headers.get('Unique-ID')).toBe(a);
    await c.event('CHANNEL_BRIDGE');
    sw.hangup(a);
  });
});
