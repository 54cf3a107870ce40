/**
 * Requester: request/reply over the bus, as Kazoo's amqp worker (kz_amqp_worker).
 *
 * Contract
 * - `start()` declares an anonymous queue (Kazoo defaults: auto-delete, x-message-ttl 60 s;
 *   but no x-max-length: Kazoo's 100 bounds a worker with one request in flight, and this
 *   queue carries the replies of every call in flight in the process, so a burst of more
 *   than 100 answered faster than they are read would lose the oldest replies on the
 *   broker), binds it to `targeted` with routing key = its name, and consumes it (no ack).
 *   That name is the requester's Server-ID and survives reconnects. `queueOptions`
 *   overrides these.
 * - `call(request, target, opts)`: copies the request, sets Msg-ID when missing, moves an
 *   existing foreign Server-ID to Server-Queue-ID and sets Server-ID to its own queue, then
 *   publishes to `target`. Replies are matched on Msg-ID = the request's Msg-Reply-ID if it
 *   has one, else its Msg-ID. The first reply that passes `validate` (default: not an
 *   `error` category message) and is not `Defer-Response` resolves the call at once. A
 *   valid deferred reply is held and returned at the timeout if nothing better came. If
 *   only invalid replies came, the call rejects at the timeout with RequestRejectedError
 *   (carrying the first such reply); with none at all, RequestTimeoutError. Default timeout
 *   2000 ms.
 * - `callCollect(request, target, {until, timeoutMs})`: collects every valid reply. With
 *   `until`, resolves as soon as until(replies) is true and rejects with CollectTimeoutError
 *   (carrying the replies so far) at the timeout; without it, resolves with all replies at
 *   the timeout.
 * - `cast(request, target)`: publish only.
 * - A publish that fails rejects the call with that error (BusNotConnectedError, ...).
 * - Replies that are not JSON objects are counted and logged; replies to finished calls are
 *   counted as lateReplies (debug log).
 * - `stop()` rejects pending calls with BusClosedError and removes the queue.
 */
import type { Logger } from 'pino';
import { BusCounters } from './counters.ts';
import {
  decodeJson,
  describeMessage,
  encodeJson,
  jsonProperties,
  newMsgId,
  type DecodeResult,
  type Decoder,
  type Envelope,
} from './envelope.ts';
import { BusClosedError, CollectTimeoutError, RequestRejectedError, RequestTimeoutError } from './errors.ts';
import { DONE } from './done.ts';
import { kazooQueueOptions, type QueueOverrides } from './queue-defaults.ts';
import type { BusTransport, Delivery } from './types.ts';

/** Where a request goes: an exchange and routing key, or the catalogue's publish function. */
export type PublishTarget =
  | { readonly exchange: string; readonly routingKey: string; readonly confirmed?: boolean }
  | ((payload: Envelope) => Promise<void>);

export interface CallOptions {
  readonly timeoutMs?: number;
  /** true = a valid reply. Default: Event-Category is not 'error'. */
  readonly validate?: (reply: Envelope) => boolean;
}

export interface CollectOptions extends CallOptions {
  readonly until?: (replies: readonly Envelope[]) => boolean;
}

export interface RequesterOptions {
  readonly transport: BusTransport;
  readonly logger: Logger;
  readonly targetedExchange?: string;
  readonly timeoutMs?: number;
  readonly queueOptions?: QueueOverrides;
  readonly decode?: Decoder;
  readonly maxMessageBytes?: number;
  readonly counters?: BusCounters;
}

interface Pending {
  onReply(reply: Envelope): void;
}

const notError = (r: Envelope): boolean => r['Event-Category'] !== 'error';
const isDeferred = (r: Envelope): boolean => r['Defer-Response'] === true || r['Defer-Response'] === 'true';

export class Requester {
  readonly counters: BusCounters;
  private readonly t: BusTransport;
  private readonly log: Logger;
  private readonly pending = new Map<string, Pending>();
  private readonly cancels = new Set<(err: Error) => void>();
  private readonly targeted: string;
  private readonly timeoutMs: number;
  private readonly decode: Decoder;
  private readonly maxBytes: number;
  private queue: string | undefined;
  private consumerTag: string | undefined;
  private started: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: RequesterOptions) {
    this.t = opts.transport;
    this.log = opts.logger.child({ mod: 'requester' });
    this.counters = opts.counters ?? new BusCounters();
    this.targeted = opts.targetedExchange ?? 'targeted';
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.decode = opts.decode ?? decodeJson;
    this.maxBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  /** This requester's reply queue, i.e. the Server-ID it puts on requests. */
  get serverId(): string {
    if (this.queue === undefined) throw new Error('Requester.serverId read before start()');
    return this.queue;
  }

  start(): Promise<void> {
    return (this.started ??= (async () => {
      await this.t.assertExchange({ name: this.targeted, type: 'direct' });
      const q = await this.t.assertQueue(
        '',
        kazooQueueOptions(true, { maxLength: null, ...this.opts.queueOptions }),
      );
      this.queue = q;
      this.consumerTag = await this.t.consume(q, (d) => this.onDelivery(d), { noAck: true, exclusive: true });
      await this.t.bindQueue(q, this.targeted, q);
      this.log.debug({ queue: q }, 'requester: ready');
    })());
  }

  private onDelivery(d: Delivery): void {
    this.counters.received++;
    if (d.body.length > this.maxBytes) return this.invalid('too_big', d);
    let r: DecodeResult;
    try {
      r = this.decode(d.body, d.properties);
    } catch (err) {
      return this.invalid('decoder_threw', d, err instanceof Error ? err.message : String(err));
    }
    if (!r.ok) return this.invalid(r.reason, d, r.detail);
    const id = r.message['Msg-ID'];
    const p = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (!p) {
      this.counters.lateReplies++;
      this.log.debug(
        { msgId: id, what: describeMessage(r.message) },
        'requester: reply to no pending request (late or foreign); dropped',
      );
      return;
    }
    this.counters.handled++;
    p.onReply(r.message);
  }

  private invalid(reason: string, d: Delivery, detail?: string): void {
    this.counters.countInvalid(reason);
    this.log.warn(
      { reason, detail, routingKey: d.routingKey, bytes: d.body.length },
      'requester: invalid reply dropped',
    );
  }

  private prepare(request: Envelope): { req: Envelope; msgId: string; matchId: string } {
    const req: Envelope = { ...request };
    const given = req['Msg-ID'];
    const msgId = typeof given === 'string' && given !== '' ? given : newMsgId();
    req['Msg-ID'] = msgId;
    const own = this.serverId;
    const prior = req['Server-ID'];
    if (typeof prior === 'string' && prior !== '' && prior !== own) req['Server-Queue-ID'] = prior;
    req['Server-ID'] = own;
    const replyId = req['Msg-Reply-ID'];
    return { req, msgId, matchId: typeof replyId === 'string' && replyId !== '' ? replyId : msgId };
  }

  private send(req: Envelope, target: PublishTarget): Promise<void> {
    if (typeof target === 'function') return target(req);
    const body = encodeJson(req);
    const props = jsonProperties();
    return target.confirmed
      ? this.t.publishConfirmed(target.exchange, target.routingKey, body, props)
      : this.t.publish(target.exchange, target.routingKey, body, props);
  }

  cast(request: Envelope, target: PublishTarget): Promise<void> {
    return this.send({ ...request, 'Msg-ID': request['Msg-ID'] ?? newMsgId() }, target);
  }

  call(request: Envelope, target: PublishTarget, opts: CallOptions = {}): Promise<Envelope> {
    if (this.stopping) return Promise.reject(new BusClosedError('call'));
    const { req, msgId, matchId } = this.prepare(request);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const validate = opts.validate ?? notError;
    let deferred: Envelope | undefined;
    let negative: Envelope | undefined;
    let seen = 0;
    return this.exchange<Envelope>(req, matchId, target, timeoutMs, {
      onReply: (reply, settle) => {
        seen++;
        if (!validate(reply)) negative ??= reply;
        else if (isDeferred(reply)) deferred ??= reply;
        else settle(reply);
      },
      onTimeout: () =>
        deferred ??
        (negative
          ? new RequestRejectedError(msgId, describeMessage(req), negative)
          : new RequestTimeoutError(msgId, timeoutMs, describeMessage(req), seen)),
    });
  }

  callCollect(request: Envelope, target: PublishTarget, opts: CollectOptions = {}): Promise<Envelope[]> {
    if (this.stopping) return Promise.reject(new BusClosedError('callCollect'));
    const { req, msgId, matchId } = this.prepare(request);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const validate = opts.validate ?? notError;
    const until = opts.until;
    const replies: Envelope[] = [];
    return this.exchange<Envelope[]>(req, matchId, target, timeoutMs, {
      onReply: (reply, settle) => {
        if (!validate(reply)) return;
        replies.push(reply);
        if (until?.(replies)) settle(replies);
      },
      onTimeout: () =>
        until ? new CollectTimeoutError(msgId, timeoutMs, describeMessage(req), replies) : replies,
    });
  }

  /**
   * Publishes `req` and waits for replies matched on `matchId`: `onReply` may settle the
   * call (a value resolves it, an Error rejects it); at the timeout `onTimeout` decides.
   * A failed publish or `stop()` rejects it. Settles once; the pending entry goes with it.
   */
  private exchange<T>(
    req: Envelope,
    matchId: string,
    target: PublishTarget,
    timeoutMs: number,
    h: { onReply(reply: Envelope, settle: (r: T | Error) => void): void; onTimeout(): T | Error },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const settle = (r: T | Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(matchId);
        this.cancels.delete(settle);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      const timer = setTimeout(() => settle(h.onTimeout()), timeoutMs);
      this.cancels.add(settle);
      this.pending.set(matchId, { onReply: (reply) => h.onReply(reply, settle) });
      const sent = this.send(req, target);
      if (sent !== DONE) sent.catch(settle); // DONE: published already, nothing can fail
    });
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const c of [...this.cancels]) c(new BusClosedError('request (requester stopped)'));
      try {
        if (this.consumerTag) await this.t.cancel(this.consumerTag);
        if (this.queue) await this.t.deleteQueue(this.queue);
      } catch (err) {
        this.log.warn({ err, queue: this.queue }, 'requester: cleanup at stop failed');
      }
    })());
  }
}
