/**
 * RecoveringTransport: the BusTransport every caller uses, over any Connector (amqplib or
 * embedded). It owns the connection lifecycle and the remembered topology; see types.ts
 * for the whole contract. In short:
 *
 * - States: idle -> connecting -> connected <-> reconnecting -> closed.
 * - A lost link (broker closed it, socket error, heartbeat, `sever()`) is logged with its
 *   reason, `lost` is emitted, and reconnects are scheduled with the kernel's backoff
 *   (src/kernel/backoff.ts; BUS_BACKOFF, or what `backoff` overrides), trying every
 *   broker URL each round. Each failed round is one warn line (broker,
 *   attempt, reason, next delay); the stack goes only to a debug line.
 * - A permanent refusal before the first connection (BusRefusedError: wrong user or
 *   password, unknown vhost) is not retried: one error line, `start()` and every waiting
 *   operation reject with it at once, and the transport is closed. After a first
 *   connection the same refusal is retried like any outage (an operator may be fixing it).
 * - Once connected, the Topology is replayed and `ready` is emitted with `recovered: true`.
 * - An exchange is declared once per connection: `assertExchange` of an exchange this
 *   connection already declared with the same spec sends nothing (every listener start
 *   asks for Kazoo's whole list); a new connection declares it again (the replay).
 *   `exchangesDeclared` counts the declarations sent to the broker.
 * - Operations wait for a connection up to `publishTimeoutMs` (default 5000), then reject
 *   with BusNotConnectedError. An operation whose link dies under it is retried on the next
 *   link within the same deadline; a confirmed publish that cannot be confirmed in time
 *   rejects with PublishUnconfirmedError.
 * - Every name, routing key, consumer tag and message property is checked first (names.ts:
 *   AMQP's 255-byte short strings): one that does not fit rejects that operation at once
 *   with BusInvalidArgumentError, before any wait, on both backends; nothing is retried.
 * - A consumer handler that throws is logged and the consumer carries on.
 * - Fault injection: `sever(reason, {reconnectAfterMs})` cuts the link and makes no
 *   reconnect attempt before that long (then the usual backoff); `degradeDeliveries`
 *   loses or delays deliveries to every consumer (see types.ts).
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../kernel/backoff.ts';
import {
  BusClosedError,
  BusNotConnectedError,
  BusRefusedError,
  LinkLostError,
  PublishUnconfirmedError,
} from './errors.ts';
import { DONE } from './done.ts';
import type { Connector, Link, LinkHooks } from './link.ts';
import { Topology } from './topology.ts';
import { checkBinding, checkName, checkNames, checkPublish, shortForLog } from './names.ts';
import type {
  BusTransport,
  ConsumeOptions,
  Delivery,
  DeliveryFaults,
  DeliveryHandler,
  ExchangeSpec,
  PublishOptions,
  QueueOptions,
  QueueStatus,
  TransportEvents,
  TransportState,
} from './types.ts';

export interface RecoveringTransportOptions {
  readonly connector: Connector;
  readonly logger: Logger;
  /** Bounded wait for a connection before an operation fails. Default 5000 ms. */
  readonly publishTimeoutMs?: number;
  /** How long `start()` waits for the first connection. Default 30000 ms. */
  readonly startTimeoutMs?: number;
  /** Reconnect delays; what is left out comes from BUS_BACKOFF. A bad value throws here. */
  readonly backoff?: Partial<BackoffPolicy>;
  /** Prefix of client-generated queue names and consumer tags. Default `<host>-<pid>`. */
  readonly namePrefix?: string;
}

interface Waiter {
  resolve(link: Link): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** Doubling and capped at 5 s like Kazoo's local-zone reconnects, but from 100 ms; up to
 *  20 % of each wait is taken off at random. */
export const BUS_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };

const sameExchange = (a: ExchangeSpec, b: ExchangeSpec): boolean =>
  a.type === b.type &&
  (a.durable ?? false) === (b.durable ?? false) &&
  (a.autoDelete ?? false) === (b.autoDelete ?? false);
/** Leaves room for `-ctag<n>-<8 hex>` within AMQP's 255 bytes. */
const MAX_PREFIX_BYTES = 200;

/** 8 random hex digits, drawn from a pool filled 4 KiB at a time (one per queue or consumer is hot). */
let randomPool = Buffer.alloc(0);
let randomAt = 0;
function randomHex8(): string {
  if (randomAt + 4 > randomPool.length) {
    randomPool = randomBytes(4096);
    randomAt = 0;
  }
  randomAt += 4;
  return randomPool.toString('hex', randomAt - 4, randomAt);
}

export class RecoveringTransport extends EventEmitter<TransportEvents> implements BusTransport {
  readonly topology = new Topology();
  private readonly log: Logger;
  private readonly connector: Connector;
  private readonly publishTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly namePrefix: string;
  private link: Link | undefined;
  private _state: TransportState = 'idle';
  private readonly waiters = new Set<Waiter>();
  private retryTimer: NodeJS.Timeout | undefined;
  private round = 0;
  private everReady = false;
  private closing: Promise<void> | undefined;
  private refused: BusRefusedError | undefined;
  private seq = 0;
  /** Exchanges each connection has declared (name -> spec), so each is sent once. */
  private readonly declared = new WeakMap<Link, Map<string, ExchangeSpec>>();
  private sentExchanges = 0;
  /** No reconnect attempt before this time (sever with reconnectAfterMs). */
  private holdUntil = 0;
  /** Deliveries lost / delayed while set (degradeDeliveries). */
  private deliveryFaults: (DeliveryFaults & { until: number; timer: NodeJS.Timeout }) | undefined;

  constructor(opts: RecoveringTransportOptions) {
    super();
    this.connector = opts.connector;
    this.log = opts.logger.child({ mod: 'bus' });
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.backoff = backoffPolicy(opts.backoff, BUS_BACKOFF);
    // Generated names (<prefix>-q<n>-<8 hex>) must stay within AMQP's 255 bytes.
    this.namePrefix = opts.namePrefix ?? `${hostname().slice(0, 180)}-${process.pid}`;
    if (Buffer.byteLength(this.namePrefix) > MAX_PREFIX_BYTES)
      throw new Error(
        `bus namePrefix is ${Buffer.byteLength(this.namePrefix)} bytes; at most ${MAX_PREFIX_BYTES} (generated queue names must fit AMQP's 255)`,
      );
  }

  get state(): TransportState {
    return this._state;
  }

  /** Exchange declarations sent to the broker since the transport was made (replays included). */
  get exchangesDeclared(): number {
    return this.sentExchanges;
  }

  get broker(): string | undefined {
    return this.link?.broker;
  }

  start(): Promise<void> {
    if (this._state === 'idle') {
      this.setState('connecting');
      void this.attempt();
    }
    return this.waitLink('start', Date.now() + this.startTimeoutMs).then(() => undefined);
  }

  whenReady(timeoutMs = this.publishTimeoutMs): Promise<void> {
    return this.waitLink('whenReady', Date.now() + timeoutMs).then(() => undefined);
  }

  // ---- connection lifecycle ----

  /** A method, not a field read, because close() can run while attempt() awaits. */
  private isClosed(): boolean {
    return this._state === 'closed';
  }

  private setState(s: TransportState): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s);
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    if (this._state === 'closed') return;
    const held = this.holdUntil - Date.now();
    if (held > 0) {
      this.retryTimer = setTimeout(() => void this.attempt(), held);
      this.retryTimer.unref?.();
      return;
    }
    let link: Link | undefined;
    let lostEarly: Error | undefined;
    const hooks: LinkHooks = {
      lost: (err) => {
        if (link !== undefined && this.link === link) this.onLinkLost(link, err);
        else lostEarly = err;
      },
      consumerCancelled: (tag) => this.onConsumerCancelled(tag),
      consumerLost: (tag, err) => void this.onConsumerLost(tag, err),
    };
    try {
      link = await this.connector.connect(hooks);
    } catch (err) {
      if (err instanceof BusRefusedError && !this.everReady) return this.giveUp(err);
      const attempt = this.round + 1;
      const retryInMs = this.scheduleRetry();
      this.log.warn(
        { broker: this.connector.description, attempt, retryInMs, reason: (err as Error).message },
        'bus: cannot connect to any broker; will retry',
      );
      this.log.debug({ err, attempt }, 'bus: connect failure detail');
      return;
    }
    if (this.isClosed()) {
      await link.close();
      return;
    }
    try {
      const declared = new Map<string, ExchangeSpec>();
      this.declared.set(link, declared);
      await this.topology.replay(link, this.log, (x) => {
        this.sentExchanges++;
        declared.set(x.name, x);
      });
      if (lostEarly) throw lostEarly;
    } catch (err) {
      this.log.warn(
        { broker: link.broker, reason: (err as Error).message },
        'bus: connection lost while re-declaring topology; will retry',
      );
      this.log.debug({ err }, 'bus: topology replay failure detail');
      await link.close();
      this.scheduleRetry();
      return;
    }
    if (this.isClosed()) {
      await link.close();
      return;
    }
    this.link = link;
    this.round = 0;
    const recovered = this.everReady;
    this.everReady = true;
    this.setState('connected');
    this.log.info(
      {
        broker: link.broker,
        recovered,
        queues: this.topology.queues.size,
        bindings: this.topology.bindings.size,
        consumers: this.topology.consumers.size,
      },
      recovered ? 'bus: reconnected and topology restored' : 'bus: connected',
    );
    for (const w of [...this.waiters]) {
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(link);
    }
    this.emit('ready', { broker: link.broker, recovered });
  }

  /** Schedules the next round; answers its delay in ms. */
  private scheduleRetry(): number {
    if (this._state === 'closed') return 0;
    const delay = backoffDelay(this.round++, this.backoff);
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
    this.retryTimer.unref?.();
    return delay;
  }

  /** A permanent refusal before any connection: say it once, fail every waiter, stop. */
  private giveUp(err: BusRefusedError): void {
    this.refused = err;
    this.log.error({ broker: err.broker, user: err.user, vhost: err.vhost }, err.message);
    this.setState('closed');
    for (const w of [...this.waiters]) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }

  private onLinkLost(link: Link, err: Error): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.log.warn(
      { err: { message: err.message }, broker: link.broker },
      'bus: connection lost; reconnecting',
    );
    this.setState('reconnecting');
    this.emit('lost', err);
    void link.close();
    if (this.retryTimer === undefined) this.scheduleRetry();
  }

  private onConsumerCancelled(tag: string): void {
    const queue = this.topology.forgetConsumer(tag);
    this.log.warn(
      { consumerTag: tag, queue },
      'bus: broker cancelled a consumer (its queue was deleted); it will not be restored',
    );
    if (queue !== undefined) this.emit('cancelled', { consumerTag: tag, queue });
  }

  private async onConsumerLost(tag: string, err: Error): Promise<void> {
    const c = this.topology.consumers.get(tag);
    if (!c) return;
    this.log.warn({ err, consumerTag: tag, queue: c.queue }, 'bus: consumer channel closed; consuming again');
    const link = this.link;
    if (!link) return; // the replay after reconnect restores it
    try {
      await link.consume(c.queue, tag, c.handler, c.options);
    } catch (e) {
      this.log.error({ err: e, consumerTag: tag }, 'bus: cannot restore consumer; forcing a reconnect');
      link.sever('consumer could not be restored');
    }
  }

  private waitLink(operation: string, deadline: number): Promise<Link> {
    if (this.refused) return Promise.reject(this.refused);
    if (this._state === 'closed') return Promise.reject(new BusClosedError(operation));
    if (this.link) return Promise.resolve(this.link);
    const waited = Math.max(0, deadline - Date.now());
    return new Promise<Link>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: undefined,
      };
      if (waited < 2 ** 31 - 1) {
        w.timer = setTimeout(() => {
          this.waiters.delete(w);
          reject(new BusNotConnectedError(operation, waited));
        }, waited);
      }
      this.waiters.add(w);
    });
  }

  /** Runs fn on a live link, waiting (bounded) for one and retrying when the link dies under it. */
  private async withLink<T>(
    operation: string,
    fn: (link: Link) => Promise<T>,
    deadline = Date.now() + this.publishTimeoutMs,
  ): Promise<T> {
    for (;;) {
      const link = this.link ?? (await this.waitLink(operation, deadline));
      try {
        return await fn(link);
      } catch (err) {
        if (!(err instanceof LinkLostError)) throw err;
        this.onLinkLost(link, err);
        if (Date.now() >= deadline) throw new BusNotConnectedError(operation, this.publishTimeoutMs, err);
      }
    }
  }

  /**
   * withLink for an operation without a result, without an async frame when a link is up:
   * fn runs on it at once, and DONE from the link (done already) is answered as is. `undo`
   * runs when the operation fails for good (the topology's bookkeeping is put back).
   */
  private onLink(
    operation: () => string,
    fn: (link: Link) => Promise<void>,
    undo?: () => void,
  ): Promise<void> {
    const link = this.link;
    const deadline = Date.now() + this.publishTimeoutMs;
    let p: Promise<void>;
    if (link === undefined) p = this.withLink(operation(), fn, deadline);
    else {
      try {
        p = fn(link);
      } catch (err) {
        p = Promise.reject(err);
      }
      if (p === DONE) return DONE;
      p = p.catch((err: unknown) => {
        if (!(err instanceof LinkLostError)) throw err;
        this.onLinkLost(link, err);
        if (Date.now() >= deadline) throw new BusNotConnectedError(operation(), this.publishTimeoutMs, err);
        return this.withLink(operation(), fn, deadline);
      });
    }
    if (undo === undefined) return p;
    return p.catch((err: unknown) => {
      undo();
      throw err;
    });
  }

  // ---- declarations ----
  // Not async: a check that fails rejects (never throws), and an operation the link did at
  // once answers DONE without making a promise (one listener per call starts and stops).

  assertExchange(spec: ExchangeSpec): Promise<void> {
    try {
      checkName('assertExchange', 'exchange name', spec.name);
    } catch (err) {
      return Promise.reject(err);
    }
    const prev = this.topology.exchanges.get(spec.name);
    const done = this.link === undefined ? undefined : this.declared.get(this.link)?.get(spec.name);
    if (done !== undefined && sameExchange(done, spec)) return DONE;
    this.topology.exchanges.set(spec.name, spec);
    return this.onLink(
      () => `assertExchange ${spec.name}`,
      (l) => {
        this.sentExchanges++;
        const p = l.assertExchange(spec);
        const note = (): void => void this.declared.get(l)?.set(spec.name, spec);
        if (p === DONE) {
          note();
          return DONE;
        }
        return p.then(note);
      },
      () => {
        if (prev) this.topology.exchanges.set(spec.name, prev);
        else this.topology.exchanges.delete(spec.name);
      },
    );
  }

  assertExchanges(specs: readonly ExchangeSpec[]): Promise<void> {
    // Already declared the same way on this link: nothing to wait for (every per-call
    // listener asserts the Kazoo exchanges it may use).
    const declared = this.link === undefined ? undefined : this.declared.get(this.link);
    let i = 0;
    for (; i < specs.length; i++) {
      const done = declared?.get(specs[i].name);
      if (done === undefined || !sameExchange(done, specs[i])) break;
    }
    return i === specs.length ? DONE : this.assertExchangesFrom(specs, i);
  }

  private async assertExchangesFrom(specs: readonly ExchangeSpec[], from: number): Promise<void> {
    for (let i = from; i < specs.length; i++) {
      const s = specs[i];
      const declared = this.link === undefined ? undefined : this.declared.get(this.link);
      const done = declared?.get(s.name);
      if (done === undefined || !sameExchange(done, s)) await this.assertExchange(s);
    }
  }

  deleteExchange(name: string): Promise<void> {
    try {
      checkName('deleteExchange', 'exchange name', name);
    } catch (err) {
      return Promise.reject(err);
    }
    this.topology.forgetExchange(name);
    if (this.link !== undefined) this.declared.get(this.link)?.delete(name);
    return this.onLink(
      () => `deleteExchange ${name}`,
      (l) => l.deleteExchange(name),
    );
  }

  /** A client-generated queue name: `<prefix>-<16 hex>`, unique per process. */
  generateName(kind = 'q'): string {
    return `${this.namePrefix}-${kind}${++this.seq}-${randomHex8()}`;
  }

  assertQueue(name: string, options: QueueOptions = {}): Promise<string> {
    const queue = name === '' ? this.generateName() : name;
    try {
      checkName('assertQueue', 'queue name', queue);
    } catch (err) {
      return Promise.reject(err);
    }
    const prev = this.topology.queues.get(queue);
    this.topology.queues.set(queue, options);
    return this.onLink(
      () => `assertQueue ${queue}`,
      (l) => l.assertQueue(queue, options),
      () => {
        if (prev) this.topology.queues.set(queue, prev);
        else this.topology.queues.delete(queue);
      },
    ).then(() => queue);
  }

  async checkQueue(name: string): Promise<QueueStatus> {
    checkNames('checkQueue', [['queue name', name]]);
    return this.withLink(`checkQueue ${name}`, (l) => l.checkQueue(name));
  }

  deleteQueue(name: string): Promise<void> {
    try {
      checkName('deleteQueue', 'queue name', name);
    } catch (err) {
      return Promise.reject(err);
    }
    this.topology.forgetQueue(name);
    return this.onLink(
      () => `deleteQueue ${name}`,
      (l) => l.deleteQueue(name),
    );
  }

  bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    try {
      checkBinding('bindQueue', queue, exchange, routingKey);
    } catch (err) {
      return Promise.reject(err);
    }
    const added = this.topology.addBinding(queue, exchange, routingKey);
    return this.onLink(
      () => `bindQueue ${queue} <- ${exchange}/${routingKey}`,
      (l) => l.bindQueue(queue, exchange, routingKey),
      added ? () => void this.topology.removeBinding(queue, exchange, routingKey) : undefined,
    );
  }

  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    try {
      checkBinding('unbindQueue', queue, exchange, routingKey);
    } catch (err) {
      return Promise.reject(err);
    }
    this.topology.removeBinding(queue, exchange, routingKey);
    return this.onLink(
      () => `unbindQueue ${queue} <- ${exchange}/${routingKey}`,
      (l) => l.unbindQueue(queue, exchange, routingKey),
    );
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<string> {
    const tag = options.consumerTag ?? this.generateName('ctag');
    try {
      const what = (): string => `consume ${typeof queue === 'string' ? shortForLog(queue) : '?'}`;
      checkName(what, 'queue name', queue);
      checkName(what, 'consumer tag', tag);
    } catch (err) {
      return Promise.reject(err);
    }
    const opts: ConsumeOptions = {
      noAck: true,
      prefetch: 50,
      exclusive: false,
      ...options,
      consumerTag: tag,
    };
    const log = this.log;
    const run = (d: Delivery): void => {
      try {
        handler(d);
      } catch (err) {
        log.error(
          { err, consumerTag: tag, queue, routingKey: d.routingKey },
          'bus: consumer handler threw; delivery skipped',
        );
      }
    };
    const safe: DeliveryHandler = (d: Delivery) => {
      const f = this.deliveryFaults;
      if (f === undefined) return run(d);
      if ((f.dropShare ?? 0) > 0 && (f.random ?? Math.random)() < f.dropShare!) {
        if (opts.noAck === false) d.ack();
        return;
      }
      if ((f.delayMs ?? 0) > 0) setTimeout(() => run(d), f.delayMs);
      else run(d);
    };
    this.topology.addConsumer(tag, { queue, handler: safe, options: opts });
    return this.onLink(
      () => `consume ${queue}`,
      (l) => l.consume(queue, tag, safe, opts),
      () => void this.topology.dropConsumer(tag),
    ).then(() => tag);
  }

  cancel(consumerTag: string): Promise<void> {
    this.topology.forgetConsumer(consumerTag);
    const link = this.link;
    if (!link) return DONE; // no connection: the consumer is gone with it and will not be restored
    let p: Promise<void>;
    try {
      p = link.cancel(consumerTag);
    } catch (err) {
      p = Promise.reject(err);
    }
    if (p === DONE) return DONE;
    return p.catch((err: unknown) => {
      if (!(err instanceof LinkLostError)) throw err;
    });
  }

  // ---- publishing ----

  publish(
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    options?: PublishOptions,
  ): Promise<void> {
    try {
      checkPublish('publish', exchange, routingKey, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const link = this.link;
    const retry = (): Promise<void> =>
      this.withLink(
        `publish ${exchange}/${routingKey}`,
        (l) => l.publish(exchange, routingKey, buf, options) ?? DONE,
      );
    if (link) {
      try {
        const pending = link.publish(exchange, routingKey, buf, options);
        if (pending === undefined) return DONE;
        return pending.catch((err: unknown) => {
          if (!(err instanceof LinkLostError)) throw err;
          this.onLinkLost(link, err);
          return retry();
        });
      } catch (err) {
        if (!(err instanceof LinkLostError)) return Promise.reject(err);
        this.onLinkLost(link, err);
      }
    }
    return retry();
  }

  publishConfirmed(
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    options?: PublishOptions,
  ): Promise<void> {
    try {
      checkPublish('publishConfirmed', exchange, routingKey, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const deadline = Date.now() + this.publishTimeoutMs;
    const link = this.link;
    if (link === undefined) return this.confirm(exchange, routingKey, buf, options, deadline);
    // On a link up, the first attempt is made at once; DONE (confirmed already) is final.
    let first: Promise<void>;
    try {
      first = link.publishConfirmed(exchange, routingKey, buf, options);
    } catch (err) {
      first = Promise.reject(err);
    }
    if (first === DONE) return DONE;
    return this.confirm(exchange, routingKey, buf, options, deadline, { link, pending: first });
  }

  /** Publishes (again after each lost link) until confirmed, within the deadline. */
  private async confirm(
    exchange: string,
    routingKey: string,
    buf: Buffer,
    options: PublishOptions | undefined,
    deadline: number,
    first?: { link: Link; pending: Promise<void> },
  ): Promise<void> {
    const operation = `publishConfirmed ${exchange}/${routingKey}`;
    let lastLoss: Error | undefined;
    let attempt = first;
    for (;;) {
      let link: Link;
      try {
        link = attempt?.link ?? this.link ?? (await this.waitLink(operation, deadline));
      } catch (err) {
        if (lastLoss && err instanceof BusNotConnectedError)
          throw new PublishUnconfirmedError(exchange, routingKey, this.publishTimeoutMs, lastLoss);
        throw err;
      }
      try {
        await (attempt?.pending ?? link.publishConfirmed(exchange, routingKey, buf, options));
        return;
      } catch (err) {
        if (!(err instanceof LinkLostError)) throw err;
        lastLoss = err;
        this.onLinkLost(link, err);
        if (Date.now() >= deadline)
          throw new PublishUnconfirmedError(exchange, routingKey, this.publishTimeoutMs, err);
        this.log.warn(
          { exchange, routingKey },
          'bus: confirmed publish interrupted by a lost connection; republishing after recovery',
        );
      } finally {
        attempt = undefined;
      }
    }
  }

  // ---- fault injection and shutdown ----

  sever(reason = 'severed on purpose', opts: { reconnectAfterMs?: number } = {}): void {
    const link = this.link;
    if (!link) {
      this.log.warn({ reason }, 'bus: sever requested while not connected; nothing to cut');
      return;
    }
    const hold = opts.reconnectAfterMs ?? 0;
    if (hold > 0) this.holdUntil = Date.now() + hold;
    this.log.warn(
      { reason, broker: link.broker, reconnectAfterMs: hold || undefined },
      'bus: severing the connection (fault injection)',
    );
    link.sever(reason);
  }

  degradeDeliveries(d: DeliveryFaults): void {
    const share = d.dropShare ?? 0;
    const delay = d.delayMs ?? 0;
    if (!(share >= 0 && share <= 1)) throw new RangeError(`dropShare must be within 0..1, got ${share}`);
    if (!(delay >= 0) || !(d.forMs > 0))
      throw new RangeError(`delayMs must be >= 0 and forMs > 0, got ${delay} and ${d.forMs}`);
    this.endDeliveryFaults();
    const timer = setTimeout(() => this.endDeliveryFaults(), d.forMs);
    timer.unref?.();
    this.deliveryFaults = { ...d, until: Date.now() + d.forMs, timer };
    this.log.warn(
      { dropShare: share, delayMs: delay, forMs: d.forMs },
      'bus: deliveries degraded (fault injection)',
    );
  }

  private endDeliveryFaults(): void {
    const f = this.deliveryFaults;
    if (f === undefined) return;
    this.deliveryFaults = undefined;
    clearTimeout(f.timer);
    this.log.info('bus: deliveries back to normal');
    f.onEnd?.();
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      this.setState('closed');
      this.endDeliveryFaults();
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      for (const w of [...this.waiters]) {
        clearTimeout(w.timer);
        w.reject(new BusClosedError('wait for connection'));
      }
      this.waiters.clear();
      const link = this.link;
      this.link = undefined;
      if (link) await link.close();
      this.log.info('bus: transport closed');
    })();
    return this.closing;
  }
}
