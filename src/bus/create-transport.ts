/**
 * createTransport: picks the backend from a bus URL (FIFE_BUS_URL) and wraps it in a
 * RecoveringTransport.
 *
 * - `embedded` (default when the URL is unset or empty): the process-wide EmbeddedBroker
 *   (`defaultEmbeddedBroker()`), or the one passed as `embeddedBroker` (tests make their own).
 * - `amqp://...` / `amqps://...`, comma-separated: RabbitMQ over amqplib, brokers tried in turn.
 * - Anything else throws at once with a message that says what is accepted.
 * The returned transport is not started: call `start()`.
 */
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../kernel/backoff.ts';
import { AmqpConnector } from './amqp-connector.ts';
import { parseBusUrl } from './broker-url.ts';
import { EmbeddedBroker } from './embedded-broker.ts';
import { EmbeddedConnector } from './embedded-link.ts';
import { RecoveringTransport } from './recovering-transport.ts';

export interface CreateTransportOptions {
  /** Default: process.env.FIFE_BUS_URL, else 'embedded'. */
  readonly url?: string;
  readonly logger: Logger;
  readonly embeddedBroker?: EmbeddedBroker;
  readonly publishTimeoutMs?: number;
  readonly startTimeoutMs?: number;
  /** Reconnect delays; what is left out comes from BUS_BACKOFF. */
  readonly backoff?: Partial<BackoffPolicy>;
  readonly namePrefix?: string;
  readonly heartbeatSeconds?: number;
  readonly connectTimeoutMs?: number;
  /** Shown in RabbitMQ's connection list. Default 'fife <namePrefix or pid>'. */
  readonly connectionName?: string;
}

let shared: EmbeddedBroker | undefined;

/** The process-wide embedded broker that `embedded` URLs connect to. */
export function defaultEmbeddedBroker(): EmbeddedBroker {
  return (shared ??= new EmbeddedBroker());
}

export function createTransport(opts: CreateTransportOptions): RecoveringTransport {
  const parsed = parseBusUrl(opts.url ?? process.env.FIFE_BUS_URL);
  const connector =
    parsed.kind === 'embedded'
      ? new EmbeddedConnector({ broker: opts.embeddedBroker ?? defaultEmbeddedBroker(), logger: opts.logger })
      : new AmqpConnector({
          urls: parsed.urls,
          logger: opts.logger,
          heartbeatSeconds: opts.heartbeatSeconds,
          connectTimeoutMs: opts.connectTimeoutMs,
          connectionName: opts.connectionName ?? `fife ${opts.namePrefix ?? process.pid}`,
        });
  return new RecoveringTransport({
    connector,
    logger: opts.logger,
    publishTimeoutMs: opts.publishTimeoutMs,
    startTimeoutMs: opts.startTimeoutMs,
    backoff: opts.backoff,
    namePrefix: opts.namePrefix,
  });
}
