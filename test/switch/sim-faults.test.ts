/**
 * Fault injection: the simulator misbehaves on purpose, within what FreeSWITCH can do,
 * and clients (modesl unchanged, raw sockets) see it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import {
  RawClient,
  header,
  modeslClose,
  modeslConnect,
  nextSimEvent,
  startSwitch,
  watchedLogger,
} from './helpers.ts';

let sw: Switch;
const closers: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  ({ sw } = await startSwitch());
});
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await sw.close();
});

async function connect(): Promise<Connection> {
  const conn = await modeslConnect(sw.port);
  closers.push(() => modeslClose(conn));
  return conn;
}

async function raw(): Promise<RawClient> {
  const c = await RawClient.authed(sw.port);
  closers.push(() => c.close());
  return c;
}

async function parked(): Promise<string> {
  const p = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PARK');
  const uuid = sw.placeCall({ from: '1001', to: '2000' });
  await p;
  return uuid;
}

describe('fault injection', () => {
  it('fragmented writes: modesl still reassembles every frame', async () => {
    sw.faults.fragmentWrites = true;
    const conn = await connect();
    const body = await new Promise<string>((r) => conn.api('status', '', (e) => r(e.getBody())));
    expect(body).toMatch(/^UP 0 years[\s\S]*is ready/);
    const uuid = await parked();
    const done = await new Promise<ModeslEvent>((r) => conn.execute('answer', '', uuid, r));
    expect(done.getHeader('Application')).toBe('answer');
    expect(done.getHeader('Unique-ID')).toBe(uuid);
  });

  it("events before reply: a sendmsg's CHANNEL_EXECUTE can arrive before its +OK", async () => {
    const uuid = await parked();
    const c = await raw();
    c.send('event plain CHANNEL_EXECUTE\n\n');
    await c.reply();
    sw.faults.eventsBeforeReply = true;
    c.send(`sendmsg ${uuid}\ncall-command: execute\nexecute-app-name: answer\n\n`);
    const kinds = [await c.next(), await c.next()].map((f) => header(f, 'Content-Type'));
    expect(kinds).toEqual(['text/event-plain', 'command/reply']);
  });

  it('refused commands get -ERR (api: in the body) and nothing runs', async () => {
    const uuid = await parked();
    sw.faults.refuse.add('sendmsg');
    sw.faults.refuse.add('api:uuid_kill');
    const c = await raw();
    c.send(`sendmsg ${uuid}\ncall-command: hangup\n\n`);
    expect(header(await c.reply(), 'Reply-Text')).toBe('-ERR command refused');
    c.send(`api uuid_kill ${uuid}\n\n`);
    expect((await c.reply()).body).toBe('-ERR command refused\n');
    c.send(`api uuid_exists ${uuid}\n\n`);
    expect((await c.reply()).body).toBe('true');
  });

  it('stalled replies hold the FIFO until released, then come in order', async () => {
    const c = await raw();
    const release = sw.faults.stallReplies();
    c.send('api echo one\n\napi echo two\n\n');
    const first = c.reply();
    let settled = false;
    void first.then(() => (settled = true));
    const probe = await RawClient.open(sw.port);
    closers.push(() => probe.close());
    await probe.next();
    expect(settled).toBe(false);
    release();
    expect((await first).body).toBe('one');
    expect((await c.reply()).body).toBe('two');
  });

  it('a killed channel vanishes with no events; the client learns it from uuid_exists', async () => {
    const uuid = await parked();
    const seen: string[] = [];
    sw.onEvent((e) => e.uuid === uuid && seen.push(e.name));
    expect(sw.killChannel(uuid)).toBe(true);
    const c = await raw();
    c.send(`api uuid_exists ${uuid}\n\n`);
    expect((await c.reply()).body).toBe('false');
    expect(seen).toEqual([]);
  });

  it('swallowed events never reach the client; others still do', async () => {
    sw.faults.swallowEvents.add('CHANNEL_PARK');
    const c = await raw();
    c.send('event plain CHANNEL_PARK CHANNEL_HANGUP\n\n');
    await c.reply();
    const uuid = await parked();
    sw.hangup(uuid);
    await c.event('CHANNEL_HANGUP');
    expect(c.frames.some((f) => f.body?.includes('CHANNEL_PARK'))).toBe(false);
  });

  it('delayed events keep their order', async () => {
    sw.faults.eventDelayMs = 20;
    const c = await raw();
    c.send('event plain ALL\n\n');
    await c.reply();
    const uuid = await parked();
    sw.hangup(uuid);
    await c.event('CHANNEL_DESTROY');
    const seqs = c.frames
      .filter((f) => header(f, 'Content-Type') === 'text/event-plain')
      .map((f) => Number(/Event-Sequence: (\d+)/.exec(f.body ?? '')?.[1]));
    expect(seqs.length).toBeGreaterThan(10);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('restart: sockets drop, channels are gone, the switch comes back with a new Core-UUID', async () => {
    await parked();
    const conn = await connect();
    const ended = new Promise<void>((r) => conn.once('esl::end', () => r()));
    const before = sw.coreUuid;
    await sw.restart({ downMs: 10 });
    await ended;
    expect(sw.coreUuid).not.toBe(before);
    expect(sw.channelCount).toBe(0);
    const again = await connect();
    const created = new Promise<ModeslEvent>((r) => again.once('esl::event::CHANNEL_CREATE::*', r));
    await new Promise((r) => again.events('json', ['CHANNEL_CREATE'], r));
    sw.placeCall({ from: '1', to: '2' });
    expect((await created).getHeader('Core-UUID')).toBe(sw.coreUuid);
  });

  it('dropConnections cuts modesl with no notice (esl::end)', async () => {
    const conn = await connect();
    const ended = new Promise<void>((r) => conn.once('esl::end', () => r()));
    expect(sw.dropConnections()).toBe(1);
    await ended;
    expect(conn.socket).toBeNull();
    const conn2 = await connect();
    const closed = new Promise<void>((r) => conn2.socket?.once('close', () => r()));
    expect(sw.dropConnections({ reset: true })).toBe(1);
    await closed;
    const again = await connect();
    const body = await new Promise<string>((r) => again.api('echo', 'back', (e) => r(e.getBody())));
    expect(body).toBe('back');
  });

  it('a reader that stops reading loses events, then is disconnected, and others are unaffected', async () => {
    const { logger, waitFor } = watchedLogger();
    await sw.close();
    ({ sw } = await startSwitch({ maxQueuedBytes: 64 * 1024, logger }));
    const slow = await raw();
    slow.send('event plain ALL\n\n');
    await slow.reply();
    const good = await raw();
    good.send('event plain CHANNEL_DESTROY\n\n');
    await good.reply();
    slow.socket.pause();
    const closed = new Promise<void>((r) => sw.onConnectionClosed(() => r()));
    let last = '';
    for (let i = 0; i < 400; i++) {
      last = sw.placeCall({ from: '1', to: String(i) });
      sw.hangup(last);
    }
    await closed;
    await waitFor((l) => l.msg === 'esl client lost too many events; disconnecting it');
    await good.next(
      (f) => f.body?.includes(`Unique-ID: ${last}`) === true && f.body.includes('CHANNEL_DESTROY'),
    );
    expect(sw.connectionCount).toBe(1);
  });
});
