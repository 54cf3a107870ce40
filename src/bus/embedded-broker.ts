/**
 * The embedded broker: RabbitMQ's routing model in-process, for a single node with nothing
 * installed (`FIFE_BUS_URL=embedded`, the default of `fife start`) and for tests.
 *
 * Contract (as RabbitMQ, differences listed in src/bus/README.md)
 * - Exchanges: direct, topic (`*` one word, `#` zero or more), fanout, plus the default
 *   exchange '' that routes to the queue named by the routing key. Re-declaring with
 *   another type fails PRECONDITION_FAILED.
 * - Queues: exclusive (owned by one connection, deleted when it goes; others get
 *   RESOURCE_LOCKED), auto-delete (deleted when its last consumer goes, once it had one),
 *   x-max-length, x-message-ttl. Re-declaring with other options fails PRECONDITION_FAILED.
 * - Binding or consuming with a missing queue or exchange fails NOT_FOUND. An exclusive
 *   consumer locks the queue (ACCESS_REFUSED for others).
 * - Connections are numbered; `disconnect(conn)` does what a dropped connection does:
 *   its consumers go (unacked messages requeued), its exclusive queues are deleted.
 * - Names, routing keys, consumer tags and message properties over AMQP's limits (names.ts:
 *   255 bytes of UTF-8) are refused with BusInvalidArgumentError, as the RabbitMQ path
 *   refuses them, and nothing changes.
 * - `stopApp()` / `startApp()` mimic `rabbitmqctl stop_app/start_app`: every connection is
 *   dropped, non-durable exchanges and queues are lost, and connects fail until started.
 */
import { BusChannelError } from './errors.ts';
import { EmbeddedQueue, type EmbeddedConsumer } from './embedded-queue.ts';
import { compileTopic, topicWords, type TopicMatcher } from './topic-match.ts';
import { checkName, checkPublish } from './names.ts';
import type {
  ConsumeOptions,
  DeliveryHandler,
  ExchangeSpec,
  MessageProperties,
  QueueOptions,
  QueueStatus,
} from './types.ts';

interface BindingEntry {
  readonly queue: string;
  readonly routingKey: string;
  readonly match: TopicMatcher;
}

interface ExchangeEntry {
  readonly spec: ExchangeSpec;
  /** Every binding, by `queue \0 routing key`. */
  readonly bindings: Map<string, BindingEntry>;
  /** direct exchanges: routing key -> queues, so routing is a lookup, not a scan. */
  readonly byKey: Map<string, Set<string>>;
  /**
   * topic exchanges: the bindings whose last word is a plain word, by that word (only a
   * routing key ending in that word can match them: a call's `call.*.<call-id>` is looked
   * at only for that call's events), and the others (last word `*` or `#`, or no word),
   * matched against every key. Same key as `bindings`.
   */
  readonly byLastWord: Map<string, Map<string, BindingEntry>>;
  readonly anyLastWord: Map<string, BindingEntry>;
}

/** The plain last word of a topic binding key, or undefined (a wildcard, or no word). */
function lastPlainWord(pattern: string): string | undefined {
  const words = topicWords(pattern);
  const last = words[words.length - 1];
  return last === undefined || last === '*' || last === '#' ? undefined : last;
}

function indexAdd(x: ExchangeEntry, k: string, b: BindingEntry): void {
  if (x.spec.type === 'topic') {
    const last = lastPlainWord(b.routingKey);
    if (last === undefined) x.anyLastWord.set(k, b);
    else {
      let m = x.byLastWord.get(last);
      if (!m) x.byLastWord.set(last, (m = new Map()));
      m.set(k, b);
    }
    return;
  }
  if (x.spec.type !== 'direct') return;
  let set = x.byKey.get(b.routingKey);
  if (!set) x.byKey.set(b.routingKey, (set = new Set()));
  set.add(b.queue);
}

function indexRemove(x: ExchangeEntry, k: string, b: BindingEntry): void {
  if (x.spec.type === 'topic') {
    const last = lastPlainWord(b.routingKey);
    if (last === undefined) x.anyLastWord.delete(k);
    else {
      const m = x.byLastWord.get(last);
      m?.delete(k);
      if (m?.size === 0) x.byLastWord.delete(last);
    }
    return;
  }
  const set = x.byKey.get(b.routingKey);
  if (!set) return;
  set.delete(b.queue);
  if (set.size === 0) x.byKey.delete(b.routingKey);
}

export interface ConnectionEvents {
  consumerCancelled(tag: string): void;
  dropped(reason: string): void;
}

const sameQueueOptions = (a: QueueOptions, b: QueueOptions): boolean =>
  !!a.durable === !!b.durable &&
  !!a.autoDelete === !!b.autoDelete &&
  !!a.exclusive === !!b.exclusive &&
  a.maxLength === b.maxLength &&
  a.messageTtl === b.messageTtl &&
  a.maxPriority === b.maxPriority;

export class EmbeddedBroker {
  private readonly exchanges = new Map<string, ExchangeEntry>();
  private readonly queues = new Map<string, EmbeddedQueue>();
  private readonly connections = new Map<number, ConnectionEvents>();
  private readonly consumerQueue = new Map<string, string>();
  /** queue -> its bindings (`queue \0 routing key` -> exchange), so a queue's deletion
   *  unbinds it without scanning every exchange's bindings. */
  private readonly queueBindings = new Map<string, Map<string, ExchangeEntry>>();
  private nextConn = 0;
  private running = true;

  get isRunning(): boolean {
    return this.running;
  }

  connect(events: ConnectionEvents): number {
    if (!this.running) throw new Error('embedded broker is stopped (stopApp); connection refused');
    const id = ++this.nextConn;
    this.connections.set(id, events);
    return id;
  }

  disconnect(conn: number, reason: string, notify: boolean): void {
    const events = this.connections.get(conn);
    if (!events) return;
    this.connections.delete(conn);
    for (const q of [...this.queues.values()]) {
      for (const c of [...q.consumers]) if (c.connId === conn) this.removeConsumer(q, c.tag);
      if (q.ownerConn === conn && this.queues.get(q.name) === q) this.dropQueue(q.name, false);
    }
    if (notify) events.dropped(reason);
  }

  stopApp(): void {
    this.running = false;
    for (const id of [...this.connections.keys()]) this.disconnect(id, 'broker stopped (stop_app)', true);
    for (const [name, x] of this.exchanges) if (!x.spec.durable) this.exchanges.delete(name);
    for (const [name, q] of this.queues) if (!q.options.durable) this.dropQueue(name, false);
  }

  startApp(): void {
    this.running = true;
  }

  private requireConn(conn: number, operation: string): void {
    if (!this.connections.has(conn))
      throw new BusChannelError('CHANNEL_ERROR', operation, 'connection is closed');
  }

  assertExchange(conn: number, spec: ExchangeSpec): void {
    this.requireConn(conn, `assertExchange ${spec.name}`);
    checkName('assertExchange', 'exchange name', spec.name);
    const x = this.exchanges.get(spec.name);
    if (x) {
      if (x.spec.type !== spec.type)
        throw new BusChannelError(
          'PRECONDITION_FAILED',
          `assertExchange ${spec.name}`,
          `exchange exists with type ${x.spec.type}, not ${spec.type}`,
        );
      return;
    }
    if (spec.name === '' || spec.name.startsWith('amq.'))
      throw new BusChannelError('ACCESS_REFUSED', `assertExchange ${spec.name}`, 'reserved exchange name');
    this.exchanges.set(spec.name, {
      spec,
      bindings: new Map(),
      byKey: new Map(),
      byLastWord: new Map(),
      anyLastWord: new Map(),
    });
  }

  deleteExchange(conn: number, name: string): void {
    this.requireConn(conn, `deleteExchange ${name}`);
    checkName('deleteExchange', 'exchange name', name);
    if (name === '' || name.startsWith('amq.'))
      throw new BusChannelError('ACCESS_REFUSED', `deleteExchange ${name}`, 'reserved exchange name');
    this.exchanges.delete(name);
  }

  assertQueue(conn: number, name: string, options: QueueOptions): void {
    if (!this.connections.has(conn)) this.requireConn(conn, `assertQueue ${name}`);
    checkName('assertQueue', 'queue name', name);
    const q = this.queues.get(name);
    if (q) {
      if (q.ownerConn !== undefined && q.ownerConn !== conn)
        throw new BusChannelError(
          'RESOURCE_LOCKED',
          `assertQueue ${name}`,
          'exclusive queue of another connection',
        );
      if (!sameQueueOptions(q.options, options))
        throw new BusChannelError(
          'PRECONDITION_FAILED',
          `assertQueue ${name}`,
          'queue exists with other options',
        );
      return;
    }
    this.queues.set(name, new EmbeddedQueue(name, options, options.exclusive ? conn : undefined));
  }

  /** `what` names the operation in a name's error; `operation()`, in the broker's refusals. */
  private queueFor(conn: number, name: string, what: string, operation: () => string): EmbeddedQueue {
    if (!this.connections.has(conn)) this.requireConn(conn, operation());
    checkName(what, 'queue name', name);
    const q = this.queues.get(name);
    if (!q) throw new BusChannelError('NOT_FOUND', operation(), `no queue '${name}'`);
    if (q.ownerConn !== undefined && q.ownerConn !== conn)
      throw new BusChannelError('RESOURCE_LOCKED', operation(), 'exclusive queue of another connection');
    return q;
  }

  private exchangeFor(name: string, operation: () => string): ExchangeEntry {
    const x = this.exchanges.get(name);
    if (!x) throw new BusChannelError('NOT_FOUND', operation(), `no exchange '${name}'`);
    return x;
  }

  checkQueue(conn: number, name: string): QueueStatus {
    const q = this.queueFor(conn, name, 'checkQueue', () => `checkQueue ${name}`);
    return { queue: name, ...q.status() };
  }

  deleteQueue(conn: number, name: string): void {
    if (!this.connections.has(conn)) this.requireConn(conn, `deleteQueue ${name}`);
    checkName('deleteQueue', 'queue name', name);
    const q = this.queues.get(name);
    if (!q) return;
    if (q.ownerConn !== undefined && q.ownerConn !== conn)
      throw new BusChannelError(
        'RESOURCE_LOCKED',
        `deleteQueue ${name}`,
        'exclusive queue of another connection',
      );
    this.dropQueue(name, true);
  }

  private dropQueue(name: string, notifyConsumers: boolean): void {
    const q = this.queues.get(name);
    if (!q) return;
    this.queues.delete(name);
    for (const [k, x] of this.queueBindings.get(name) ?? []) {
      const b = x.bindings.get(k);
      if (!b) continue; // its exchange was deleted (and maybe declared again) since
      x.bindings.delete(k);
      indexRemove(x, k, b);
    }
    this.queueBindings.delete(name);
    for (const c of [...q.consumers]) {
      q.removeConsumer(c.tag);
      this.consumerQueue.delete(c.tag);
      if (notifyConsumers) this.connections.get(c.connId)?.consumerCancelled(c.tag);
    }
    q.clear();
  }

  bindQueue(conn: number, queue: string, exchange: string, routingKey: string): void {
    const operation = (): string => `bindQueue ${queue} <- ${exchange}/${routingKey}`;
    this.queueFor(conn, queue, 'bindQueue', operation);
    checkName('bindQueue', 'exchange name', exchange);
    checkName('bindQueue', 'routing key', routingKey);
    if (exchange === '')
      throw new BusChannelError('ACCESS_REFUSED', operation(), 'cannot bind to the default exchange');
    const x = this.exchangeFor(exchange, operation);
    const match: TopicMatcher =
      x.spec.type === 'fanout'
        ? () => true
        : x.spec.type === 'topic'
          ? compileTopic(routingKey)
          : (rk) => rk === routingKey;
    const b: BindingEntry = { queue, routingKey, match };
    const k = `${queue}\u0000${routingKey}`;
    const old = x.bindings.get(k);
    if (old) indexRemove(x, k, old);
    x.bindings.set(k, b);
    indexAdd(x, k, b);
    let mine = this.queueBindings.get(queue);
    if (!mine) this.queueBindings.set(queue, (mine = new Map()));
    mine.set(k, x);
  }

  unbindQueue(conn: number, queue: string, exchange: string, routingKey: string): void {
    const operation = (): string => `unbindQueue ${queue} <- ${exchange}/${routingKey}`;
    this.queueFor(conn, queue, 'unbindQueue', operation);
    checkName('unbindQueue', 'exchange name', exchange);
    checkName('unbindQueue', 'routing key', routingKey);
    const x = this.exchangeFor(exchange, operation);
    const k = `${queue}\u0000${routingKey}`;
    const b = x.bindings.get(k);
    if (!b) return;
    x.bindings.delete(k);
    indexRemove(x, k, b);
    this.queueBindings.get(queue)?.delete(k);
  }

  consume(
    conn: number,
    queue: string,
    tag: string,
    handler: DeliveryHandler,
    opts: ConsumeOptions,
    warn: (message: string) => void = () => undefined,
  ): void {
    const operation = (): string => `consume ${queue}`;
    const q = this.queueFor(conn, queue, 'consume', operation);
    checkName('consume', 'consumer tag', tag);
    if (this.consumerQueue.has(tag))
      throw new BusChannelError('NOT_ALLOWED', operation(), `consumer tag ${tag} in use`);
    if (q.consumers.some((c) => c.exclusive) || (opts.exclusive && q.consumers.length > 0))
      throw new BusChannelError('ACCESS_REFUSED', operation(), 'queue in exclusive use');
    const c: EmbeddedConsumer = {
      tag,
      connId: conn,
      noAck: opts.noAck ?? true,
      prefetch: Math.max(1, opts.prefetch ?? 50),
      exclusive: opts.exclusive ?? false,
      handler,
      unacked: new Set(),
      warn,
    };
    this.consumerQueue.set(tag, queue);
    q.addConsumer(c);
  }

  cancel(conn: number, tag: string): void {
    if (!this.connections.has(conn)) this.requireConn(conn, `cancel ${tag}`);
    const name = this.consumerQueue.get(tag);
    const q = name === undefined ? undefined : this.queues.get(name);
    if (q) this.removeConsumer(q, tag);
  }

  private removeConsumer(q: EmbeddedQueue, tag: string): void {
    q.removeConsumer(tag);
    this.consumerQueue.delete(tag);
    if (q.options.autoDelete && q.hadConsumer && q.consumers.length === 0) this.dropQueue(q.name, false);
  }

  /**
   * Routes a message; returns how many queues got it. Throws NOT_FOUND for a missing
   * exchange. `checked`: the names and properties were checked already (the embedded link
   * passes true: RecoveringTransport checks every publish before it reaches a link).
   */
  publish(
    conn: number,
    exchange: string,
    routingKey: string,
    body: Buffer,
    properties: MessageProperties,
    checked = false,
  ): number {
    if (!this.connections.has(conn)) this.requireConn(conn, 'publish');
    if (!checked) checkPublish('publish', exchange, routingKey, properties);
    if (exchange === '') {
      const q = this.queues.get(routingKey);
      if (!q) return 0;
      q.enqueue(exchange, routingKey, body, properties);
      return 1;
    }
    const x = this.exchanges.get(exchange);
    if (!x)
      throw new BusChannelError(
        'NOT_FOUND',
        `publish ${exchange}/${routingKey}`,
        `no exchange '${exchange}'`,
      );
    let n = 0;
    if (x.spec.type === 'direct') {
      const set = x.byKey.get(routingKey);
      if (!set) return 0;
      for (const name of set) {
        const q = this.queues.get(name);
        if (!q) continue;
        q.enqueue(exchange, routingKey, body, properties);
        n++;
      }
      return n;
    }
    let seen: Set<string> | undefined;
    const deliver = (b: BindingEntry, words?: readonly string[]): void => {
      if (!b.match(routingKey, words)) return;
      if (seen?.has(b.queue)) return;
      (seen ??= new Set()).add(b.queue);
      const q = this.queues.get(b.queue);
      if (!q) return;
      q.enqueue(exchange, routingKey, body, properties);
      n++;
    };
    if (x.spec.type === 'topic') {
      const words = topicWords(routingKey);
      for (const b of x.anyLastWord.values()) deliver(b, words);
      const last = words[words.length - 1];
      if (last !== undefined) for (const b of x.byLastWord.get(last)?.values() ?? []) deliver(b, words);
    } else for (const b of x.bindings.values()) deliver(b);
    return n;
  }

  /** For logs and tests: how many messages each queue dropped at x-max-length. */
  droppedAtMaxLength(queue: string): number {
    return this.queues.get(queue)?.dropped ?? 0;
  }

  describe(): { exchanges: number; queues: number; connections: number } {
    return { exchanges: this.exchanges.size, queues: this.queues.size, connections: this.connections.size };
  }
}
