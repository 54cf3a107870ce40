/**
 * Issue 9, item 1 ("one message hangs the node"), as a behaviour shared by both brokers:
 *
 * - transport: every name AMQP carries as a short string (exchange, queue, routing key,
 *   consumer tag, short-string properties) is refused at 256 bytes of UTF-8 with
 *   BusInvalidArgumentError, at once and without touching the connection; 255 bytes work.
 * - node: a node running the registrar gets an authn_req whose Server-ID is 256 bytes on
 *   `callmgr`; the registrar logs why it dropped it (and that it cannot answer such an
 *   address), then answers a valid authn_req within a second, and the heap stays flat.
 *
 * Before the fix, on RabbitMQ the reply publish looped forever inside amqplib's encoder
 * (the node's event loop starved, its memory grew and SIGTERM went unheard); on the
 * embedded broker the 256-byte routing key was silently accepted.
 */
import { expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  createTransport,
  BusInvalidArgumentError,
  ListenerCore,
  Requester,
  type BusTransport,
  type Envelope,
} from '../../src/bus/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { startNode, type FifeNode } from '../../src/node/node.ts';
import { defaultConfig, nodeDir, type NodeConfig } from '../../src/node/config.ts';
import { openStore } from '../../src/store/index.ts';
import { authnReqKey } from '../../src/api/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import { controlQueueName } from '../../apps/ecallmgr/call-control.ts';
import { authnReq, until } from '../apps/registrar/support.ts';
import { tmpDir } from '../support/tmp-dirs.ts';

export interface RobustnessEnv {
  /** The bus URL for transports and the node ('embedded' or an amqp:// URL). */
  readonly url: string;
}

const LONG = 'q'.repeat(256);
const FITS = 'q'.repeat(255);
/** 86 characters, 258 bytes: a limit counted in characters would let it through. */
const LONG_UTF8 = 'é'.repeat(129);

const heapMb = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1e6;
};

export function oversizedNames(env: () => RobustnessEnv): void {
  it('refuses every AMQP short string over 255 bytes at once, with a typed error, and the connection carries on', async () => {
    const { logger } = memoryLogger('robust@localhost', 'warn');
    const t = createTransport({
      url: env().url,
      logger,
      namePrefix: `fife-robust-${randomBytes(3).toString('hex')}`,
    });
    let lost = 0;
    t.on('lost', () => lost++);
    try {
      await t.start();
      const x = `fife-robust-x-${randomBytes(3).toString('hex')}`;
      await t.assertExchange({ name: x, type: 'direct', autoDelete: true });
      const q = await t.assertQueue('', { exclusive: true });
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['exchange name', () => t.assertExchange({ name: LONG, type: 'direct' })],
        ['queue name', () => t.assertQueue(LONG, { exclusive: true })],
        ['queue name', () => t.assertQueue(LONG_UTF8, { exclusive: true })],
        ['routing key', () => t.bindQueue(q, x, LONG)],
        ['consumer tag', () => t.consume(q, () => undefined, { consumerTag: LONG })],
        ['routing key', () => t.publish(x, LONG, '{}')],
        ['routing key', () => t.publish(x, LONG_UTF8, '{}')],
        ['routing key', () => t.publishConfirmed(x, LONG, '{}')],
        ['exchange name', () => t.publish(LONG, 'k', '{}')],
        ['property replyTo', () => t.publish(x, 'k', '{}', { replyTo: LONG })],
        ['property correlationId', () => t.publish(x, 'k', '{}', { correlationId: LONG })],
        ['headers', () => t.publish(x, 'k', '{}', { headers: { big: 'v'.repeat(40_000) } })],
      ];
      for (const [field, op] of refused) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, field).toBeInstanceOf(BusInvalidArgumentError);
        expect((err as BusInvalidArgumentError).field).toBe(field);
        expect((err as Error).message).toMatch(/AMQP allows at most 255|at most \d+/);
      }
      // 255 bytes is fine, and the same connection still works for everything.
      await t.bindQueue(q, x, FITS);
      const got: string[] = [];
      const seen = new Promise<void>((resolve) => {
        void t.consume(q, (d) => {
          got.push(d.routingKey);
          resolve();
        });
      });
      await t.publishConfirmed(x, FITS, '{}', { replyTo: FITS });
      await seen;
      expect(got).toEqual([FITS]);
      // ecallmgr's per-call control queue stays declarable for an over-long call-id, one per call.
      const a = controlQueueName('ecallmgr@media-1.example.test', `${'c'.repeat(300)}-a`);
      const b = controlQueueName('ecallmgr@media-1.example.test', `${'c'.repeat(300)}-b`);
      expect(a).not.toBe(b);
      for (const name of [a, b]) expect(await t.assertQueue(name, { exclusive: true })).toBe(name);
      expect(lost).toBe(0);
      expect(t.state).toBe('connected');
    } finally {
      await t.close();
    }
  });

  it('a responder that builds an over-long routing key from the request fails typed; the requester gets an error reply saying why', async () => {
    const { logger } = memoryLogger('robust@localhost', 'warn');
    const t = createTransport({
      url: env().url,
      logger,
      namePrefix: `fife-robust-${randomBytes(3).toString('hex')}`,
    });
    const listener = new ListenerCore({
      transport: t,
      logger,
      responders: [
        {
          category: 'test',
          name: 'forward',
          handler: (m) => t.publish('targeted', `fwd.${String(m['Forward-To'])}`, '{}'),
        },
      ],
      errorReply: (request, reason) => ({
        'Event-Category': 'error',
        'Event-Name': 'forward',
        'App-Name': 'test',
        'App-Version': '1',
        'Msg-ID': String(request['Msg-ID']),
        'Error-Message': reason,
      }),
    });
    const req = new Requester({ transport: t, logger, timeoutMs: 2000 });
    try {
      await t.start();
      await listener.start();
      await req.start();
      const request = {
        'Event-Category': 'test',
        'Event-Name': 'forward',
        'App-Name': 'test',
        'App-Version': '1',
        'Forward-To': LONG,
      };
      const [reply] = await req.callCollect(
        request,
        { exchange: 'targeted', routingKey: listener.queue! },
        { until: (rs) => rs.length > 0, validate: () => true },
      );
      expect(reply).toMatchObject({ 'Event-Category': 'error' });
      expect(String(reply!['Error-Message'])).toMatch(
        /routing key is 260 bytes of UTF-8; AMQP allows at most 255 \(nothing was sent\)/,
      );
      expect(listener.counters.snapshot()).toMatchObject({ handlerErrors: 1 });
    } finally {
      await req.stop();
      await listener.stop();
      await t.close();
    }
  });

  it('a 256-byte Server-ID on callmgr is dropped with a logged reason; the registrar answers the next authn_req within a second; memory stays flat', async () => {
    const realm = `robust-${randomBytes(3).toString('hex')}.test`;
    const lines: Array<Record<string, unknown>> = [];
    const config: NodeConfig = {
      ...defaultConfig(),
      node: `robust${randomBytes(2).toString('hex')}@localhost`,
      apps: ['registrar'],
      bus: env().url,
      dataDir: tmpDir('fife-robust-'),
      logLevel: 'info',
      settings: { registrar: { queue: `registrar_listener_${randomBytes(4).toString('hex')}` } },
    };
    const { logger } = memoryLogger('robust-client@localhost', 'warn');
    const store = openStore('embedded', { dataDir: nodeDir(config), logger });
    await addAccount(store, { name: 'Robust', realm });
    await addDevice(store, { realm, username: 'alice', password: 's3cret' });
    await store.close();

    let node: FifeNode | undefined;
    let bus: BusTransport | undefined;
    let req: Requester | undefined;
    try {
      node = await startNode({
        config,
        logDestination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
      });
      bus = createTransport({
        url: env().url,
        logger,
        namePrefix: `fife-robust-${randomBytes(3).toString('hex')}`,
      });
      await bus.start();
      req = new Requester({ transport: bus, logger, timeoutMs: 1000 });
      await req.start();
      const ask = async (): Promise<Envelope> => {
        const r = await req!.callCollect(
          authnReq('alice', realm),
          { exchange: 'callmgr', routingKey: authnReqKey(realm) },
          { until: (rs) => rs.length > 0, timeoutMs: 1000, validate: () => true },
        );
        return r[0]!;
      };
      expect(await ask()).toMatchObject({ 'Event-Name': 'authn_resp', 'Auth-Password': 's3cret' });
      const before = heapMb();

      const bad = { ...authnReq('alice', realm), 'Server-ID': LONG };
      await bus.publish('callmgr', authnReqKey(realm), JSON.stringify(bad));
      const dropped = await until(
        () =>
          lines.find(
            (l) => l.msg === 'listener: invalid message dropped' && /Server-ID/.test(String(l.reason)),
          ),
        'the registrar to drop the bad authn_req',
      );
      expect(String(dropped.reason)).toMatch(
        /Server-ID: expected a queue name \(a string of at most 255 bytes of UTF-8/,
      );
      expect(String(dropped.reason)).toContain('256 bytes');
      expect(
        lines.some(
          (l) =>
            typeof l.msg === 'string' &&
            l.msg.startsWith('listener: no error reply sent: its Server-ID cannot be a routing key'),
        ),
      ).toBe(true);

      expect(await ask()).toMatchObject({ 'Event-Name': 'authn_resp', 'Auth-Password': 's3cret' });
      const growth = heapMb() - before;
      expect(growth).toBeLessThan(20);
      expect(lines.filter((l) => l.msg === 'bus: connection lost; reconnecting')).toEqual([]);
    } finally {
      await req?.stop();
      await bus?.close();
      await node?.stop();
    }
  });
}
