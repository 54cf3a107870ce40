/**
 * Authentication of calls from registered phones, as mod_sofia does it on a profile with
 * `auth-calls` (FreeSWITCH's default internal profile): the INVITE's credentials are
 * checked with a directory fetch (action `sip_auth`), and the user's variables from the
 * answer go on the caller's channel (sofia_reg_parse_auth). In Kazoo the fetch reaches
 * ecallmgr (mod_kazoo), which asks the registrar (authn_req) and answers with the user's
 * Custom-Channel-Vars as `ecallmgr_<name>` variables (ecallmgr_fs_xml authn_resp_xml).
 *
 * Contract
 * - `authenticate({user, realm, callId, toUser})` fires a channel-less REQUEST_PARAMS with
 *   mod_kazoo's fetch headers (Fetch-UUID, Fetch-Section directory, Fetch-Tag domain,
 *   Fetch-Key-Name name, Fetch-Key-Value realm) and sofia's (action sip_auth,
 *   sip_auth_username, sip_auth_realm, sip_auth_method INVITE, sip_from_user/host,
 *   sip_to_user/host, sip_request_user/host, user, domain, ip, sip_call_id, sip_profile
 *   internal) and resolves with the answer: the simulator has no XML fetch binding, so a
 *   client answers with a `sendevent CUSTOM` of subclass `fife::fetch_reply` carrying the
 *   same Fetch-UUID, `Fetch-Result: found|not_found` and the user's variables as
 *   `variable_<name>` headers. `found` resolves with those variables; `not_found`, no
 *   answer within `timeoutMs`, or `cancelAll()` (restart, close) resolves with
 *   `{found: false, why}`.
 * - `onReply(headers)` takes every fetch_reply event; one for no pending fetch is ignored.
 */
import type { Header } from './esl-wire.ts';

export const FETCH_REPLY_SUBCLASS = 'fife::fetch_reply';

export type AuthResult = { found: true; variables: Record<string, string> } | { found: false; why: string };

interface Pending {
  resolve(r: AuthResult): void;
  timer: NodeJS.Timeout;
}

export class CallAuth {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly opts: {
      fire: (name: string, headers: Header[]) => void;
      newUuid: () => string;
      timeoutMs: number;
    },
  ) {}

  authenticate(c: { user: string; realm: string; callId: string; toUser: string }): Promise<AuthResult> {
    const fetchId = this.opts.newUuid();
    const result = new Promise<AuthResult>((resolve) => {
      const timer = setTimeout(
        () => this.settle(fetchId, { found: false, why: 'no fetch reply in time' }),
        this.opts.timeoutMs,
      );
      this.pending.set(fetchId, { resolve, timer });
    });
    this.opts.fire('REQUEST_PARAMS', [
      ['Fetch-UUID', fetchId],
      ['Fetch-Section', 'directory'],
      ['Fetch-Tag', 'domain'],
      ['Fetch-Key-Name', 'name'],
      ['Fetch-Key-Value', c.realm],
      ['action', 'sip_auth'],
      ['sip_profile', 'internal'],
      ['sip_auth_username', c.user],
      ['sip_auth_realm', c.realm],
      ['sip_auth_method', 'INVITE'],
      ['sip_from_user', c.user],
      ['sip_from_host', c.realm],
      ['sip_to_user', c.toUser],
      ['sip_to_host', c.realm],
      ['sip_request_user', c.toUser],
      ['sip_request_host', c.realm],
      ['user', c.user],
      ['domain', c.realm],
      ['ip', '127.0.0.1'],
      ['sip_call_id', c.callId],
    ]);
    return result;
  }

  onReply(headers: readonly Header[]): void {
    const get = (n: string): string | undefined => headers.find(([k]) => k === n)?.[1];
    const fetchId = get('Fetch-UUID');
    if (fetchId === undefined || !this.pending.has(fetchId)) return;
    if (get('Fetch-Result') !== 'found')
      return this.settle(fetchId, { found: false, why: `fetch result ${get('Fetch-Result') ?? 'missing'}` });
    const variables: Record<string, string> = {};
    for (const [k, v] of headers) if (k.startsWith('variable_')) variables[k.slice('variable_'.length)] = v;
    this.settle(fetchId, { found: true, variables });
  }

  cancelAll(why: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, { found: false, why });
  }

  private settle(fetchId: string, r: AuthResult): void {
    const p = this.pending.get(fetchId);
    if (p === undefined) return;
    this.pending.delete(fetchId);
    clearTimeout(p.timer);
    p.resolve(r);
  }
}
