/**
 * Golden files: recordings of real FreeSWITCH event-socket traffic (see fixtures/README.md)
 * read by Fife's parser and by modesl's, and the simulator's output held up against them.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Event as ModeslEvent } from 'modesl';
import { EslParser, parseEventBody, type EslFrame } from '../../src/switch/esl-parser.ts';
import type { Switch } from '../../src/switch/switch.ts';
import { RawClient, hdr, header, nextSimEvent, startSwitch } from './helpers.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const ModeslParser = createRequire(import.meta.url)('modesl/lib/esl/Parser') as new (
  socket: EventEmitter,
) => EventEmitter;

function ourFrames(
  bytes: Buffer,
  chunks: number[] = [bytes.length],
): { frames: EslFrame[]; leftover: number } {
  const p = new EslParser({ mode: 'stream' });
  const frames: EslFrame[] = [];
  let at = 0;
  for (const n of chunks) {
    frames.push(...p.push(bytes.subarray(at, at + n)));
    at += n;
  }
  return { frames, leftover: p.buffered };
}

function modeslEvents(
  bytes: Buffer,
  chunks: number[] = [bytes.length],
): Array<{ type: string; name: string | null; event: ModeslEvent }> {
  const socket = new EventEmitter();
  const parser = new ModeslParser(socket);
  const out: Array<{ type: string; name: string | null; event: ModeslEvent }> = [];
  parser.on('esl::event', (event: ModeslEvent, headers: Record<string, string>) =>
    out.push({ type: headers['Content-Type'] ?? '', name: event.getHeader('Event-Name'), event }),
  );
  let at = 0;
  for (const n of chunks) {
    socket.emit('data', bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

const typeOf = (f: EslFrame): string => header(f, 'Content-Type') ?? '';
const eventName = (f: EslFrame): string | undefined =>
  parseEventBody(f)?.headers.find(([k]) => k === 'Event-Name')?.[1];

describe('recorded FreeSWITCH streams', () => {
  it.each([
    [
      'neventsocket-example3.txt',
      { 'command/reply': 9, 'text/event-plain': 11, 'api/response': 1, 'text/disconnect-notice': 1 },
    ],
    [
      'neventsocket-example5.txt',
      { 'command/reply': 10, 'text/event-plain': 12, 'api/response': 2, 'text/disconnect-notice': 1 },
    ],
    [
      'outboundsocket-frames.txt',
      { 'command/reply': 1, 'text/event-plain': 3, 'api/response': 1, 'text/disconnect-notice': 1 },
    ],
  ])('%s: every frame is read, with Content-Length matching to the byte', (name, counts) => {
    const bytes = fixture(name);
    const { frames, leftover } = ourFrames(bytes);
    expect(leftover).toBe(0);
    const byType: Record<string, number> = {};
    for (const f of frames) byType[typeOf(f)] = (byType[typeOf(f)] ?? 0) + 1;
    expect(byType).toEqual(counts);
    for (const f of frames.filter((fr) => typeOf(fr) === 'text/event-plain')) {
      const ev = parseEventBody(f);
      const h = new Map(ev?.headers);
      expect(h.get('Event-Name')).toMatch(/^[A-Z_]+$/);
      expect(h.get('Core-UUID')).toMatch(/^[0-9a-f-]{36}$/);
      expect(h.get('Event-Date-Timestamp') ?? h.get('Event-Date-timestamp')).toMatch(/^\d{16}$/);
    }
  });

  it('modesl reads the same recordings into the same sequence of frames', () => {
    for (const name of [
      'neventsocket-example3.txt',
      'neventsocket-example5.txt',
      'outboundsocket-frames.txt',
    ]) {
      const bytes = fixture(name);
      const ours = ourFrames(bytes).frames.map((f) => [typeOf(f), eventName(f) ?? null]);
      const theirs = modeslEvents(bytes).map((e) => [
        e.type,
        e.type.startsWith('text/event') ? e.name : null,
      ]);
      expect(theirs).toEqual(ours);
    }
  });

  it('a command reply and an event split over the recorded TCP reads (1460-byte segments) come out whole', () => {
    const bytes = fixture('outboundsocket-split-execute-complete.txt');
    const chunks = [1460, 1460, 1460, 1460, 1460, 1460, 704];
    expect(chunks.reduce((a, b) => a + b)).toBe(bytes.length);
    const { frames, leftover } = ourFrames(bytes, chunks);
    expect(leftover).toBe(0);
    expect(frames.map(typeOf)).toEqual(['command/reply', 'text/event-plain']);
    expect(header(frames[0]!, 'Reply-Text')).toBe('+OK');
    const ev = new Map(parseEventBody(frames[1]!)?.headers);
    expect(ev.get('Event-Name')).toBe('CHANNEL_EXECUTE_COMPLETE');
    expect(ev.get('Application')).toBe('answer');
    expect(ev.get('Application-UUID')).toBe('10e170a2-e2a6-11e8-b455-4b084ebbf04f');
    expect(ev.get('Channel-Name')).toBe('sofia/external/nobody@192.168.1.235:5060');
    const m = modeslEvents(bytes, chunks);
    expect(m.map((e) => e.type)).toEqual(['command/reply', 'text/event-plain']);
    expect(m[1]?.event.getHeader('Application-UUID')).toBe('10e170a2-e2a6-11e8-b455-4b084ebbf04f');
  });

  it('the recorded CHANNEL_DATA uuid_dump is an api/response whose body is plain event headers', () => {
    const { frames } = ourFrames(fixture('outboundsocket-frames.txt'));
    const dump = frames.find((f) => typeOf(f) === 'api/response');
    const inner = ourFrames(Buffer.from(`${dump?.body ?? ''}\n`)).frames[0];
    expect(inner && header(inner, 'Event-Name')).toBe('CHANNEL_DATA');
    expect(inner && header(inner, 'Event-Calling-Function')).toBe('uuid_dump_function');
  });
});

describe('the simulator against the recordings', () => {
  let sw: Switch;
  let c: RawClient;
  beforeEach(async () => {
    ({ sw } = await startSwitch());
    c = await RawClient.authed(sw.port);
  });
  afterEach(async () => {
    c.close();
    await sw.close();
  });

  const recorded = (): Map<string, string> => {
    const frames = ourFrames(fixture('neventsocket-example3.txt')).frames;
    const f = frames.find((fr) => eventName(fr) === 'CHANNEL_EXECUTE_COMPLETE');
    return new Map(parseEventBody(f!)?.headers);
  };

  it('writes CHANNEL_EXECUTE_COMPLETE with the recorded header names, in the recorded order', async () => {
    c.send('event plain CHANNEL_EXECUTE_COMPLETE\n\n');
    await c.reply();
    const parked = c.event('CHANNEL_EXECUTE_COMPLETE');
    const uuid = sw.placeCall({ from: '1001', to: '3', callerIdName: 'Dan X-Lite' });
    c.send(`sendmsg ${uuid}\ncall-command: execute\nexecute-app-name: answer\n\n`);
    const ours = (await parked).headers;
    const theirs = recorded();
    const keys = (m: Map<string, string>): string[] =>
      [...m.keys()].filter((k) => !k.startsWith('variable_'));
    const shared = keys(theirs).filter((k) => ours.has(k));
    expect(keys(ours).filter((k) => theirs.has(k))).toEqual(shared);
    for (const must of [
      'Event-Name',
      'Core-UUID',
      'Event-Date-Local',
      'Event-Date-GMT',
      'Event-Date-Timestamp',
      'Event-Sequence',
      'Channel-State',
      'Channel-Call-State',
      'Unique-ID',
      'Call-Direction',
      'Answer-State',
      'Caller-Caller-ID-Number',
      'Caller-Destination-Number',
      'Application',
      'Application-Response',
      'Application-UUID',
    ])
      expect(shared).toContain(must);
    for (const [k, pattern] of [
      ['Event-Date-Local', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/],
      ['Event-Date-GMT', /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/],
      ['Event-Date-Timestamp', /^\d{16}$/],
    ] as const) {
      expect(theirs.get(k)).toMatch(pattern);
      expect(ours.get(k)).toMatch(pattern);
    }
    expect([
      ours.get('Application'),
      ours.get('Application-Response'),
      ours.get('Answer-State'),
      ours.get('Channel-Call-State'),
    ]).toEqual([
      theirs.get('Application'),
      theirs.get('Application-Response'),
      theirs.get('Answer-State'),
      theirs.get('Channel-Call-State'),
    ]);
  });

  it('gives the reply texts the recordings show, and a linger disconnect notice like the recorded one', async () => {
    const texts = ourFrames(fixture('neventsocket-example3.txt'))
      .frames.filter((f) => typeOf(f) === 'command/reply')
      .map((f) => header(f, 'Reply-Text'));
    expect(texts).toEqual(
      expect.arrayContaining(['+OK event listener enabled plain', '+OK will linger', '+OK bye']),
    );
    const uuid = sw.placeCall({ from: '1001', to: '3' });
    const say = async (cmd: string): Promise<string | undefined> => {
      c.send(`${cmd}\n\n`);
      return header(await c.reply(), 'Reply-Text');
    };
    expect(await say('event plain CHANNEL_HANGUP')).toBe('+OK event listener enabled plain');
    expect(await say(`myevents ${uuid}`)).toBe('+OK Events Enabled');
    expect(await say('linger')).toBe('+OK will linger');
    sw.hangup(uuid);
    const ours = await c.next((f) => typeOf(f) === 'text/disconnect-notice');
    const theirs = ourFrames(fixture('neventsocket-example3.txt')).frames.find(
      (f) => typeOf(f) === 'text/disconnect-notice',
    ) as EslFrame;
    for (const k of ['Controlled-Session-UUID', 'Content-Disposition', 'Linger-Time', 'Content-Length'])
      expect(header(ours, k)).toBe(k === 'Controlled-Session-UUID' ? uuid : header(theirs, k));
    expect(await say('exit')).toBe('+OK bye');
  });

  it('rings a B-leg in the states the recorded B-leg shows (CHANNEL_CREATE, CHANNEL_PROGRESS)', async () => {
    const frames = ourFrames(fixture('neventsocket-example3.txt')).frames;
    const rec = (name: string): Map<string, string> =>
      new Map(parseEventBody(frames.find((f) => eventName(f) === name)!)?.headers);
    sw.registerEndpoint('1003', { mode: 'manual' });
    const uuid = sw.placeCall({ from: '1001', to: '1003' });
    const create = nextSimEvent(sw, (e) => e.name === 'CHANNEL_CREATE');
    const progress = nextSimEvent(sw, (e) => e.name === 'CHANNEL_PROGRESS');
    c.send(
      `sendmsg ${uuid}\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: user/1003\n\n`,
    );
    const [oc, op] = await Promise.all([create, progress]);
    for (const [ours, theirs] of [
      [oc, rec('CHANNEL_CREATE')],
      [op, rec('CHANNEL_PROGRESS')],
    ] as const) {
      for (const k of ['Event-Name', 'Channel-State', 'Call-Direction', 'Answer-State'])
        expect(hdr(ours, k)).toBe(theirs.get(k));
    }
    expect(hdr(oc, 'Channel-Call-State')).toBe(rec('CHANNEL_CREATE').get('Channel-Call-State'));
  });
});
