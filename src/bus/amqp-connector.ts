/**
 * AmqpConnector: makes AmqpLinks (amqp-link.ts) for RabbitMQ.
 *
 * - Tries the configured URLs in turn, starting with the last one that worked; rejects
 *   with every broker's reason (credentials stripped) when none answers.
 * - Sockets use `noDelay: true` (without it loopback request/reply costs ~44 ms per round
 *   trip: Nagle's algorithm meets delayed ACKs), heartbeats (default 10 s, added to the URL unless it sets
 *   `heartbeat`) and a connect timeout (default 5 s). The connection is named
 *   (`connection_name` client property) so an operator can find it in rabbitmqctl.
 */
import type { Logger } from 'pino';
import { AmqpLink, errMessage } from './amqp-link.ts';
import { redactUrl } from './broker-url.ts';
import type { Connector, Link, LinkHooks } from './link.ts';

export interface AmqpConnectorOptions {
  readonly urls: readonly string[];
  readonly logger: Logger;
  /** Heartbeat interval in seconds, unless the URL sets one. Default 10. */
  readonly heartbeatSeconds?: number;
  /** Socket connect timeout. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Shown by `rabbitmqctl list_connections client_properties`. */
  readonly connectionName?: string;
}

export class AmqpConnector implements Connector {
  readonly description: string;
  private next = 0;
  private readonly log: Logger;

  constructor(private readonly opts: AmqpConnectorOptions) {
    if (opts.urls.length === 0) throw new Error('AmqpConnector needs at least one amqp:// URL');
    this.description = opts.urls.map(redactUrl).join(',');
    this.log = opts.logger.child({ mod: 'bus.amqp' });
  }

  async connect(hooks: LinkHooks): Promise<Link> {
    const n = this.opts.urls.length;
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      const url = this.opts.urls[idx];
      try {
        const link = await AmqpLink.open(url, this.opts, hooks, this.log);
        this.next = idx;
        return link;
      } catch (err) {
        failures.push(`${redactUrl(url)}: ${errMessage(err)}`);
        this.log.debug({ broker: redactUrl(url), err: errMessage(err) }, 'bus: broker did not accept the connection');
      }
    }
    throw new Error(`no broker reachable (${failures.join('; ')})`);
  }
}

