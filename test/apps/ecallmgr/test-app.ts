/**
 * A controlling app for the tests, on the bus only (as callflow would be): it answers
 * route_req (park, error, deferred or nothing, per test), receives route_win, records
 * every call event, dialplan error, error reply and node announcement in arrival order,
 * answers authn_req, and sends dialplan commands to a call's control queue.
 * Tests wait on what it records (`waitFor`), never on time.
 * A winner that is gone: `vanishOnRouteReq` (its listener stops, its queue deleted, then
 * it answers the first route_req park) or `serverId` (it answers park naming that queue).
 * `node` is the Node its route_resp names (another node's app, whose heartbeats a test
 * sends and stops).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { build, callEventKey, destination, type Envelope as ApiEnvelope } from '../../../src/api/index.ts';
import { busDecoder, busValidator } from '../../../src/api/bus-adapters.ts';
import {
  ListenerCore,
  encodeJson,
  jsonProperties,
  type BusTransport,
  type Envelope,
  type ListenerOptions,
} from '../../../src/bus/index.ts';

const CTX = { appName: 'test-callflow', appVersion: '4.0.0', node: 'test-app@localhost' };

export type RouteBehaviour = 'park' | 'error' | 'none' | 'deferred';

export class TestApp extends EventEmitter {
  readonly seen: Envelope[] = [];
  /** false: messages are not kept in `seen` (waits see only what arrives after them). */
  record = true;
  route: RouteBehaviour = 'park';
  /** With route 'park': answer Method bridge with these Routes instead. */
  bridgeRoutes: Array<Record<string, unknown>> | undefined;
  /** The first route_req stops this app (its queue deleted), then is answered park:
   *  the winner is gone before its route_win (a node killed right after it answered). */
  vanishOnRouteReq = false;
  /** Answers park with this Server-ID (a queue that does not exist) instead of its own. */
  serverId: string | undefined;
  /** The Node its route_resp names (the node whose heartbeats stand for this app's). */
  node = CTX.node;
  /** authn_req answers: user -> password (others get authn_err). */
  readonly passwords = new Map<string, string>();
  private core!: ListenerCore;

  constructor(
    private readonly bus: BusTransport,
    private readonly log: Logger,
    private readonly name = 'test-app',
  ) {
    super();
    this.setMaxListeners(0);
  }

  get queue(): string {
    return this.core.queue!;
  }

  async start(): Promise<this> {
    this.core = new ListenerCore({
      transport: this.bus,
      logger: this.log,
      name: this.name,
      bindings: [
        { exchange: 'callmgr', routingKey: 'route.req.#' },
        { exchange: 'callmgr', routingKey: 'authn.req.*' },
        { exchange: 'callevt', routingKey: callEventKey('*', '*') },
        { exchange: 'nodes', routingKey: '' },
      ],
      decode: busDecoder({ maxBytes: 1 << 20 }) as ListenerOptions['decode'],
      validate: busValidator as ListenerOptions['validate'],
      handleEvent: (m) => {
        if (this.record) this.seen.push(m);
        this.emit('message', m);
      },
      responders: [
        { category: 'dialplan', name: 'route_req', handler: (m, ctx) => this.onRouteReq(m, ctx.reply) },
        { category: 'directory', name: 'authn_req', handler: (m, ctx) => this.onAuthn(m, ctx.reply) },
      ],
    });
    await this.core.start();
    return this;
  }

  stop(): Promise<void> {
    return this.core.stop();
  }

  private async onRouteReq(m: Envelope, reply: (p: Envelope) => Promise<void>): Promise<void> {
    if (this.route === 'none') return;
    const fields: Record<string, unknown> = {
      'Msg-ID': m['Msg-ID'],
      'Server-ID': this.queue,
      Method: this.route === 'error' ? 'error' : this.bridgeRoutes !== undefined ? 'bridge' : 'park',
      Routes: this.route === 'park' ? (this.bridgeRoutes ?? []) : [],
    };
    if (this.route === 'error') fields['Route-Error-Code'] = 'CALL_REJECTED';
    if (this.route === 'deferred') fields['Defer-Response'] = 'true';
    if (this.serverId !== undefined) fields['Server-ID'] = this.serverId;
    const resp = build('route_resp', fields, { ...CTX, appName: this.name, node: this.node });
    if (!this.vanishOnRouteReq) return reply(resp as unknown as Envelope);
    this.vanishOnRouteReq = false;
    // Not awaited: stopping waits for this handler to finish.
    void this.stop()
      .then(() => {
        const d = destination('route_resp', resp, String(m['Server-ID']));
        return this.bus.publish(d.exchange, d.routingKey, encodeJson(resp as Envelope), jsonProperties());
      })
      .then(
        () => this.emit('vanished'),
        (err: unknown) => this.log.error({ err }, 'test app: could not answer after vanishing'),
      );
  }

  private async onAuthn(m: Envelope, reply: (p: Envelope) => Promise<void>): Promise<void> {
    const pw = this.passwords.get(String(m['Auth-User']));
    const id = pw === undefined ? 'authn_err' : 'authn_resp';
    const fields =
      pw === undefined
        ? { 'Msg-ID': m['Msg-ID'], 'Defer-Response': 'true' }
        : { 'Msg-ID': m['Msg-ID'], 'Auth-Method': 'password', 'Auth-Password': pw };
    await reply(build(id, fields, CTX) as unknown as Envelope);
  }

  /** The first recorded message matching `pred`, now or when it arrives. */
  waitFor(pred: (m: Envelope) => boolean, what = 'a message'): Promise<Envelope> {
    const found = this.seen.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', on);
        reject(new Error(`test app: timed out waiting for ${what}`));
      }, 15_000);
      const on = (m: Envelope): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.off('message', on);
        resolve(m);
      };
      this.on('message', on);
    });
  }

  waitEvent(callId: string, name: string, extra: (m: Envelope) => boolean = () => true): Promise<Envelope> {
    return this.waitFor(
      (m) =>
        m['Event-Category'] === 'call_event' &&
        m['Call-ID'] === callId &&
        m['Event-Name'] === name &&
        extra(m),
      `${name} of ${callId}`,
    );
  }

  events(callId: string): Envelope[] {
    return this.seen.filter((m) => m['Event-Category'] === 'call_event' && m['Call-ID'] === callId);
  }

  async routeWin(callId: string): Promise<string> {
    const win = await this.waitFor(
      (m) => m['Event-Name'] === 'route_win' && m['Call-ID'] === callId,
      `route_win of ${callId}`,
    );
    return String(win['Control-Queue']);
  }

  /** Publishes dialplan command `app` to the call's control queue. */
  async command(
    controlQueue: string,
    callId: string,
    app: string,
    fields: Record<string, unknown> = {},
  ): Promise<Envelope> {
    const msg = build(`dialplan.${app}`, { 'Call-ID': callId, 'Server-ID': this.queue, ...fields }, CTX);
    await this.raw(controlQueue, msg);
    return msg as unknown as Envelope;
  }

  /** Publishes anything to a control queue (invalid commands included). */
  raw(controlQueue: string, msg: Envelope | ApiEnvelope): Promise<void> {
    return this.bus.publish('callctl', controlQueue, encodeJson(msg as Envelope), jsonProperties());
  }
}
