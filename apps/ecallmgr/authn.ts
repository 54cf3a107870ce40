/**
 * authn: one per switch (Kazoo's ecallmgr_fs_authn). A directory look-up from the switch
 * becomes an authn_req on the bus, the same contract the registrar answers.
 *
 * The switch side: a FreeSWITCH directory fetch arrives as a REQUEST_PARAMS event with
 * mod_kazoo's fetch headers (Fetch-UUID, Fetch-Section: directory) and the sofia
 * parameters (action sip_auth, sip_auth_username, sip_auth_realm, sip_auth_nonce,
 * sip_auth_response, sip_auth_method, sip_from_user/host, sip_to_user/host, ip,
 * sip_user_agent, sip_call_id). The answer goes back as a CUSTOM `fife::fetch_reply`
 * event (sendevent) carrying Fetch-UUID, Fetch-Section, Fetch-Result (found | not_found)
 * and, when found, Auth-Method, Auth-Password, Auth-User, Auth-Realm and the authn_resp's
 * Custom-Channel-Vars as the user's variables `variable_ecallmgr_<name>` (Kazoo's
 * ecallmgr_fs_xml authn_resp_xml puts them in the user's <variables> with that prefix, so
 * a call the user places carries them: Account-ID, Owner-ID, Authorizing-ID, ...). (FreeSWITCH's own
 * fetch reply is XML over mod_kazoo or mod_xml_curl, which an event socket cannot carry;
 * the simulator has no fetch binding, so this event is the reply's stand-in.)
 *
 * Contract
 * - `{type:'fetch', ev}`: Fetch-Section other than directory, or action other than
 *   sip_auth / reverse-auth-lookup: logged at debug and answered not_found. Otherwise
 *   authn_req (Msg-ID = Fetch-UUID, Auth-User lower-cased, Auth-Realm lower-cased, From,
 *   To, Method, Auth-Nonce, Auth-Response, Orig-IP, User-Agent, Call-ID) is published on
 *   `callmgr` with key authn.req.<realm> and the first valid non-deferred authn_resp (or a
 *   deferred one at the timeout) within authnTimeoutMs is the answer; authn_err, nothing,
 *   or an invalid event (no Fetch-UUID, no user or realm) is not_found, logged with why.
 * - Look-ups run beside the mailbox and change nothing of the process's state: each one
 *   reports back with a `{type:'answered'}` message, counted there. A failure is logged
 *   and never stops the process.
 */
import {
  noreply,
  ok,
  unexpected,
  type GenServerBehaviour,
  type ProcessContext,
} from '../../src/kernel/index.ts';
import { authnReqKey, build } from '../../src/api/index.ts';
import { Requester, type Envelope } from '../../src/bus/index.ts';
import type { EslEvent } from '../../src/switch/index.ts';
import { buildContext, type EcallmgrEnv, type SwitchLink } from './context.ts';
import { switchOp } from './node-ops.ts';
import { CCV_PREFIX } from './bridge-dial.ts';

export interface AuthnArgs {
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
}

interface State {
  readonly a: AuthnArgs;
  readonly requester: Requester;
  answered: number;
}

const ACTIONS = new Set(['sip_auth', 'reverse-auth-lookup']);

/** The authn_req fields of a directory fetch, or why it is not one. Pure. */
export function authnReqFields(h: Readonly<Record<string, string>>): Record<string, unknown> | string {
  if (h['Fetch-Section'] !== 'directory')
    return `not a directory fetch (section ${h['Fetch-Section'] ?? 'none'})`;
  if (!ACTIONS.has(h.action ?? ''))
    return `directory action ${h.action ?? 'none'} is not a credentials look-up`;
  const fetchId = h['Fetch-UUID'];
  const user = (h.sip_auth_username || h.user || '').toLowerCase();
  const realm = (h.sip_auth_realm || h.domain || '').toLowerCase();
  if (!fetchId) return 'directory fetch without Fetch-UUID';
  if (user === '' || realm === '') return 'directory fetch without user or realm';
  return {
    'Msg-ID': fetchId,
    'Auth-User': user,
    'Auth-Realm': realm,
    From: `${h.sip_from_user || user}@${h.sip_from_host || realm}`,
    To: `${h.sip_to_user || user}@${h.sip_to_host || realm}`,
    Method: h.sip_auth_method || (h.action === 'reverse-auth-lookup' ? 'reverse-lookup' : 'REGISTER'),
    'Auth-Nonce': h.sip_auth_nonce,
    'Auth-Response': h.sip_auth_response,
    'Orig-IP': h.ip,
    'User-Agent': h.sip_user_agent,
    'Call-ID': h.sip_call_id,
  };
}

async function lookup(s: State, ev: EslEvent, ctx: ProcessContext): Promise<void> {
  const h = ev.headers;
  const fields = authnReqFields(h);
  const log = ctx.log.child({ fetch_id: h['Fetch-UUID'], call_id: h.sip_call_id });
  let answer: Envelope | undefined;
  if (typeof fields === 'string') log.debug({ reason: fields }, 'fetch not answered from the bus');
  else {
    try {
      const req = build('authn_req', fields, buildContext(s.a.env));
      answer = await s.requester.call(
        req,
        { exchange: 'callmgr', routingKey: authnReqKey(String(fields['Auth-Realm'])) },
        {
          timeoutMs: s.a.env.settings.authnTimeoutMs,
          validate: (r) => r['Event-Name'] === 'authn_resp' && typeof r['Auth-Password'] === 'string',
        },
      );
    } catch (err) {
      log.info(
        {
          user: fields['Auth-User'],
          realm: fields['Auth-Realm'],
          why: err instanceof Error ? err.name : String(err),
        },
        'no credentials for the directory fetch: not_found',
      );
    }
  }
  const reply: Record<string, string> = {
    'Event-Subclass': 'fife::fetch_reply',
    'Fetch-UUID': h['Fetch-UUID'] ?? '',
    'Fetch-Section': h['Fetch-Section'] ?? '',
    'Fetch-Result': answer === undefined ? 'not_found' : 'found',
  };
  if (answer !== undefined) {
    reply['Auth-Method'] = String(answer['Auth-Method']);
    reply['Auth-Password'] = String(answer['Auth-Password']);
    reply['Auth-User'] = String((fields as Record<string, unknown>)['Auth-User']);
    reply['Auth-Realm'] = String((fields as Record<string, unknown>)['Auth-Realm']);
    const ccvs = answer['Custom-Channel-Vars'];
    if (ccvs !== null && typeof ccvs === 'object')
      for (const [k, v] of Object.entries(ccvs as Record<string, unknown>))
        if (v !== undefined && v !== null && typeof v !== 'object')
          reply[`variable_${CCV_PREFIX}${k}`] = String(v);
  }
  await switchOp(ctx.runtime, s.a.link, { kind: 'command', line: 'sendevent CUSTOM', headers: reply });
}

export const Authn: GenServerBehaviour<State, AuthnArgs> = {
  name: 'ecallmgr_authn',

  async init(a, ctx) {
    ctx.trapExit(true);
    const requester = new Requester({
      transport: a.env.bus,
      logger: ctx.log,
      timeoutMs: a.env.settings.authnTimeoutMs,
    });
    await requester.start();
    // terminate does not run when the process is killed: the requester's queue and
    // consumer go however it ends (else each kill leaves one consuming for ever).
    void ctx.runtime.awaitExit(ctx.self).then(() => requester.stop());
    return ok({ a, requester, answered: 0 });
  },

  handleInfo(raw, s, ctx) {
    const m = raw as { type?: string; ev?: EslEvent };
    if (m?.type === 'answered') {
      s.answered++;
      return noreply(s);
    }
    if (m?.type !== 'fetch' || m.ev === undefined) return unexpected(raw, s);
    const self = ctx.self;
    lookup(s, m.ev, ctx).then(
      () => ctx.send(self, { type: 'answered' }),
      (err: unknown) => ctx.log.warn({ err: String(err) }, 'directory fetch could not be answered'),
    );
    return noreply(s);
  },

  async terminate(_reason, s) {
    await s.requester.stop();
  },

  describe: (s) => ({ switch: s.a.link.identity.name, answered: s.answered }),
};
