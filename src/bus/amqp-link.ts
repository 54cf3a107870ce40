/**
 * AmqpLink: one live amqplib connection, as the Link contract (link.ts) wants it. Made by
 * AmqpConnector (amqp-connector.ts).
 *
 * - Channels: one for fire-and-forget publishes, one confirm channel, one for declarations,
 *   and one per consumer (so per-consumer prefetch holds). A channel the broker closes for
 *   an error (404, 405, 406, ...) is replaced on next use; the operation that caused it
 *   rejects with BusChannelError. Other operations caught on that channel are retried once.
 * - A value amqplib refuses to encode (it throws TypeError / RangeError before anything is
 *   written: a name over 255 bytes, a property of the wrong type) fails that operation
 *   with BusInvalidArgumentError at once: the channel is fine, so nothing is retried and
 *   the connection is not touched (an admin channel is replaced: amqplib leaves it waiting
 *   for a reply that never comes). RecoveringTransport checks names first; this is the
 *   backstop. A publish is retried only when its channel really closed, and only once.
 * - The first publish to an exchange this link has not declared is preceded by a passive
 *   check: a missing exchange rejects NOT_FOUND instead of killing the channel (which would
 *   silently lose the messages published behind it). Publishes keep their order.
 * - `mandatory` publishes: RabbitMQ sends basic.return for one no queue took, before its
 *   confirm. A confirmed one is matched to the return (same channel, exchange, routing key
 *   and body: two identical messages in flight are interchangeable) and rejects with
 *   PublishUnroutableError once its confirm comes; any other return is logged at warn.
 * - `sever()` destroys the socket, as a network failure would.
 * - `cancel()` settles once the connection is gone, whatever amqplib does with the
 *   channel's pending cancel (it can leave it waiting for ever when the socket dies under
 *   it): it rejects LinkLostError then, as every operation of a lost link does.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { redactUrl } from './broker-url.ts';
import { AmqpDelivery } from './amqp-delivery.ts';
import {
  BusChannelError,
  BusInvalidArgumentError,
  LinkLostError,
  PublishNackedError,
  PublishUnroutableError,
} from './errors.ts';
import type { Link, LinkHooks } from './link.ts';
import type {
  ConsumeOptions,
  DeliveryHandler,
  ExchangeSpec,
  PublishOptions,
  QueueOptions,
  QueueStatus,
} from './types.ts';

/** What AmqpLink.open needs (a subset of AmqpConnectorOptions). */
export interface AmqpLinkOptions {
  readonly heartbeatSeconds?: number;
  readonly connectTimeoutMs?: number;
  readonly connectionName?: string;
}

const CHANNEL_ERROR_CODES = new Set([403, 404, 405, 406]);

function replyCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** amqplib throws these synchronously, before writing a byte, for a value it cannot encode. */
function encodingRefusal(err: unknown, operation: string): BusInvalidArgumentError | undefined {
  if (!(err instanceof TypeError || err instanceof RangeError)) return undefined;
  const field = /^Field '([^']+)'/.exec(err.message)?.[1] ?? 'a value';
  return new BusInvalidArgumentError(operation, field, `cannot be encoded by amqplib (${err.message})`);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Returnable {
  readonly ch: Channel;
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  returned?: string;
}

export class AmqpLink implements Link {
  private dead = false;
  private closedByUs = false;
  /** Settles (rejects LinkLostError) when the connection closes, whoever closed it. */
  private markGone!: () => void;
  private readonly gone = new Promise<never>((_, reject) => {
    this.markGone = () => reject(this.lost('connection closed'));
  });
  private pub: Promise<Channel> | undefined;
  private pubCh: Channel | undefined;
  private confirm: Promise<ConfirmChannel> | undefined;
  private admin: Promise<Channel> | undefined;
  private drain: Promise<void> | undefined;
  private readonly channelErrors = new WeakMap<Channel, Error>();
  private readonly consumers = new Map<string, Channel>();
  /** Exchanges known to exist on this connection ('' always does). */
  private readonly known = new Set<string>(['']);
  /** Set while a publish waits (exchange check, channel re-open); later publishes queue behind it. */
  private gate: Promise<void> | undefined;
  /** Mandatory confirmed publishes waiting for their confirm; `returned` set by a basic.return. */
  private readonly awaitingReturn: Returnable[] = [];

  static async open(url: string, opts: AmqpLinkOptions, hooks: LinkHooks, log: Logger): Promise<AmqpLink> {
    const hb = opts.heartbeatSeconds ?? 10;
    const full = /[?&]heartbeat=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}heartbeat=${hb}`;
    const conn = await amqp.connect(full, {
      noDelay: true,
      timeout: opts.connectTimeoutMs ?? 5_000,
      clientProperties: { connection_name: opts.connectionName ?? 'fife' },
    });
    const link = new AmqpLink(conn, redactUrl(url), hooks, log);
    try {
      await Promise.all([link.pubChannel(), link.confirmChannel(), link.adminChannel()]);
    } catch (err) {
      await link.close();
      throw err;
    }
    return link;
  }

  private constructor(
    private readonly conn: ChannelModel,
    readonly broker: string,
    private readonly hooks: LinkHooks,
    private readonly log: Logger,
  ) {
    conn.on('error', (err: Error) =>
      this.log.warn({ err: errMessage(err), broker }, 'bus: connection error'),
    );
    conn.on('blocked', (reason: string) =>
      this.log.warn(
        { reason, broker },
        'bus: broker blocked the connection (resource alarm); publishes wait',
      ),
    );
    conn.on('unblocked', () => this.log.info({ broker }, 'bus: broker unblocked the connection'));
    this.gone.catch(() => undefined); // awaited only in races (cancel)
    conn.on('close', (err?: Error) => {
      this.markGone();
      if (this.dead) return;
      this.dead = true;
      if (!this.closedByUs) hooks.lost(err ?? new Error('connection closed by the broker'));
    });
  }

  private watch<C extends Channel>(ch: C, role: string, onClose: () => void): C {
    ch.on('error', (err: Error) => {
      this.channelErrors.set(ch, err);
      const gone = /no exchange '([^']*)'/.exec(err.message);
      if (gone) this.known.delete(gone[1]);
      this.log.warn({ err: errMessage(err), role, broker: this.broker }, 'bus: broker closed a channel');
    });
    ch.on('close', onClose);
    ch.on('return', (msg: amqp.Message) => this.onReturn(ch, role, msg));
    return ch;
  }

  /** A basic.return: it fails the mandatory confirmed publish it belongs to, else is logged. */
  private onReturn(ch: Channel, role: string, msg: amqp.Message): void {
    const f = msg.fields as unknown as {
      exchange: string;
      routingKey: string;
      replyCode?: number;
      replyText?: string;
    };
    const why = f.replyText ?? `reply code ${String(f.replyCode)}`;
    const waiting = this.awaitingReturn.find(
      (r) =>
        r.ch === ch &&
        r.returned === undefined &&
        r.exchange === f.exchange &&
        r.routingKey === f.routingKey &&
        r.body.equals(msg.content),
    );
    if (waiting !== undefined) {
      waiting.returned = why;
      return;
    }
    this.log.warn(
      { exchange: f.exchange, routingKey: f.routingKey, role, reply: why, broker: this.broker },
      'bus: a mandatory message came back unroutable (basic.return); nobody waits for it',
    );
  }

  private lost(operation: string, cause?: unknown): LinkLostError {
    return new LinkLostError(operation, cause);
  }

  private newChannel<C extends Channel>(
    make: () => Promise<C>,
    role: string,
    forget: (p: Promise<C>) => void,
  ): Promise<C> {
    if (this.dead) return Promise.reject(this.lost(`open ${role} channel`));
    const p: Promise<C> = make().then(
      (ch) => this.watch(ch, role, () => forget(p)),
      (err) => {
        forget(p);
        throw this.lost(`open ${role} channel`, err);
      },
    );
    return p;
  }

  private pubChannel(): Promise<Channel> {
    if (this.pub) return this.pub;
    const p = this.newChannel(
      () => this.conn.createChannel(),
      'publish',
      (closed) => {
        if (this.pub === closed) this.pub = this.pubCh = undefined;
      },
    );
    this.pub = p;
    return p.then((ch) => {
      if (this.pub === p) this.pubCh = ch;
      return ch;
    });
  }

  private confirmChannel(): Promise<ConfirmChannel> {
    return (this.confirm ??= this.newChannel(
      () => this.conn.createConfirmChannel(),
      'confirm',
      (p) => {
        if (this.confirm === p) this.confirm = undefined;
      },
    ));
  }

  private adminChannel(): Promise<Channel> {
    return (this.admin ??= this.newChannel(
      () => this.conn.createChannel(),
      'admin',
      (p) => {
        if (this.admin === p) this.admin = undefined;
      },
    ));
  }

  /** Runs a declaration on the admin channel, mapping broker refusals and connection loss. */
  private async adminOp<T>(operation: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const p = this.adminChannel();
      const ch = await p;
      try {
        return await fn(ch);
      } catch (err) {
        const refused = encodingRefusal(err, operation);
        if (refused) {
          // amqplib marks the RPC as awaiting a reply before encoding it, so the channel would
          // queue every later RPC forever: replace it.
          if (this.admin === p) this.admin = undefined;
          void ch.close().catch(() => undefined);
          throw refused;
        }
        const code = replyCode(err);
        if (code !== undefined && CHANNEL_ERROR_CODES.has(code))
          throw BusChannelError.fromReplyCode(code, operation, errMessage(err), err);
        if (this.dead || attempt >= 1) throw this.lost(operation, err);
      }
    }
  }

  assertExchange(spec: ExchangeSpec): Promise<void> {
    return this.adminOp(`assertExchange ${spec.name}`, async (ch) => {
      await ch.assertExchange(spec.name, spec.type, {
        durable: spec.durable ?? false,
        autoDelete: spec.autoDelete ?? false,
        internal: false,
      });
      this.known.add(spec.name);
    });
  }

  deleteExchange(name: string): Promise<void> {
    return this.adminOp(`deleteExchange ${name}`, async (ch) => {
      this.known.delete(name);
      await ch.deleteExchange(name);
    });
  }

  assertQueue(name: string, o: QueueOptions): Promise<void> {
    const args: Record<string, unknown> = {};
    if (o.maxLength !== undefined) args['x-max-length'] = o.maxLength;
    if (o.messageTtl !== undefined) args['x-message-ttl'] = o.messageTtl;
    if (o.maxPriority !== undefined) args['x-max-priority'] = o.maxPriority;
    return this.adminOp(`assertQueue ${name}`, async (ch) => {
      await ch.assertQueue(name, {
        exclusive: o.exclusive ?? false,
        autoDelete: o.autoDelete ?? false,
        durable: o.durable ?? false,
        arguments: args,
      });
    });
  }

  checkQueue(name: string): Promise<QueueStatus> {
    return this.adminOp(`checkQueue ${name}`, async (ch) => {
      const r = await ch.checkQueue(name);
      return { queue: r.queue, messageCount: r.messageCount, consumerCount: r.consumerCount };
    });
  }

  deleteQueue(name: string): Promise<void> {
    return this.adminOp(`deleteQueue ${name}`, async (ch) => {
      await ch.deleteQueue(name);
    });
  }

  bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    return this.adminOp(`bindQueue ${queue} <- ${exchange}/${routingKey}`, async (ch) => {
      await ch.bindQueue(queue, exchange, routingKey);
    });
  }

  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    return this.adminOp(`unbindQueue ${queue} <- ${exchange}/${routingKey}`, async (ch) => {
      await ch.unbindQueue(queue, exchange, routingKey);
    });
  }

  async consume(
    queue: string,
    consumerTag: string,
    handler: DeliveryHandler,
    opts: ConsumeOptions,
  ): Promise<void> {
    const operation = `consume ${queue}`;
    if (this.dead) throw this.lost(operation);
    let ch: Channel;
    try {
      ch = await this.conn.createChannel();
    } catch (err) {
      throw this.lost(operation, err);
    }
    let cancelled = false;
    this.watch(ch, `consumer ${consumerTag}`, () => {
      if (this.consumers.get(consumerTag) !== ch) return;
      this.consumers.delete(consumerTag);
      const chErr = this.channelErrors.get(ch);
      // Let a dying connection report itself first; only a channel error on a live link is a lost consumer.
      setImmediate(() => {
        if (!this.dead && !this.closedByUs && !cancelled && chErr)
          this.hooks.consumerLost(consumerTag, chErr);
      });
    });
    const noAck = opts.noAck ?? true;
    const log = this.log;
    try {
      if (!noAck) await ch.prefetch(opts.prefetch ?? 50);
      this.consumers.set(consumerTag, ch);
      await ch.consume(
        queue,
        (m) => {
          if (m === null) {
            cancelled = true;
            this.consumers.delete(consumerTag);
            void ch.close().catch(() => undefined);
            this.hooks.consumerCancelled(consumerTag);
            return;
          }
          handler(new AmqpDelivery(m, ch, consumerTag, noAck, log));
        },
        { noAck, exclusive: opts.exclusive ?? false, consumerTag },
      );
    } catch (err) {
      this.consumers.delete(consumerTag);
      void ch.close().catch(() => undefined);
      const refused = encodingRefusal(err, operation);
      if (refused) throw refused;
      const code = replyCode(err);
      if (code !== undefined && CHANNEL_ERROR_CODES.has(code))
        throw BusChannelError.fromReplyCode(code, operation, errMessage(err), err);
      throw this.lost(operation, err);
    }
  }

  async cancel(consumerTag: string): Promise<void> {
    const ch = this.consumers.get(consumerTag);
    if (!ch) return;
    this.consumers.delete(consumerTag);
    try {
      const done = (async () => {
        await ch.cancel(consumerTag);
        await ch.close();
      })();
      done.catch(() => undefined); // a late failure, once the race is over, is no news
      await Promise.race([done, this.gone]);
    } catch (err) {
      if (this.dead) throw this.lost(`cancel ${consumerTag}`, err);
      this.log.debug({ err: errMessage(err), consumerTag }, 'bus: consumer channel already closed at cancel');
    }
  }

  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): Promise<void> | undefined {
    if (this.dead) throw this.lost('publish');
    // Steady state: the exchange is known, the channel open and nothing queued: write now.
    if (this.gate === undefined && this.pubCh && this.known.has(exchange))
      return this.write(this.pubCh, exchange, routingKey, body, options, false);
    // Otherwise queue behind earlier slow publishes, so the channel order is kept.
    const run = (this.gate ?? Promise.resolve()).then(async () => {
      await this.ensureExchange(exchange, 'publish');
      const ch = await this.pubChannel();
      return this.write(ch, exchange, routingKey, body, options, false);
    });
    const gate: Promise<void> = run.then(
      () => undefined,
      () => undefined,
    );
    this.gate = gate;
    void gate.then(() => {
      if (this.gate === gate) this.gate = undefined;
    });
    return run;
  }

  /**
   * Publishing to a missing exchange makes RabbitMQ close the channel, silently losing the
   * messages behind it; so the first publish to an exchange this link has not declared or
   * seen checks it (passive declare) and rejects NOT_FOUND instead.
   */
  private async ensureExchange(exchange: string, operation: string): Promise<void> {
    if (this.known.has(exchange)) return;
    await this.adminOp(`${operation} to ${exchange} (exchange check)`, async (ch) => {
      await ch.checkExchange(exchange);
    });
    this.known.add(exchange);
  }

  /**
   * Writes one publish. amqplib throws synchronously either because the value cannot be
   * encoded (the channel is fine: fail this publish, never retry it) or because the channel
   * closed under us (re-open it and write once more; a second failure is a lost link).
   */
  private write(
    ch: Channel,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
    retried: boolean,
  ): Promise<void> | undefined {
    let ok: boolean;
    try {
      ok = ch.publish(exchange, routingKey, body, options);
    } catch (err) {
      const refused = encodingRefusal(err, `publish to ${exchange || '(default)'}`);
      if (refused) throw refused;
      if (this.pubCh === ch) this.pubCh = undefined;
      if (this.dead || retried) throw this.lost('publish', err);
      return this.pubChannel().then((c) => this.write(c, exchange, routingKey, body, options, true));
    }
    if (ok) return undefined;
    return (this.drain ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        ch.off('drain', onDrain);
        ch.off('close', onClose);
        this.drain = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(this.lost('publish (waiting for the write buffer to drain)'));
      ch.on('drain', onDrain);
      ch.on('close', onClose);
    }));
  }

  async publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: PublishOptions | undefined,
  ): Promise<void> {
    const operation = `publishConfirmed ${exchange}/${routingKey}`;
    if (this.dead) throw this.lost(operation);
    await this.ensureExchange(exchange, 'publishConfirmed');
    const ch = await this.confirmChannel();
    const watch: Returnable | undefined =
      options?.mandatory === true ? { ch, exchange, routingKey, body } : undefined;
    if (watch !== undefined) this.awaitingReturn.push(watch);
    const unwatch = (): void => {
      const i = watch === undefined ? -1 : this.awaitingReturn.indexOf(watch);
      if (i >= 0) this.awaitingReturn.splice(i, 1);
    };
    return new Promise<void>((resolve, reject) => {
      const cb = (err: unknown): void => {
        unwatch();
        if (!err && watch?.returned !== undefined)
          return reject(new PublishUnroutableError(exchange, routingKey, watch.returned));
        if (!err) return resolve();
        if (errMessage(err) === 'message nacked') return reject(new PublishNackedError(exchange, routingKey));
        const chErr = this.channelErrors.get(ch);
        const code = replyCode(chErr);
        if (!this.dead && code !== undefined && CHANNEL_ERROR_CODES.has(code))
          reject(BusChannelError.fromReplyCode(code, operation, errMessage(chErr), chErr));
        else reject(this.lost(operation, err));
      };
      try {
        ch.publish(exchange, routingKey, body, options ?? {}, cb);
      } catch (err) {
        unwatch();
        reject(
          encodingRefusal(err, `publishConfirmed to ${exchange || '(default)'}`) ?? this.lost(operation, err),
        );
      }
    });
  }

  sever(reason: string): void {
    const stream = (this.conn as unknown as { connection?: { stream?: { destroy(err?: Error): void } } })
      .connection?.stream;
    if (!stream) {
      this.log.error({ reason }, 'bus: cannot reach the socket to sever it; closing instead');
      void this.conn.close().catch(() => undefined);
      return;
    }
    stream.destroy(new Error(`severed: ${reason}`));
  }

  async close(): Promise<void> {
    if (this.closedByUs) return;
    this.closedByUs = true;
    if (this.dead) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.conn.close(),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error('close timed out after 2000 ms')), 2_000);
        }),
      ]);
    } catch (err) {
      this.log.debug(
        { err: errMessage(err), broker: this.broker },
        'bus: connection close did not complete cleanly; destroying the socket',
      );
      this.sever('close failed');
    } finally {
      clearTimeout(timer);
    }
  }
}
