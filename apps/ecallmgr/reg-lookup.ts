/**
 * reg_lookup: one per ecallmgr (registered as `ecallmgr_reg_lookup`). Finds where a SIP
 * device is registered when a bridge is dialled (Kazoo 4.3's ecallmgr_registrar): from the
 * registrations it heard announced, else with a reg_query on the bus answered by the
 * registrar.
 *
 * Contract
 * - `lookupContacts(rt, realm, username)`: the contacts (`sip:user@host:port;params`, the
 *   registrar's cleaned Bridge-RURI, else its Contact without display name and angle
 *   brackets) of the device's live registrations, newest answer first as the registrar
 *   lists them; `[]` when the registrar answers reg_query_error (nothing registered; with
 *   Error-Message, the registrar's look-up failed: logged at warn with its reason, as the
 *   registration is unknown rather than absent), does not answer within `timeoutMs`
 *   (default 2000, Kazoo's wait for a registration look-up), or the bus refuses the
 *   query. Every failure is logged with the realm and user, never thrown; a missing
 *   process answers `[]` with a log line.
 * - The registrations it heard: like Kazoo's ecallmgr_registrar, it binds its own queue
 *   (one per node) to every reg_success and reg_flush on `registrar`, and keeps per realm
 *   and user (both lower-cased, as the registrar keys them) the newest announced contact
 *   (cleaned as the registrar cleans it, src/api/contact.ts) until its Expires runs out.
 *   An unregister (Expires 0 or Status Unregistered) of that contact forgets it, as does
 *   a reg_flush of the realm (or of the user); a reg_success the registrar would refuse
 *   (no contact, bad Expires) changes nothing. A look-up it can answer from there sends no
 *   reg_query (one contact: the registrar keeps one registration per user, a new contact
 *   replacing the old). A look-up it cannot (the device registered before this node heard
 *   it, or its registration ran out) asks the registrar as above; the answer is not kept
 *   (Kazoo's insert_fetched_registration_locally, false by default). After a lost bus
 *   connection (announcements may have been missed) everything heard is forgotten.
 *   Expired entries are swept every SWEEP_MS.
 * - Each look-up the registrar answers runs beside the mailbox (one slow registrar never
 *   holds up another call's bridge): the call is answered later with GenServer.reply. The
 *   process owns its reply queue (a Requester) and its announcement queue (a
 *   ListenerCore); both go however it ends.
 */
import {
  GenServer,
  noreply,
  ok,
  unexpected,
  type GenServerBehaviour,
  type Logger,
  type Runtime,
} from '../../src/kernel/index.ts';
import {
  build,
  destination,
  regFlushKey,
  regSuccessKey,
  type Envelope as ApiEnvelope,
} from '../../src/api/index.ts';
import { busDecoder, busValidator } from '../../src/api/bus-adapters.ts';
import { cleanContact, isUnregister, regExpires } from '../../src/api/contact.ts';
import { ListenerCore, Requester, type Envelope, type ListenerOptions } from '../../src/bus/index.ts';
import { buildContext, type EcallmgrEnv } from './context.ts';

export const REG_LOOKUP = 'ecallmgr_reg_lookup';
const DEFAULT_TIMEOUT_MS = 2000;
/** How often registrations whose Expires ran out leave the table. */
export const SWEEP_MS = 60_000;

interface Heard {
  readonly contact: string;
  readonly expiresAt: number;
}

interface State {
  readonly env: EcallmgrEnv;
  readonly requester: Requester;
  readonly core: ListenerCore;
  readonly log: Logger;
  readonly timeoutMs: number;
  /** realm + NUL + user (lower case) -> the newest contact announced. */
  readonly heard: Map<string, Heard>;
  /** Look-ups answered from `heard`, and those that asked the registrar. */
  hits: number;
  queries: number;
}

/** What the announcement queue's responders send into the process, in arrival order. */
interface Announced {
  type: 'announced';
  msg: Envelope;
}

interface Lookup {
  type: 'lookup';
  realm: string;
  username: string;
}

/** A registration's contact as a SIP URI with no display name, brackets or header params. */
export function contactOf(fields: Record<string, unknown>): string | undefined {
  const ruri = fields['Bridge-RURI'];
  if (typeof ruri === 'string' && /^sips?:/i.test(ruri)) return ruri;
  const raw = fields.Contact;
  if (typeof raw !== 'string') return undefined;
  const m = /<?(sips?:[^>\s]+)>?/i.exec(raw);
  return m?.[1];
}

const userKey = (realm: string, username: string): string =>
  `${realm.toLowerCase()}\u0000${username.toLowerCase()}`;

/** A reg_success or reg_flush heard: the table follows it as the registrar's would. */
function hear(s: State, msg: Envelope, now: number): void {
  const realm = msg.Realm;
  if (typeof realm !== 'string') return;
  if (msg['Event-Name'] === 'reg_flush') {
    const user = msg.Username;
    if (typeof user === 'string' && user !== '') s.heard.delete(userKey(realm, user));
    else {
      const prefix = `${realm.toLowerCase()}\u0000`;
      for (const k of s.heard.keys()) if (k.startsWith(prefix)) s.heard.delete(k);
    }
    return;
  }
  const user = msg.Username;
  const contact = cleanContact(msg.Contact);
  const expires = regExpires(msg.Expires);
  if (typeof user !== 'string' || contact === undefined || expires === undefined) return;
  const key = userKey(realm, user);
  if (isUnregister(msg, expires)) {
    if (s.heard.get(key)?.contact === contact) s.heard.delete(key);
    return;
  }
  s.heard.set(key, { contact, expiresAt: now + expires * 1000 });
}

function sweep(s: State, now: number): void {
  for (const [k, h] of s.heard) if (h.expiresAt <= now) s.heard.delete(k);
}

async function query(s: State, realm: string, username: string): Promise<string[]> {
  const log = s.log.child({ realm, user: username });
  let req: Envelope;
  try {
    req = build(
      'reg_query',
      { Realm: realm, Username: username, Fields: ['Contact', 'Bridge-RURI'] },
      buildContext(s.env),
    ) as unknown as Envelope;
  } catch (err) {
    log.warn({ err: String(err) }, 'reg_query could not be built');
    return [];
  }
  const d = destination('reg_query', req as unknown as ApiEnvelope);
  try {
    const reply = await s.requester.call(
      req,
      { exchange: d.exchange, routingKey: d.routingKey },
      { timeoutMs: s.timeoutMs, validate: () => true },
    );
    if (reply['Event-Name'] === 'reg_query_error' && typeof reply['Error-Message'] === 'string') {
      log.warn(
        { reason: reply['Error-Message'] },
        'registrar could not look the device up: its registration is unknown, not absent',
      );
      return [];
    }
    if (reply['Event-Name'] !== 'reg_query_resp') {
      log.info({ reply: reply['Event-Name'] }, 'registrar: no registration for the device');
      return [];
    }
    const regs = Array.isArray(reply.Fields) ? (reply.Fields as Array<Record<string, unknown>>) : [];
    return regs.map(contactOf).filter((c): c is string => c !== undefined);
  } catch (err) {
    log.warn({ err: String(err) }, 'reg_query unanswered: the device counts as unregistered');
    return [];
  }
}

export async function lookupContacts(rt: Runtime, realm: string, username: string): Promise<string[]> {
  try {
    return await GenServer.call<string[]>(rt, REG_LOOKUP, { type: 'lookup', realm, username }, 10_000);
  } catch (err) {
    rt.log.error({ err: String(err), realm, user: username }, 'reg_lookup unreachable');
    return [];
  }
}

export const RegLookup: GenServerBehaviour<State, { env: EcallmgrEnv; timeoutMs?: number }> = {
  name: 'ecallmgr_reg_lookup',

  async init(a, ctx) {
    ctx.trapExit(true);
    const timeoutMs = a.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const requester = new Requester({ transport: a.env.bus, logger: ctx.log, timeoutMs });
    const self = ctx.self;
    const rt = ctx.runtime;
    const announced = (msg: Envelope): void => rt.send(self, { type: 'announced', msg } satisfies Announced);
    const core = new ListenerCore({
      transport: a.env.bus,
      logger: ctx.log,
      name: 'reg_lookup',
      queue: '',
      selfBinding: false,
      // declared as Kazoo declares it (non-durable topic), in case no node has yet
      exchanges: [{ name: 'registrar', type: 'topic' }],
      bindings: [
        { exchange: 'registrar', routingKey: regSuccessKey('*', '*') },
        { exchange: 'registrar', routingKey: regFlushKey('*') },
      ],
      decode: busDecoder({ maxBytes: 1 << 20 }) as ListenerOptions['decode'],
      validate: busValidator as ListenerOptions['validate'],
      responders: [
        { category: 'directory', name: 'reg_success', handler: announced },
        { category: 'directory', name: 'reg_flush', handler: announced },
      ],
    });
    // terminate does not run when the process is killed: the queues and consumers go
    // however it ends (else each kill leaves one consuming for ever).
    void rt.awaitExit(self).then(() => Promise.all([requester.stop(), core.stop().catch(() => undefined)]));
    core.on('consuming', (e: { recovered?: boolean }) => {
      if (e.recovered === true) rt.send(self, 'reconnected');
    });
    await requester.start();
    await core.start();
    ctx.sendAfter(SWEEP_MS, 'sweep');
    return ok({
      env: a.env,
      requester,
      core,
      log: ctx.log,
      timeoutMs,
      heard: new Map(),
      hits: 0,
      queries: 0,
    });
  },

  handleInfo(raw, s, ctx) {
    const m = raw as Announced | 'sweep' | 'reconnected';
    if (m === 'sweep') {
      sweep(s, Date.now());
      ctx.sendAfter(SWEEP_MS, 'sweep');
    } else if (m === 'reconnected') {
      if (s.heard.size > 0)
        s.log.info({ forgotten: s.heard.size }, 'bus reconnected: registrations heard before are forgotten');
      s.heard.clear();
    } else if (m?.type === 'announced') hear(s, m.msg, Date.now());
    else return unexpected(raw, s);
    return noreply(s);
  },

  handleCall(req, from, s) {
    const m = req as Lookup;
    if (m?.type !== 'lookup' || typeof m.realm !== 'string' || typeof m.username !== 'string') {
      s.log.warn({ request: String(m?.type) }, 'reg_lookup: unknown request');
      GenServer.reply(from, []);
      return noreply(s);
    }
    const heard = s.heard.get(userKey(m.realm, m.username));
    if (heard !== undefined && heard.expiresAt > Date.now()) {
      s.hits++;
      GenServer.reply(from, [heard.contact]);
      return noreply(s);
    }
    s.queries++;
    void query(s, m.realm, m.username).then((contacts) => GenServer.reply(from, contacts));
    return noreply(s);
  },

  async terminate(_reason, s) {
    await Promise.all([s.requester.stop(), s.core.stop().catch(() => undefined)]);
  },

  describe: (s) => ({ timeout_ms: s.timeoutMs, heard: s.heard.size, hits: s.hits, queries: s.queries }),
};
