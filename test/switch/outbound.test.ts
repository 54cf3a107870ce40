/**
 * Outbound event socket: the simulator dials an application's server (dialplan `socket`
 * app), with modesl's esl.Server unchanged and with a plain TCP server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Event as ModeslEvent } from 'modesl';
import type { Switch } from '../../src/switch/switch.ts';
import { EslParser, type EslFrame } from '../../src/switch/esl-parser.ts';
import { header, modesl, nextSimEvent, startSwitch, watchedLogger } from './helpers.ts';

let sw: Switch;
let server: Server;
let port: number;
const sockets = new Set<Socket>();

beforeEach(async () => {
  ({ sw } = await startSwitch());
  server = createServer();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  port = a !== null && typeof a === 'object' ? a.port : 0;
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await sw.close();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Reads ESL frames from the switch side of an outbound connection. */
function reader(socket: Socket): (match?: (f: EslFrame) => boolean) => Promise<EslFrame> {
  const parser = new EslParser({ mode: 'stream' });
  const frames: EslFrame[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    frames.push(...parser.push(c));
    wake?.();
  });
  return async (match = () => true) => {
    for (;;) {
      const i = frames.findIndex(match);
      if (i !== -1) return frames.splice(i, 1)[0] as EslFrame;
      await new Promise<void>((r) => (wake = r));
    }
  };
}

describe('outbound socket', () => {
  it('works with modesl esl.Server: CHANNEL_DATA on connect, execute on the channel, linger notice at hangup', async () => {
    const esl = new modesl.Server({ server } as never);
    const ready = new Promise<Connection>((r) => esl.on('connection::ready', (conn: Connection) => r(conn)));
    const uuid = sw.placeCall({ from: '1001', to: '2000', socket: `127.0.0.1:${port} async full` });
    const conn = await ready;
    const info = (conn as unknown as { getInfo(): ModeslEvent }).getInfo();
    expect(info.getHeader('Unique-ID')).toBe(uuid);
    expect(info.getHeader('Caller-Destination-Number')).toBe('2000');
    expect(info.getHeader('Socket-Mode')).toBe('async');
    expect(info.getHeader('Control')).toBe('full');
    const answered = await new Promise<ModeslEvent>((r) => conn.execute('answer', '', uuid, r));
    expect(answered.getHeader('Application')).toBe('answer');
    const linger = await new Promise<ModeslEvent>((r) => conn.sendRecv('linger', null, r));
    expect(linger.getHeader('Reply-Text')).toBe('+OK will linger');
    const notice = new Promise<ModeslEvent>((r) => conn.once('esl::event::disconnect::notice', r));
    sw.hangup(uuid, 'NORMAL_CLEARING');
    const n = await notice;
    expect(n.getHeader('Content-Disposition')).toBe('linger');
    expect(n.getHeader('Controlled-Session-UUID')).toBe(uuid);
    await sw.whenDestroyed(uuid);
  });

  it('answers connect, myevents, getvar on a plain socket; when the app closes, the call hangs up', async () => {
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const uuid = sw.placeCall({ from: '1001', to: '2000', socket: `127.0.0.1:${port} async full` });
    const s = await accepted;
    const next = reader(s);
    s.write('connect\n\n');
    const data = await next();
    expect(header(data, 'Content-Type')).toBe('command/reply');
    expect(header(data, 'Reply-Text')).toBe('+OK\n');
    expect(header(data, 'Event-Name')).toBe('CHANNEL_DATA');
    expect(header(data, 'Unique-ID')).toBe(uuid);
    expect(header(data, 'variable_current_application')).toBe('socket');
    s.write('myevents\n\ngetvar sip_to_user\n\n');
    expect(header(await next(), 'Reply-Text')).toBe('+OK Events Enabled');
    expect(header(await next(), 'Reply-Text')).toBe('2000');
    const destroyed = sw.whenDestroyed(uuid);
    s.end();
    await destroyed;
    expect(sw.channelCount).toBe(0);
  });

  it('hangs the call up with a warning when the application server cannot be reached', async () => {
    const { logger, waitFor } = watchedLogger();
    await sw.close();
    ({ sw } = await startSwitch({ logger }));
    const ended = nextSimEvent(sw, (e) => e.name === 'CHANNEL_DESTROY');
    await new Promise<void>((r) => server.close(() => r()));
    sw.placeCall({ from: '1', to: '2', socket: `127.0.0.1:${port} async full` });
    await ended;
    await waitFor((l) => l.msg === 'socket application could not connect');
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
});
