/**
 * Phone registrations on the bus: what Kamailio tells Kazoo's registrar when a SIP phone
 * registers (Kazoo 4.3 kamailio `registrar-role.cfg` publishes a `directory/reg_success`
 * on the `registrar` exchange, key `registration.success.<realm>.<user>`).
 *
 * Contract
 * - `register(user)` publishes a reg_success (Status Registered, First-Registration true,
 *   Expires = `expiresS`, Contact `<sip:user@contactHost:contactPort>` = the simulator),
 *   then publishes it again (First-Registration false) every `expiresS / 2` seconds, as a
 *   phone re-registers before its Expires runs out, until `unregister(user)`.
 * - `unregister(user)` stops the refreshes and publishes one reg_success with Status
 *   Unregistered and Expires 0 (the registrar drops the contact); nothing follows it.
 *   Registering a registered user again restarts its refresh cycle.
 * - Messages are built with the catalogue (src/api `build`), so they are what the
 *   registrar validates. A failed publish is logged at error with the user; it is retried
 *   at the next refresh. `close()` stops every timer (no unregister is sent: a switch that
 *   stops is a phone that vanishes, its registration expires).
 */
import { randomBytes } from 'node:crypto';
import { build, regSuccessKey } from '../api/index.ts';
import type { BusTransport } from '../bus/index.ts';
import { jsonProperties } from '../bus/envelope.ts';
import type { Logger } from '../kernel/log.ts';

export interface PhoneRegistrationOptions {
  bus: BusTransport;
  realm: string;
  contactHost: string;
  contactPort: number;
  expiresS: number;
  logger: Logger;
}

const CTX = { appName: 'fife-switch-sim', appVersion: '1.0.0', node: 'kamailio@fife-switch-sim' };

interface Registered {
  callId: string;
  timer: NodeJS.Timeout | undefined;
}

export class PhoneRegistrations {
  private readonly phones = new Map<string, Registered>();
  private closed = false;

  constructor(private readonly o: PhoneRegistrationOptions) {
    if (!Number.isFinite(o.expiresS) || o.expiresS <= 0)
      throw new Error(`registration expires must be a positive number of seconds, got ${o.expiresS}`);
  }

  contact(user: string): string {
    return `<sip:${user}@${this.o.contactHost}:${this.o.contactPort}>`;
  }

  register(user: string): void {
    if (this.closed) return;
    const old = this.phones.get(user);
    clearTimeout(old?.timer);
    const reg: Registered = { callId: old?.callId ?? randomBytes(12).toString('hex'), timer: undefined };
    this.phones.set(user, reg);
    this.publish(user, reg, {
      Status: 'Registered',
      Expires: this.o.expiresS,
      'First-Registration': old === undefined,
    });
    this.schedule(user, reg);
  }

  private schedule(user: string, reg: Registered): void {
    reg.timer = setTimeout(
      () => {
        if (this.phones.get(user) !== reg) return;
        this.publish(user, reg, {
          Status: 'Registered',
          Expires: this.o.expiresS,
          'First-Registration': false,
        });
        this.schedule(user, reg);
      },
      (this.o.expiresS * 1000) / 2,
    );
    reg.timer.unref();
  }

  unregister(user: string): boolean {
    const reg = this.phones.get(user);
    if (reg === undefined) return false;
    clearTimeout(reg.timer);
    this.phones.delete(user);
    this.publish(user, reg, { Status: 'Unregistered', Expires: 0, 'First-Registration': false });
    return true;
  }

  private publish(user: string, reg: Registered, fields: Record<string, unknown>): void {
    const { realm, contactHost, contactPort } = this.o;
    const msg = build(
      'reg_success',
      {
        ...fields,
        'Event-Timestamp': Math.floor(Date.now() / 1000),
        Contact: this.contact(user),
        'Original-Contact': this.contact(user),
        'Call-ID': reg.callId,
        Realm: realm,
        Username: user,
        'From-User': user,
        'From-Host': realm,
        'To-User': user,
        'To-Host': realm,
        'User-Agent': 'fife-switch-sim',
        'Network-IP': contactHost,
        'Network-Port': String(contactPort),
        'Source-IP': contactHost,
        'Source-Port': String(contactPort),
        'Proxy-Protocol': 'udp',
      },
      CTX,
    );
    const log = this.o.logger.child({ user, realm });
    void this.o.bus
      .publish('registrar', regSuccessKey(realm, user), JSON.stringify(msg), jsonProperties())
      .then(
        () => log.debug({ status: fields.Status }, 'reg_success published'),
        (err: unknown) => log.error({ err }, 'reg_success not published; retried at the next refresh'),
      );
  }

  registered(): string[] {
    return [...this.phones.keys()];
  }

  close(): void {
    this.closed = true;
    for (const reg of this.phones.values()) clearTimeout(reg.timer);
    this.phones.clear();
  }
}
