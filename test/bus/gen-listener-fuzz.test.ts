/**
 * Fuzz at the listener: malformed payloads (random bytes, random JSON, near-valid
 * messages with a header removed or retyped, oversized bodies) published to a running
 * gen_listener on the embedded broker. None takes it down; each is counted as invalid
 * with a reason; afterwards it still answers a valid request.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { Runtime, ok, GenServer, type Pid } from '../../src/kernel/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { createTransport } from '../../src/bus/create-transport.ts';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { Requester } from '../../src/bus/requester.ts';
import { build, authnReqKey } from '../../src/api/index.ts';
import type { CountersSnapshot } from '../../src/bus/counters.ts';

const CTX = { appName: 'fuzz', appVersion: '0.0.0', node: 'fuzz@localhost' };
const KEY = authnReqKey('fuzz.example.com');
const { logger, lines } = memoryLogger('fuzz@localhost', 'warn');
const broker = new EmbeddedBroker();
const transport = createTransport({ url: 'embedded', logger, embeddedBroker: broker, namePrefix: 'fuzz' });
const rt = new Runtime({ node: 'fuzz@localhost', logger });
let handled = 0;

const Echo: GenListenerBehaviour<null> = {
  name: 'fuzz_listener',
  init: () => ok(null),
  listen: () => ({
    maxMessageBytes: 8 * 1024,
    // Kazoo caps anonymous queues at 100 messages; the fuzz burst is bigger than that.
    queueOptions: { maxLength: null },
    bindings: [{ exchange: 'callmgr', routingKey: KEY }],
    responders: [
      {
        category: 'directory',
        name: 'authn_req',
        handler: (m, ctx) => {
          handled++;
          return ctx.reply(
            build(
              'authn_resp',
              { 'Msg-ID': m['Msg-ID'], 'Auth-Method': 'password', 'Auth-Password': 'x' },
              CTX,
            ),
          );
        },
      },
    ],
  }),
};

const valid = (): Record<string, unknown> => ({
  ...build(
    'authn_req',
    {
      'Auth-User': 'u',
      'Auth-Realm': 'fuzz.example.com',
      From: 'u@fuzz.example.com',
      To: 'u@fuzz.example.com',
    },
    CTX,
  ),
});

afterAll(async () => {
  await rt.shutdown();
  await transport.close();
});

/** A payload that must be refused: bytes, a non-object, or a valid message broken on purpose. */
const malformed = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc
    .jsonValue()
    .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
    .map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc
    .record({
      drop: fc.constantFrom('Auth-User', 'Auth-Realm', 'From', 'To', 'Event-Category', 'App-Name'),
      junk: fc.anything(),
    })
    .map(({ drop, junk }) => {
      const m = valid();
      delete m[drop];
      m['X-Junk'] = junk;
      return Buffer.from(JSON.stringify(m) ?? '{}');
    }),
  fc
    .constantFrom('Auth-User', 'Event-Category', 'Msg-ID')
    .chain((h) =>
      fc
        .oneof(fc.integer(), fc.boolean(), fc.array(fc.string()))
        .map((v) => Buffer.from(JSON.stringify({ ...valid(), [h]: v }))),
    ),
  fc
    .integer({ min: 9 * 1024, max: 40 * 1024 })
    .map((n) => Buffer.from(JSON.stringify({ ...valid(), Pad: 'x'.repeat(n) }))),
);

describe('gen_listener under malformed input', () => {
  it('never crashes, refuses each with a reason, and still serves', async () => {
    await transport.start();
    const pid = ((await GenListener.start(rt, Echo, undefined, { transport })) as { pid: Pid }).pid;
    const samples = fc.sample(malformed, { numRuns: 400, seed: 4242 });
    for (const body of samples)
      await transport.publish('callmgr', KEY, body, { contentType: 'application/json' });
    const req = new Requester({ transport, logger, timeoutMs: 2000 });
    await req.start();
    const answer = await req.call(valid(), { exchange: 'callmgr', routingKey: KEY });
    expect(answer['Auth-Password']).toBe('x');
    const c = (await GenListener.counters(rt, pid)) as CountersSnapshot;
    expect(rt.isAlive(pid)).toBe(true);
    expect(c.received).toBe(samples.length + 1);
    expect(c.invalidTotal).toBe(samples.length);
    expect(handled).toBe(1);
    expect(Object.keys(c.invalid).length).toBeGreaterThan(2);
    for (const [reason, n] of Object.entries(c.invalid)) {
      expect(reason.length).toBeGreaterThan(0);
      expect(n).toBeGreaterThan(0);
    }
    expect(lines.filter((l) => l.level === 40 && /invalid/.test(String(l.msg))).length).toBeGreaterThan(0);
    await req.stop();
    await GenServer.stop(rt, pid);
  });
});
