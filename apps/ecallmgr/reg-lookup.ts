/**
 * reg_lookup: one per ecallmgr (registered as `ecallmgr_reg_lookup`). Finds where a SIP
 * device is registered when a bridge is dialled, with a reg_query on the bus answered by
 * the registrar (Kazoo's ecallmgr_registrar:lookup_contact over kz_amqp_worker).
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
 * - Each look-up runs beside the mailbox (one slow registrar never holds up another
 *   call's bridge): the call is answered later with GenServer.reply. The process owns its
 *   reply queue (a Requester); it changes no state of its own after init.
 */
import {
  GenServer,
  noreply,
  ok,
  type GenServerBehaviour,
  type Logger,
  type Runtime,
} from '../../src/kernel/index.ts';
import { build, destination, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import { Requester, type Envelope } from '../../src/bus/index.ts';
import { buildContext, type EcallmgrEnv } from './context.ts';

export const REG_LOOKUP = 'ecallmgr_reg_lookup';
const DEFAULT_TIMEOUT_MS = 2000;

interface State {
  readonly env: EcallmgrEnv;
  readonly requester: Requester;
  readonly log: Logger;
  readonly timeoutMs: number;
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
    await requester.start();
    // terminate does not run when the process is killed: the requester's queue and
    // consumer go however it ends (else each kill leaves one consuming for ever).
    void ctx.runtime.awaitExit(ctx.self).then(() => requester.stop());
    return ok({ env: a.env, requester, log: ctx.log, timeoutMs });
  },

  handleCall(req, from, s) {
    const m = req as Lookup;
    if (m?.type !== 'lookup' || typeof m.realm !== 'string' || typeof m.username !== 'string') {
      s.log.warn({ request: String(m?.type) }, 'reg_lookup: unknown request');
      GenServer.reply(from, []);
      return noreply(s);
    }
    void query(s, m.realm, m.username).then((contacts) => GenServer.reply(from, contacts));
    return noreply(s);
  },

  async terminate(_reason, s) {
    await s.requester.stop();
  },

  describe: (s) => ({ timeout_ms: s.timeoutMs }),
};
