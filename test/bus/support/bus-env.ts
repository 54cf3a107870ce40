/**
 * What the shared behaviour suite needs from a backend: fresh transports on one broker,
 * a transport that cannot reach any broker, and a unique name prefix per test.
 * Every transport made through an env is closed by `closeAll()` (run after each test),
 * which also empties `lines`, so each test reads only its own log lines.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { memoryLogger } from '../../../src/kernel/log.ts';
import { createTransport, type CreateTransportOptions } from '../../../src/bus/create-transport.ts';
import type { EmbeddedBroker } from '../../../src/bus/embedded-broker.ts';
import type { RecoveringTransport } from '../../../src/bus/recovering-transport.ts';

export interface BusEnv {
  readonly kind: 'embedded' | 'rabbitmq';
  readonly logger: Logger;
  readonly lines: Array<Record<string, unknown>>;
  /** A started transport on the backend under test. */
  transport(opts?: Partial<CreateTransportOptions>): Promise<RecoveringTransport>;
  /** A transport pointed at a broker that is down (not started). */
  unreachable(opts?: Partial<CreateTransportOptions>): RecoveringTransport;
  /** A fresh prefix for exchange and queue names. */
  prefix(): string;
  closeAll(): Promise<void>;
}

export const FAST_BACKOFF = { initialMs: 20, maxMs: 500, factor: 2, jitter: 0.2 };

export function makeEnv(
  kind: 'embedded' | 'rabbitmq',
  url: string,
  broker: () => EmbeddedBroker | undefined,
  down: { url: string; broker?: () => EmbeddedBroker },
): BusEnv {
  const { logger, lines } = memoryLogger('bus-test@localhost', 'debug');
  const made: RecoveringTransport[] = [];
  const mk = (
    u: string,
    b: EmbeddedBroker | undefined,
    opts: Partial<CreateTransportOptions>,
  ): RecoveringTransport => {
    const t = createTransport({
      url: u,
      logger,
      embeddedBroker: b,
      backoff: FAST_BACKOFF,
      publishTimeoutMs: 10_000,
      startTimeoutMs: 10_000,
      namePrefix: `fife-test-${randomBytes(3).toString('hex')}`,
      ...opts,
    });
    made.push(t);
    return t;
  };
  return {
    kind,
    logger,
    lines,
    async transport(opts = {}) {
      const t = mk(url, broker(), opts);
      await t.start();
      return t;
    },
    unreachable(opts = {}) {
      return mk(down.url, down.broker?.(), opts);
    },
    prefix() {
      return `fife-test-${kind}-${randomBytes(4).toString('hex')}`;
    },
    async closeAll() {
      await Promise.all(made.splice(0).map((t) => t.close()));
      lines.length = 0;
    },
  };
}
