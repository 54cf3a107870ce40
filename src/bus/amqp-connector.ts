/**
 * AmqpConnector: makes AmqpLinks (amqp-link.ts) for RabbitMQ.
 *
 * - Tries the configured URLs in turn, starting with the last one that worked; rejects
 *   with every broker's reason (credentials stripped) when none answers.
 * - A broker that answers but refuses the login (403 ACCESS_REFUSED: wrong user or
 *   password) or the vhost (connection.open refused: no such vhost, or no permission) is a
 *   permanent failure: when every URL fails that way, connect rejects BusRefusedError,
 *   naming the user and vhost (never the password), and retrying would not help.
 * - Sockets use `noDelay: true` (without it loopback request/reply costs ~44 ms per round
 *   trip: Nagle's algorithm meets delayed ACKs), heartbeats (default 10 s, added to the URL unless it sets
 *   `heartbeat`) and a connect timeout (default 5 s). The connection is named
 *   (`connection_name` client property) so an operator can find it in rabbitmqctl.
 */
import type { Logger } from 'pino';
import { AmqpLink, errMessage } from './amqp-link.ts';
import { redactUrl } from './broker-url.ts';
import { BusRefusedError } from './errors.ts';
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
    const refused: BusRefusedError[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      const url = this.opts.urls[idx];
      try {
        const link = await AmqpLink.open(url, this.opts, hooks, this.log);
        this.next = idx;
        return link;
      } catch (err) {
        const r = refusal(url, err);
        if (r) refused.push(r);
        failures.push(`${redactUrl(url)}: ${r ? r.why : errMessage(err)}`);
        this.log.debug(
          { broker: redactUrl(url), err: errMessage(err) },
          'bus: broker did not accept the connection',
        );
      }
    }
    if (refused.length === n) throw refused[0]!;
    throw new Error(`no broker reachable (${failures.join('; ')})`);
  }
}

/** A login or vhost the broker refused (permanent), from amqplib's handshake errors. */
function refusal(url: string, err: unknown): BusRefusedError | undefined {
  const m = errMessage(err);
  let why: string;
  if (/^Handshake terminated by server: 403\b/.test(m))
    why = 'login refused: wrong user name or password (ACCESS_REFUSED)';
  else if (/^Handshake terminated by server: 530\b/.test(m)) why = 'connection not allowed (NOT_ALLOWED)';
  // amqplib reports a refused connection.open (unknown vhost, or no permission on it) only as this.
  else if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(m))
    why = 'the vhost does not exist or the user has no access to it';
  else return undefined;
  let user = 'guest';
  let vhost = '/';
  try {
    const u = new URL(url);
    user = decodeURIComponent(u.username) || 'guest';
    if (u.pathname.length > 1) vhost = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // parseBusUrl has checked the URL already; keep amqplib's defaults
  }
  return new BusRefusedError(user, vhost, redactUrl(url), why);
}
