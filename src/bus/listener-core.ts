/**
 * ListenerCore: the heart of gen_listener as a plain class. It owns one queue, its
 * bindings and its responders; GenListener (gen-listener.ts) is the gen_server around it
 * and adds only the process.
 *
 * Contract
 * - `start()`: declares `exchanges`, the queue (Kazoo defaults, queue-defaults.ts; '' =
 *   anonymous, client-generated name), starts consuming, then binds: the self binding
 *   (`targeted` exchange, routing key = queue name; default on for anonymous queues) and
 *   every `bindings` entry. Emits `created_queue` then `consuming`.
 * - Each delivery: too big (> maxMessageBytes) / not decodable / not valid (a decoder or
 *   validator that throws counts as `decoder_threw` / `validator_threw`) -> counted by
 *   reason, logged with the reason, emitted as `invalid`, and dropped; when the message had
 *   a Server-ID and an `errorReply` builder is given, the error message is published to
 *   `targeted`/Server-ID, unless that Server-ID cannot be a routing key (over 255 bytes:
 *   the log says no reply was possible). Valid -> every responder matching (Event-Category, Event-Name),
 *   wildcards `*` allowed, runs on a BoundedRunner (`concurrency`, default 32; backlog
 *   `maxBacklog`, default 10000, overflow counted and logged). No responder -> counted as
 *   unhandled (debug log). A responder that throws or rejects is logged with the message's
 *   category/name and counted; the listener carries on. If it failed with
 *   BusInvalidArgumentError (it built a name from the message that AMQP cannot carry), the
 *   requester also gets the error reply, as for an invalid message. Handlers run inside
 *   the message's Call-ID log context (its sync part), and `ctx.log` carries that call-id
 *   on every line, after an await too.
 * - `handleEvent` (optional) sees each valid message first, synchronously; 'ignore' skips
 *   the responders; a throw is logged and the responders run anyway.
 * - ackMode 'auto' (default, Kazoo's no_ack): the broker forgets the message on delivery.
 *   'after-handlers': acked once every responder finished (prefetch bounds the in-flight
 *   work); 'manual': responders call ctx.delivery.ack()/nack().
 * - addBinding/removeBinding and addResponder/removeResponder work at any time, before or
 *   after start; bindings are remembered by the transport and restored after a reconnect.
 * - After a reconnect the transport re-declares the queue (same name), re-binds and
 *   re-consumes; the listener emits `consuming` with `recovered: true`. Its responders,
 *   counters and bindings are untouched.
 * - `start()` that fails (e.g. a binding to an exchange nobody declared: NOT_FOUND) rejects
 *   with that error after cancelling what it had set up; the listener is then unusable.
 * - `stop()`: cancels the consumer, waits for running handlers, deletes an anonymous queue.
 *   Idempotent. Start and stop wait only for the transport's steps that are not already
 *   done (DONE, done.ts): on the embedded broker a per-call listener's start awaits two
 *   steps (queue, consumer) and its stop none when no handler runs. A stop() during a start waits for that start to settle; if the start fails,
 *   both settle (the start rejects, the stop resolves) and the teardown runs once.
 * - `takeOver: true` (a named queue only; Kazoo's call_control restarted on its call's
 *   control queue): one listener at a time consumes that queue on this transport. A start
 *   waits until the previous such listener of the queue has stopped (its consumer
 *   cancelled, however its process ended) before it declares and consumes, so a restarted
 *   process never shares the queue with its dead predecessor. `ListenerCore.released(t,
 *   queue)` resolves once the current one has stopped (at once when there is none).
 * - `park()` (a restart in an app upgrade): the listener stops handling deliveries but
 *   keeps its consumer and queue: what arrives waits, in order, in the listener; running
 *   handlers finish; `stop()` then only waits for them. A take-over successor no longer
 *   waits for it. The ParkedListener is given to the successor's `handedOver`: a start on
 *   the same queue (the same name, or both generated) keeps the queue (and its generated
 *   name), binds its own bindings, unbinds the predecessor's it does not list, and then
 *   takes the predecessor's consumer and what waited (same ack mode), or (another ack
 *   mode) consumes on its own and has the predecessor stop after its responders handled
 *   what waited. Its stop deletes an anonymous queue it took over. A start on another
 *   queue leaves the ParkedListener pending; `release()` gives what waited to the old
 *   responders and stops the old listener as `stop()` does.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { currentCallId, lazyChild, withCallId } from '../kernel/log.ts';
import { BoundedRunner } from './bounded-runner.ts';
import { BusCounters } from './counters.ts';
import {
  decodeJson,
  describeMessage,
  encodeJson,
  jsonProperties,
  validateEnvelope,
  type DecodeResult,
  type Decoder,
  type Envelope,
  type Validator,
} from './envelope.ts';
import { kazooQueueOptions, type QueueOverrides } from './queue-defaults.ts';
import { ResponderTable } from './responder-table.ts';
import { shortStrProblem } from './names.ts';
import { BusInvalidArgumentError } from './errors.ts';
import { DONE } from './done.ts';
import type { BusTransport, Delivery, ExchangeSpec } from './types.ts';

export interface ListenerBinding {
  readonly exchange: string;
  readonly routingKey: string;
}

export interface HandlerContext {
  readonly listener: ListenerCore;
  readonly queue: string;
  readonly delivery: Delivery;
  readonly log: Logger;
  /** Publishes `payload` to `targeted` with the request's Server-ID as routing key. */
  reply(payload: Envelope): Promise<void>;
}

export type Handler = (message: Envelope, ctx: HandlerContext) => void | Promise<void>;

export interface ResponderSpec {
  readonly category: string;
  readonly name: string;
  readonly handler: Handler;
}

export type AckMode = 'auto' | 'after-handlers' | 'manual';

export interface ListenerOptions {
  readonly transport: BusTransport;
  readonly logger: Logger;
  /** For logs. Default: the queue name. */
  readonly name?: string;
  /** Fields every log line of the listener carries (e.g. the call_id of a call's listener). */
  readonly logBindings?: Record<string, unknown>;
  /** '' (default) = anonymous queue with a client-generated name. */
  readonly queue?: string;
  readonly queueOptions?: QueueOverrides;
  readonly exchanges?: readonly ExchangeSpec[];
  readonly bindings?: readonly ListenerBinding[];
  readonly responders?: readonly ResponderSpec[];
  /** Bind to `targeted` with routing key = queue name. Default: true for anonymous queues. */
  readonly selfBinding?: boolean;
  readonly targetedExchange?: string;
  readonly ackMode?: AckMode;
  readonly prefetch?: number;
  readonly exclusiveConsumer?: boolean;
  readonly concurrency?: number;
  readonly maxBacklog?: number;
  /** Default 4 MiB. */
  readonly maxMessageBytes?: number;
  readonly decode?: Decoder;
  readonly validate?: Validator;
  /** Builds the error reply for an invalid message that had a Server-ID (the catalogue's error_resp). */
  readonly errorReply?: (request: Envelope, reason: string) => Envelope | undefined;
  readonly counters?: BusCounters;
  /**
   * Kazoo's handle_event: called synchronously for each valid message before the
   * responders. Returning 'ignore' skips the responders; a throw is logged and the
   * responders still run (as in Kazoo). The gen_listener wrapper uses it to feed its module.
   */
  readonly handleEvent?: (message: Envelope, delivery: Delivery) => 'ignore' | void;
  /** One listener at a time on this named queue: wait for the previous one to stop first. */
  readonly takeOver?: boolean;
  /** What a predecessor parked (`park()`): its queue and consumer, taken over at start. */
  readonly handedOver?: ParkedListener;
}

/**
 * A stopped listener's queue and consumer, kept for a successor (`ListenerCore.park`).
 * `release()`: nobody takes them: the deliveries parked meanwhile go to the old
 * responders and the listener stops as `stop()` would have.
 */
export interface ParkedListener {
  readonly queue: string;
  /** Its queue had a generated name (the listener asked for ''). */
  readonly anonymous: boolean;
  /** Its consumer is noAck (ackMode 'auto'). */
  readonly noAck: boolean;
  /** Still parked: neither taken over nor released. */
  pending(): boolean;
  release(): Promise<void>;
  /** @internal The successor takes the consumer and the queue over. */
  readonly from: ListenerCore;
}

/** Per transport, per named queue: when its current take-over listener will have stopped. */
const holders = new WeakMap<BusTransport, Map<string, Promise<void>>>();

/**
 * Per transport, the started cores that follow its `ready` / `lost`, in the order they
 * started: one listener of each on the transport, however many cores (per-call listeners
 * come and go by the thousand: EventEmitter's `off` is linear in its listeners, and past
 * 10 of them Node warns of a leak).
 */
const followers = new WeakMap<BusTransport, Set<ListenerCore>>();

export interface ListenerEvents {
  created_queue: [queue: string];
  consuming: [info: { queue: string; recovered: boolean }];
  invalid: [info: { reason: string; routingKey: string; detail?: string }];
  handler_error: [info: { err: unknown; category: string; name: string }];
}

const TARGETED: ExchangeSpec = { name: 'targeted', type: 'direct' };

export class ListenerCore extends EventEmitter<ListenerEvents> {
  readonly counters: BusCounters;
  private readonly t: BusTransport;
  private readonly log: Logger;
  private readonly responders = new ResponderTable<Handler>();
  private readonly bindings = new Map<string, ListenerBinding>();
  private readonly runner: BoundedRunner;
  private readonly decode: Decoder;
  private readonly validate: Validator;
  private readonly maxBytes: number;
  private readonly ackMode: AckMode;
  private readonly targeted: string;
  private queueName: string | undefined;
  private consumerTag: string | undefined;
  private started: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private tornDown: Promise<void> | undefined;
  private consumingNow = false;
  /** doStart ran to its end (start() settles a turn later). */
  private startDone = false;
  /** Parked (`park()`): the deliveries that came since, waiting for the successor. */
  private parkedDeliveries: Delivery[] | undefined;
  /** Handed over: deliveries of the consumer go to the successor. */
  private forward: ((d: Delivery) => void) | undefined;
  /** Deletes its anonymous queue at stop (false once handed over, or when it was a predecessor's). */
  private ownsQueue = true;
  private readonly onReady = (info: { recovered: boolean }): void => {
    if (!info.recovered || !this.consumerTag || this.stopped || !this.queueName) return;
    this.consumingNow = true;
    this.log.info(
      { queue: this.queueName, bindings: this.bindings.size },
      'listener: consuming again after reconnect',
    );
    this.emit('consuming', { queue: this.queueName, recovered: true });
  };
  private readonly onLost = (): void => {
    this.consumingNow = false;
  };

  /** `core` follows its transport's ready / lost (see `followers`). */
  private static follow(core: ListenerCore): void {
    let cores = followers.get(core.t);
    if (cores === undefined) {
      const set = (cores = new Set());
      followers.set(core.t, set);
      // a copy: a core may stop (and leave the set) in what it does on the event
      core.t.on('ready', (info) => {
        for (const c of [...set]) c.onReady(info);
      });
      core.t.on('lost', () => {
        for (const c of [...set]) c.onLost();
      });
    }
    cores.add(core);
  }

  constructor(private readonly opts: ListenerOptions) {
    super();
    this.t = opts.transport;
    this.counters = opts.counters ?? new BusCounters();
    this.log = opts.logger.child({
      ...opts.logBindings,
      mod: 'listener',
      listener: opts.name ?? (opts.queue || 'anonymous'),
    });
    this.decode = opts.decode ?? decodeJson;
    this.validate = opts.validate ?? validateEnvelope;
    this.maxBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
    this.ackMode = opts.ackMode ?? 'auto';
    this.targeted = opts.targetedExchange ?? TARGETED.name;
    this.runner = new BoundedRunner(opts.concurrency ?? 32, opts.maxBacklog ?? 10_000, (err) =>
      this.log.error({ err }, 'listener: task failed outside a responder'),
    );
    for (const r of opts.responders ?? []) this.responders.add(r.category, r.name, r.handler);
    for (const b of opts.bindings ?? []) this.bindings.set(`${b.exchange}\u0000${b.routingKey}`, b);
  }

  /** The queue name (its Server-ID); undefined before start. */
  get queue(): string | undefined {
    return this.queueName;
  }

  get isConsuming(): boolean {
    return this.consumingNow;
  }

  /** Resolves once the current take-over listener of `queue` on `t` has stopped. */
  static released(t: BusTransport, queue: string): Promise<void> {
    return holders.get(t)?.get(queue) ?? Promise.resolve();
  }

  start(): Promise<void> {
    if (this.started === undefined && this.opts.takeOver === true) return this.takeOverStart();
    return (this.started ??= this.doStart().catch((err: unknown) => this.undoFailedStart(err)));
  }

  /** A failed start tears down what it set up itself: it must not wait on `stop()`, which
   *  (called while the start was under way) is itself waiting for the start to settle. */
  private async undoFailedStart(err: unknown): Promise<never> {
    this.log.error({ err, queue: this.queueName }, 'listener: start failed; undoing what was declared');
    await this.tearDown();
    throw err;
  }

  /** doStop, at most once, whoever asks first (a failed start or stop()). */
  private tearDown(): Promise<void> {
    return (this.tornDown ??= this.doStop());
  }

  /** Takes the queue's place at once (a later start waits for this one), then waits for the
   *  previous holder to stop before starting. */
  private takeOverStart(): Promise<void> {
    const queue = this.opts.queue ?? '';
    if (queue === '') throw new Error('listener: takeOver needs a named queue');
    let byQueue = holders.get(this.t);
    if (byQueue === undefined) holders.set(this.t, (byQueue = new Map()));
    const previous = byQueue.get(queue);
    if (previous !== undefined)
      this.log.debug({ queue }, 'listener: waiting for the previous consumer of the queue to stop');
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    byQueue.set(queue, mine);
    this.released = () => {
      if (byQueue.get(queue) === mine) byQueue.delete(queue);
      done();
    };
    this.started = (previous ?? Promise.resolve())
      .then(() => this.doStart())
      .catch((err: unknown) => this.undoFailedStart(err));
    return this.started;
  }

  /** Set by a take-over start: tells the next listener of the queue that this one stopped. */
  private released: (() => void) | undefined;

  private async doStart(): Promise<void> {
    const o = this.opts;
    const anonymous = (o.queue ?? '') === '';
    const self = o.selfBinding ?? anonymous;
    const given = o.exchanges ?? [];
    const exchanges =
      self && !given.some((x) => x.name === this.targeted)
        ? [...given, { name: this.targeted, type: 'direct' as const }]
        : given;
    // An operation done at once answers DONE: no await, no promise (see done.ts).
    const declared = this.t.assertExchanges(exchanges);
    if (declared !== DONE) await declared;
    // The predecessor's queue when it is the same one (the same name, or both generated).
    const parked = this.opts.handedOver;
    const same =
      parked !== undefined && parked.pending() && (anonymous ? parked.anonymous : parked.queue === o.queue);
    let queue: string;
    if (same && anonymous) {
      queue = parked.queue;
      this.ownsQueue = false;
    } else queue = await this.t.assertQueue(o.queue ?? '', kazooQueueOptions(anonymous, o.queueOptions));
    this.queueName = queue;
    this.emit('created_queue', queue);
    ListenerCore.follow(this);
    const noAck = this.ackMode === 'auto';
    // Taking the predecessor's consumer comes last (nothing can fail after it); until then
    // it holds the queue (an auto-delete queue is never without a consumer).
    const takeConsumer = same && parked.noAck === noAck;
    if (!takeConsumer)
      this.consumerTag = await this.t.consume(queue, (d) => this.receive(d), {
        noAck,
        prefetch: o.prefetch ?? 50,
        exclusive: o.exclusiveConsumer ?? false,
      });
    if (self)
      this.bindings.set(`${this.targeted}\u0000${queue}`, { exchange: this.targeted, routingKey: queue });
    for (const b of [...this.bindings.values()]) {
      const bound = this.t.bindQueue(queue, b.exchange, b.routingKey);
      if (bound !== DONE) await bound;
    }
    if (same) await this.takeQueueFrom(parked.from, takeConsumer);
    this.startDone = true;
    this.consumingNow = true;
    this.log.info(
      { queue, bindings: this.bindings.size, responders: this.responders.size },
      'listener: consuming',
    );
    this.emit('consuming', { queue, recovered: false });
  }

  /** Deliveries of this core's consumer: its own, parked, or its successor's. */
  private receive(d: Delivery): void {
    if (this.forward !== undefined) return this.forward(d);
    if (this.parkedDeliveries !== undefined) {
      this.parkedDeliveries.push(d);
      return;
    }
    this.onDelivery(d);
  }

  /**
   * Stops handling deliveries and keeps the queue and consumer for a successor (a
   * restart in an upgrade, src/kernel/restart-handover.ts): what arrives waits, in order,
   * for the successor's start (`handedOver`) or for `release()`. Running handlers finish;
   * `stop()` then only waits for them. Undefined when it is not consuming (nothing to keep).
   */
  park(): ParkedListener | undefined {
    if (this.consumerTag === undefined || this.stopped !== undefined || this.queueName === undefined)
      return undefined;
    this.parkedDeliveries = [];
    followers.get(this.t)?.delete(this);
    this.consumingNow = false;
    // (a take-over successor must not wait for this one's stop)
    this.released?.();
    this.stopped = this.runner.idle();
    this.log.info({ queue: this.queueName }, 'listener: parked for its successor');
    return {
      queue: this.queueName,
      anonymous: (this.opts.queue ?? '') === '',
      noAck: this.ackMode === 'auto',
      pending: () => this.parkedDeliveries !== undefined,
      from: this,
      release: () => this.unpark(),
    };
  }

  /** Nobody took the parked queue over: the old responders get what waited, then stop. */
  private async unpark(): Promise<void> {
    const waiting = this.parkedDeliveries;
    if (waiting === undefined) return;
    this.parkedDeliveries = undefined;
    this.log.info({ queue: this.queueName, waiting: waiting.length }, 'listener: parked queue released');
    for (const d of waiting) this.onDelivery(d);
    await this.tearDown();
  }

  /** At a successor's start: the predecessor's bindings it does not list go, then its
   *  consumer (when `consumer`) and the deliveries parked on it come over, or (not the same
   *  ack mode) the predecessor's consumer stops after its old responders had what waited. */
  private async takeQueueFrom(old: ListenerCore, consumer: boolean): Promise<void> {
    const queue = this.queueName!;
    const mine = new Set([...this.bindings.keys()]);
    for (const [key, b] of old.bindings)
      if (!mine.has(key))
        await this.t
          .unbindQueue(queue, b.exchange, b.routingKey)
          .catch((err: unknown) =>
            this.log.warn(
              { err, exchange: b.exchange, routing_key: b.routingKey },
              'listener: could not unbind a binding its predecessor had',
            ),
          );
    if (!consumer) {
      old.ownsQueue = false;
      this.ownsQueue = true;
      return old.unpark();
    }
    const waiting = old.parkedDeliveries ?? [];
    old.parkedDeliveries = undefined;
    old.forward = (d) => this.receive(d);
    this.consumerTag = old.consumerTag;
    old.consumerTag = undefined;
    old.ownsQueue = false;
    this.ownsQueue = true;
    this.log.info({ queue, waiting: waiting.length }, "listener: took its predecessor's queue over");
    for (const d of waiting) this.receive(d);
  }

  async addBinding(b: ListenerBinding): Promise<void> {
    this.bindings.set(`${b.exchange}\u0000${b.routingKey}`, b);
    if (this.queueName && this.started) await this.t.bindQueue(this.queueName, b.exchange, b.routingKey);
  }

  async removeBinding(b: ListenerBinding): Promise<void> {
    this.bindings.delete(`${b.exchange}\u0000${b.routingKey}`);
    if (this.queueName && this.started) await this.t.unbindQueue(this.queueName, b.exchange, b.routingKey);
  }

  listBindings(): ListenerBinding[] {
    return [...this.bindings.values()];
  }

  addResponder(category: string, name: string, handler: Handler): void {
    this.responders.add(category, name, handler);
  }

  removeResponder(category: string, name: string, handler?: Handler): boolean {
    return this.responders.remove(category, name, handler);
  }

  private onDelivery(d: Delivery): void {
    this.counters.received++;
    if (d.body.length > this.maxBytes)
      return this.reject(d, 'too_big', undefined, `${d.body.length} bytes > ${this.maxBytes}`);
    let r: DecodeResult;
    try {
      r = this.decode(d.body, d.properties);
    } catch (err) {
      return this.reject(d, 'decoder_threw', undefined, err instanceof Error ? err.message : String(err));
    }
    if (!r.ok) return this.reject(d, r.reason, undefined, r.detail);
    const msg = r.message;
    let bad: string | undefined;
    try {
      bad = this.validate(msg);
    } catch (err) {
      return this.reject(d, 'validator_threw', msg, err instanceof Error ? err.message : String(err));
    }
    if (bad !== undefined) return this.reject(d, bad, msg);
    const category = msg['Event-Category'] as string;
    const name = msg['Event-Name'] as string;
    if (this.opts.handleEvent && this.callHandleEvent(msg, d, category, name) === 'ignore') {
      if (this.ackMode !== 'auto') d.ack();
      return;
    }
    const handlers = this.responders.match(category, name);
    if (handlers.length === 0) {
      this.counters.unhandled++;
      this.log.debug({ category, name, routingKey: d.routingKey }, 'listener: no responder for message');
      if (this.ackMode !== 'auto') d.ack();
      return;
    }
    if (!this.runner.run(() => this.dispatch(msg, d, handlers, category, name))) {
      this.counters.backlogDropped++;
      this.log.warn(
        { category, name, backlog: this.runner.waiting },
        'listener: handler backlog full; message dropped',
      );
      if (this.ackMode !== 'auto') d.nack(false);
    }
  }

  private callHandleEvent(msg: Envelope, d: Delivery, category: string, name: string): 'ignore' | void {
    try {
      return this.opts.handleEvent?.(msg, d);
    } catch (err) {
      this.log.error({ err, category, name }, 'listener: handleEvent threw; running the responders anyway');
      return undefined;
    }
  }

  private dispatch(
    msg: Envelope,
    d: Delivery,
    handlers: Handler[],
    category: string,
    name: string,
  ): void | Promise<void> {
    const callId = typeof msg['Call-ID'] === 'string' ? msg['Call-ID'] : undefined;
    const core = this.log;
    let log: Logger | undefined;
    const ctx: HandlerContext = {
      listener: this,
      queue: this.queueName ?? '',
      delivery: d,
      // the message's call-id on every line, after an await too (made on first use)
      get log() {
        return callId === undefined ? core : (log ??= lazyChild(core, {}, { lc: { callId } }));
      },
      reply: (payload) => this.replyTo(msg, payload),
    };
    const done = (): void => {
      this.counters.handled++;
      if (this.ackMode === 'after-handlers') d.ack();
    };
    const run = (): void | Promise<void> => {
      if (handlers.length > 1)
        return Promise.all(handlers.map((h) => this.runOne(h, msg, ctx, category, name))).then(done);
      const r = this.runOne(handlers[0], msg, ctx, category, name);
      return r === undefined ? done() : r.then(done);
    };
    // Enter a log context only when there is a call-id to carry (or one to clear).
    return callId === undefined && currentCallId() === undefined ? run() : withCallId(callId, run);
  }

  /** Runs one responder; synchronous when the responder is. Never throws or rejects. */
  private runOne(
    h: Handler,
    msg: Envelope,
    ctx: HandlerContext,
    category: string,
    name: string,
  ): void | Promise<void> {
    let r: void | Promise<void>;
    try {
      r = h(msg, ctx);
    } catch (err) {
      return this.failed(err, msg, category, name);
    }
    if (r instanceof Promise) return r.catch((err: unknown) => this.failed(err, msg, category, name));
    return undefined;
  }

  private failed(err: unknown, msg: Envelope, category: string, name: string): void {
    this.counters.handlerErrors++;
    const callId = msg['Call-ID'];
    this.log.error(
      {
        err,
        category,
        name,
        msgId: msg['Msg-ID'],
        ...(typeof callId === 'string' ? { call_id: callId } : {}),
      },
      'listener: responder failed; message skipped, listener carries on',
    );
    this.emit('handler_error', { err, category, name });
    // A value from the message that AMQP cannot carry (a routing key built from an over-long
    // field): the requester is told why, as for an invalid message.
    if (err instanceof BusInvalidArgumentError) this.sendErrorReply(msg, err.message);
  }

  /** Publishes a reply to the request's Server-ID on `targeted`. Rejects if the request had none. */
  replyTo(request: Envelope, payload: Envelope): Promise<void> {
    const to = request['Server-ID'];
    if (typeof to !== 'string' || to === '')
      return Promise.reject(new Error(`cannot reply to ${describeMessage(request)}: it has no Server-ID`));
    return this.t.publish(this.targeted, to, encodeJson(payload), jsonProperties());
  }

  private reject(d: Delivery, reason: string, msg: Envelope | undefined, detail?: string): void {
    this.counters.countInvalid(reason);
    this.log.warn(
      { reason, detail, routingKey: d.routingKey, exchange: d.exchange, bytes: d.body.length },
      'listener: invalid message dropped',
    );
    this.emit('invalid', { reason, routingKey: d.routingKey, detail });
    if (this.ackMode !== 'auto') d.ack();
    if (msg) this.sendErrorReply(msg, reason);
  }

  /** The catalogue's error reply to the request's Server-ID, when it has a usable one. */
  private sendErrorReply(msg: Envelope, reason: string): void {
    const serverId = msg['Server-ID'];
    if (typeof serverId !== 'string' || serverId === '' || !this.opts.errorReply) return;
    const unusable = shortStrProblem(serverId);
    if (unusable !== undefined) {
      this.log.warn(
        { reason, serverIdBytes: Buffer.byteLength(serverId) },
        `listener: no error reply sent: its Server-ID cannot be a routing key (it ${unusable})`,
      );
      return;
    }
    let err: Envelope | undefined;
    try {
      err = this.opts.errorReply(msg, reason);
    } catch (e) {
      this.log.error({ err: e, reason }, 'listener: the errorReply builder threw; no error reply sent');
      return;
    }
    if (!err) return;
    this.counters.errorReplies++;
    this.replyTo(msg, err).catch((e: unknown) =>
      this.log.warn({ err: e, reason }, 'listener: could not send the error reply'),
    );
  }

  stop(): Promise<void> {
    // A start that finished needs no waiting for (its promise settles a turn later).
    return (this.stopped ??=
      this.started === undefined || this.startDone
        ? this.tearDown()
        : this.started.catch(() => undefined).then(() => this.tearDown()));
  }

  /**
   * Cancels the consumer, waits for running handlers, deletes an anonymous queue, each
   * step failing softly (logged). Steps that answer DONE are not waited for: with the
   * embedded broker a listener with no handler running stops without a promise.
   */
  private doStop(): Promise<void> {
    followers.get(this.t)?.delete(this);
    this.consumingNow = false;
    const tag = this.consumerTag;
    this.consumerTag = undefined;
    let cancelled: Promise<void> = DONE;
    try {
      if (tag) cancelled = this.t.cancel(tag);
    } catch (err) {
      cancelled = Promise.reject(err);
    }
    if (cancelled === DONE) return this.stopWhenIdle();
    return cancelled
      .catch((err: unknown) => this.log.warn({ err }, 'listener: cancel failed at stop'))
      .then(() => this.stopWhenIdle());
  }

  private stopWhenIdle(): Promise<void> {
    const idle = this.runner.idle();
    return idle === DONE ? this.deleteAtStop() : idle.then(() => this.deleteAtStop());
  }

  private deleteAtStop(): Promise<void> {
    let deleted: Promise<void> = DONE;
    if (this.queueName && (this.opts.queue ?? '') === '' && this.ownsQueue) {
      try {
        deleted = this.t.deleteQueue(this.queueName);
      } catch (err) {
        deleted = Promise.reject(err);
      }
    }
    if (deleted === DONE) {
      this.stoppedNow();
      return DONE;
    }
    return deleted
      .catch((err: unknown) =>
        this.log.warn(
          { err, queue: this.queueName },
          'listener: could not delete its anonymous queue at stop',
        ),
      )
      .then(() => this.stoppedNow());
  }

  private stoppedNow(): void {
    if (this.log.isLevelEnabled('info'))
      this.log.info({ queue: this.queueName, counters: this.counters.snapshot() }, 'listener: stopped');
    this.released?.();
  }
}
