/**
 * The pure parts of src/bus: URL parsing and redaction, Kazoo queue defaults,
 * the envelope decoder and validator, the responder table and the bounded runner.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BoundedRunner } from '../../src/bus/bounded-runner.ts';
import { parseBusUrl, redactUrl } from '../../src/bus/broker-url.ts';
import { createTransport } from '../../src/bus/create-transport.ts';
import { decodeJson, validateEnvelope } from '../../src/bus/envelope.ts';
import { kazooQueueOptions } from '../../src/bus/queue-defaults.ts';
import { ResponderTable } from '../../src/bus/responder-table.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { watchedLogger } from '../support/watched-logger.ts';

describe('bus URL', () => {
  it("selects the embedded broker for 'embedded' and for nothing at all", () => {
    expect(parseBusUrl('embedded')).toEqual({ kind: 'embedded' });
    expect(parseBusUrl(undefined)).toEqual({ kind: 'embedded' });
    expect(parseBusUrl('  ')).toEqual({ kind: 'embedded' });
  });

  it('splits a comma-separated list of amqp URLs, tried in that order', () => {
    expect(parseBusUrl('amqp://u:p@a:5672, amqps://b/vh')).toEqual({
      kind: 'amqp',
      urls: ['amqp://u:p@a:5672', 'amqps://b/vh'],
    });
  });

  it('refuses other schemes with a message that says what is accepted, without the password', () => {
    expect(() => parseBusUrl('http://user:hunter2@host')).toThrow(/use 'embedded' or amqp:\/\//);
    expect(() => parseBusUrl('http://user:hunter2@host')).not.toThrow(/hunter2/);
    expect(() => parseBusUrl('not a url')).toThrow(/is not a URL/);
  });

  it('redacts userinfo', () => {
    expect(redactUrl('amqp://guest:guest@127.0.0.1:5672/%2F')).toBe('amqp://127.0.0.1:5672/%2F');
    expect(redactUrl('amqp://127.0.0.1')).toBe('amqp://127.0.0.1');
  });

  it('a transport that cannot connect never logs the password', async () => {
    const { logger, lines } = memoryLogger();
    const t = createTransport({
      url: 'amqp://fife:hunter2@127.0.0.1:1',
      logger,
      startTimeoutMs: 150,
      backoff: { initialMs: 10, maxMs: 20, factor: 2, jitter: 0 },
    });
    await expect(t.start()).rejects.toMatchObject({ code: 'BUS_NOT_CONNECTED' });
    await t.close();
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
    expect(JSON.stringify(lines)).toContain('amqp://127.0.0.1:1');
  });

  it('retries an unreachable broker as its backoff says: initialMs, doubling, never above maxMs', async () => {
    const { logger, waitFor } = watchedLogger();
    const t = createTransport({
      url: 'amqp://127.0.0.1:1',
      logger,
      startTimeoutMs: 60_000,
      backoff: { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 },
    });
    const started = t.start().catch((e: unknown) => e);
    const rounds = await waitFor((l) => l.msg === 'bus: cannot connect to any broker; will retry', 4);
    await t.close();
    expect(await started).toBeInstanceOf(Error);
    expect(rounds.slice(0, 4).map((l) => l.retryInMs)).toEqual([5, 10, 20, 20]);
  });

  it('a bad reconnect backoff fails createTransport at once, naming the field', () => {
    const { logger } = memoryLogger();
    expect(() =>
      createTransport({ url: 'embedded', logger, backoff: { initialMs: 500, maxMs: 100 } }),
    ).toThrow(/backoff\.maxMs must be a number of ms at least initialMs \(500\)/);
  });
});

describe('Kazoo queue defaults', () => {
  it('anonymous queues get auto-delete, x-max-length 100 and x-message-ttl 60 s', () => {
    expect(kazooQueueOptions(true)).toEqual({
      durable: false,
      exclusive: false,
      autoDelete: true,
      maxLength: 100,
      messageTtl: 60_000,
    });
  });
  it('named queues get auto-delete only', () => {
    expect(kazooQueueOptions(false)).toEqual({ durable: false, exclusive: false, autoDelete: true });
  });
  it('null removes a default (Kazoo infinity) and a value replaces it', () => {
    expect(kazooQueueOptions(true, { maxLength: null, messageTtl: 1_000, autoDelete: false })).toEqual({
      durable: false,
      exclusive: false,
      autoDelete: false,
      messageTtl: 1_000,
    });
  });
});

describe('envelope', () => {
  it('decodes JSON objects, gzip bodies too', () => {
    const body = Buffer.from(JSON.stringify({ 'Event-Category': 'x', 'Event-Name': 'y' }));
    expect(decodeJson(body, {})).toEqual({ ok: true, message: { 'Event-Category': 'x', 'Event-Name': 'y' } });
    expect(decodeJson(gzipSync(body), { contentEncoding: 'gzip' })).toMatchObject({ ok: true });
  });
  it.each([
    ['not json', {}, 'not_json'],
    ['[1]', {}, 'not_object'],
    ['null', {}, 'not_object'],
    ['"str"', {}, 'not_object'],
    ['{}', { contentEncoding: 'gzip' }, 'not_json'],
  ])('%s (%o) -> %s', (text, props, reason) => {
    expect(decodeJson(Buffer.from(text), props)).toMatchObject({ ok: false, reason });
  });
  it('the envelope needs a non-empty Event-Category and Event-Name', () => {
    expect(validateEnvelope({ 'Event-Category': 'a', 'Event-Name': 'b' })).toBeUndefined();
    expect(validateEnvelope({ 'Event-Category': 'a', 'Event-Name': '' })).toBe('missing_headers');
    expect(validateEnvelope({ 'Event-Category': 1, 'Event-Name': 'b' })).toBe('missing_headers');
  });
});

describe('ResponderTable', () => {
  it('matches exact, category wildcard, name wildcard and both, each handler once', () => {
    const t = new ResponderTable<string>();
    t.add('call_event', 'CHANNEL_ANSWER', 'exact');
    t.add('call_event', '*', 'anyName');
    t.add('*', 'CHANNEL_ANSWER', 'anyCat');
    t.add('*', '*', 'any');
    t.add('*', '*', 'exact');
    expect(t.match('call_event', 'CHANNEL_ANSWER')).toEqual(['exact', 'anyName', 'anyCat', 'any']);
    expect(t.match('call_event', 'CHANNEL_HANGUP')).toEqual(['anyName', 'any', 'exact']);
    expect(t.match('dialplan', 'route_req')).toEqual(['any', 'exact']);
  });
  it('removes one handler or a whole key', () => {
    const t = new ResponderTable<string>();
    t.add('a', 'b', 'h1');
    t.add('a', 'b', 'h2');
    expect(t.remove('a', 'b', 'h1')).toBe(true);
    expect(t.match('a', 'b')).toEqual(['h2']);
    expect(t.remove('a', 'b')).toBe(true);
    expect(t.match('a', 'b')).toEqual([]);
    expect(t.size).toBe(0);
  });
});

describe('BoundedRunner', () => {
  it('runs at most `concurrency` tasks, queues the rest, refuses past the backlog, and reports failures', async () => {
    const errors: unknown[] = [];
    const r = new BoundedRunner(2, 1, (e) => errors.push(e));
    const gates: Array<() => void> = [];
    const task = () => new Promise<void>((resolve) => gates.push(resolve));
    expect(r.run(task)).toBe(true);
    expect(r.run(task)).toBe(true);
    expect(r.run(() => Promise.reject(new Error('bad')))).toBe(true);
    expect(r.run(task)).toBe(false);
    expect([r.running, r.waiting]).toEqual([2, 1]);
    gates[0]();
    await expect.poll(() => errors.length).toBe(1);
    gates[1]();
    await r.idle();
    expect((errors[0] as Error).message).toBe('bad');
  });
  it('a task that throws synchronously is reported and the runner carries on', async () => {
    const errors: unknown[] = [];
    const r = new BoundedRunner(1, 10, (e) => errors.push(e));
    r.run(() => {
      throw new Error('sync');
    });
    let ran = false;
    r.run(() => {
      ran = true;
    });
    await r.idle();
    expect(ran).toBe(true);
    expect(errors).toHaveLength(1);
  });
});
