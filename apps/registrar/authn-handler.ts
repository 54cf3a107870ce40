/**
 * authn_req responder: SIP credentials for Auth-User / Auth-Realm, answered straight to
 * the requester (targeted / its Server-ID), as Kazoo's registrar does.
 *
 * Contract
 * - Found and enabled: authn_resp with Auth-Method `password` (Auth-Password in clear) or
 *   `a1-hash` (the stored MD5(user:realm:password)), Auth-Username, and the
 *   Custom-Channel-Vars that identify account, owner and device.
 * - Unknown realm or user, a device without credentials, a disabled account or device:
 *   authn_err with Defer-Response "true" (no credentials handed out; the proxy fails the
 *   request at once instead of waiting out its timeout). The reason is logged, never a
 *   secret.
 * - A request without Server-ID cannot be answered: logged and dropped. A store failure is
 *   logged and answered with authn_err.
 * - The user is Auth-User lower-cased, or the user part of To when Auth-User is `unknown`;
 *   the realm is Kazoo's (Auth-Realm, or To's host when Auth-Realm is an IP).
 */
import { authnRealm, build, type BuildContext } from '../../src/api/index.ts';
import {
  jsonProperties,
  type BusTransport,
  type Envelope,
  type HandlerContext,
} from '../../src/bus/index.ts';
import { lookupCredentials, type CredentialDeps, type SipCredentials } from './credentials.ts';

export function authnUser(msg: Envelope): string {
  const user = String(msg['Auth-User'] ?? '').toLowerCase();
  if (user !== 'unknown') return user;
  const to = String(msg.To ?? '').replace(/^sips?:/i, '');
  const at = to.indexOf('@');
  return (at < 0 ? to : to.slice(0, at)).toLowerCase();
}

export function authnRespFields(msgId: unknown, c: SipCredentials): Record<string, unknown> {
  return {
    'Msg-ID': msgId,
    'Auth-Method': c.method,
    'Auth-Password': c.secret,
    'Auth-Username': c.username,
    'Custom-Channel-Vars': {
      'Account-ID': c.accountId,
      'Account-Name': c.accountName,
      'Account-Realm': c.accountRealm,
      'Authorizing-ID': c.deviceId,
      'Authorizing-Type': 'device',
      'Owner-ID': c.ownerId,
      Username: c.username,
      Realm: c.realm,
    },
  };
}

/**
 * Replies per credentials object and build context, built once (build validates and
 * whitelists) and kept serialized around the Msg-ID: the hot path of a cached user only
 * splices the request's Msg-ID in.
 */
interface Serialized {
  head: string;
  tail: string;
}
const templates = new WeakMap<object, WeakMap<BuildContext, Serialized>>();
const ERR_KEY = {};
const MARK = 'fife-msg-id-mark';

function replyBody(found: SipCredentials | undefined, buildCtx: BuildContext, msgId: unknown): string {
  const key = found ?? ERR_KEY;
  let perCtx = templates.get(key);
  if (perCtx === undefined) templates.set(key, (perCtx = new WeakMap()));
  let tpl = perCtx.get(buildCtx);
  if (tpl === undefined) {
    const built =
      found !== undefined
        ? build('authn_resp', authnRespFields(MARK, found), buildCtx)
        : build('authn_err', { 'Msg-ID': MARK, 'Defer-Response': 'true' }, buildCtx);
    const [head, tail] = JSON.stringify(built).split(JSON.stringify(MARK)) as [string, string];
    perCtx.set(buildCtx, (tpl = { head, tail }));
  }
  return tpl.head + JSON.stringify(String(msgId)) + tpl.tail;
}

/** How a reply leaves: the transport's publish to `targeted` (or the listener's own reply, in tests). */
export type ReplyPublisher = (serverId: string, body: string) => Promise<void>;

export function transportPublisher(transport: BusTransport): ReplyPublisher {
  return (serverId, body) => transport.publish('targeted', serverId, body, jsonProperties());
}

export async function handleAuthnReq(
  deps: CredentialDeps,
  buildCtx: BuildContext,
  publish: ReplyPublisher,
  msg: Envelope,
  ctx: HandlerContext,
): Promise<void> {
  if (typeof msg['Server-ID'] !== 'string' || msg['Server-ID'] === '') {
    ctx.log.warn(
      { user: msg['Auth-User'], realm: msg['Auth-Realm'] },
      'authn_req without Server-ID: nobody to answer; dropped',
    );
    return;
  }
  const realm = authnRealm(msg);
  const user = authnUser(msg);
  let found: SipCredentials | undefined;
  try {
    const r = await lookupCredentials(deps, realm, user);
    if (r.kind === 'found') found = r.creds;
    else
      ctx.log.info(
        { user, realm, outcome: r.kind, what: 'what' in r ? r.what : undefined },
        'authn_req: no credentials given',
      );
  } catch (err) {
    ctx.log.error({ user, realm, err: (err as Error).message }, 'authn_req: credential look-up failed');
  }
  await publish(msg['Server-ID'], replyBody(found, buildCtx, msg['Msg-ID']));
  // with the request's Msg-ID (and its Call-ID, from the log context): a proxy that then
  // times the REGISTER out can be shown the answer it did not match
  if (ctx.log.isLevelEnabled('debug'))
    ctx.log.debug(
      {
        user,
        realm,
        msgId: msg['Msg-ID'],
        reply: found !== undefined ? 'authn_resp' : 'authn_err',
        method: found?.method,
        account: found?.accountId,
      },
      'authn reply sent',
    );
}
