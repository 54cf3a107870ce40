/**
 * The public surface of the message catalogue (Kazoo's wapi/kapi). Pure: no I/O.
 *
 * Contract
 * - `catalogue` holds every entry of the family files below; a new message is one entry in
 *   its family file (a new family: one file and one line in FAMILIES).
 * - `addFamily(family, defs)`: a plugin's own messages join the catalogue (build, validate,
 *   lookup and every gen_listener then know them); see catalogue.ts for the checks.
 * - `build(id, fields, ctx)` returns the message to publish or throws InvalidMessage with
 *   every problem (see build.ts for the steps: strip, defaults, fixed values, validate,
 *   whitelist). `prepare` also returns the headers the whitelist dropped.
 * - `validate(msg, id?)` never throws on bad input: `{ok: true, msg, def}` or
 *   `{ok: false, reason, problems}` (see validate.ts). `assertValid(msg, id?)` is the same
 *   as an assertion: the message, or InvalidMessage with every problem.
 * - `decode(body, props, {maxBytes})` never throws: `{ok: true, msg}` or `{ok: false, reason}`.
 * - `destination(id, msg, queue?)`: exchange, routing key and AMQP headers for a built
 *   message; `replyQueue(request)`: the request's Server-ID.
 * - `errorReply(request, message, ctx)`: a built `error` message answering `request`.
 * - `lookup(category, name, msg?)`: the entry for an incoming message, or undefined.
 * - `EXCHANGES` / `exchange(name)`: the exchanges to declare.
 * - Routing-key builders for binding (pass '*' / '#' for wildcards): authnReqKey, authnEndpointReqKey,
 *   regSuccessKey, regQueryKey, regFlushKey, REG_SYNC_KEY, routeReqKey, callEventKey, docKey,
 *   switchCommandKey; the ACDC keys (acdc.ts: memberCallKey, memberConnectReqKey, agentActionKey, ...);
 *   encodeSegment / decodeSegment for anything else.
 */
import { acdc } from './acdc.ts';
import { authn } from './authn.ts';
import { build as buildWith, prepare as prepareWith, type BuildContext, type Prepared } from './build.ts';
import { callEvents } from './call-event.ts';
import { Catalogue } from './catalogue.ts';
import { conf } from './conf.ts';
import { destination as destinationOf, type Destination } from './destination.ts';
import { dialplan } from './dialplan.ts';
import { errorReplyFields, errors } from './error.ts';
import { nodes } from './nodes.ts';
import { originate } from './originate.ts';
import { registration } from './registration.ts';
import { route } from './route.ts';
import { switchMessages } from './switch.ts';
import type { Envelope, Message, MessageDef } from './types.ts';
import { validateWith, type Validated } from './validate.ts';
import { InvalidMessage } from './invalid-message.ts';

const FAMILIES: readonly (readonly MessageDef[])[] = [
  authn,
  registration,
  route,
  callEvents,
  dialplan,
  nodes,
  conf,
  errors,
  switchMessages,
  originate,
  acdc,
];

export const catalogue: Catalogue = new Catalogue(FAMILIES.flat());

/** Adds a plugin's own message family to the catalogue (call it once, when the plugin's module loads). */
export function addFamily(family: string, defs: readonly MessageDef[]): void {
  catalogue.addFamily(family, defs);
}

export function build(id: string, fields: Readonly<Record<string, unknown>>, ctx: BuildContext): Envelope {
  return buildWith(catalogue.get(id), fields, ctx);
}

export function prepare(id: string, fields: Readonly<Record<string, unknown>>, ctx: BuildContext): Prepared {
  return prepareWith(catalogue.get(id), fields, ctx);
}

export function validate(msg: unknown, id?: string): Validated {
  return validateWith(catalogue, msg, id);
}

/** validate() as an assertion: the message, or InvalidMessage with every problem. */
export function assertValid(msg: unknown, id?: string): Envelope {
  const r = validateWith(catalogue, msg, id);
  if (r.ok) return r.msg;
  throw new InvalidMessage(r.def?.id ?? id ?? 'message', r.problems);
}

export function lookup(category: string, name: string, msg?: Message): MessageDef | undefined {
  return catalogue.lookup(category, name, msg);
}

export function destination(id: string, msg: Envelope, queue?: string): Destination {
  return destinationOf(catalogue.get(id), msg, queue);
}

export function errorReply(request: unknown, message: string, ctx: BuildContext): Envelope {
  return build('error', errorReplyFields(request, message), ctx);
}

export type { BuildContext, Prepared } from './build.ts';
export type { Destination } from './destination.ts';
export type { Validated } from './validate.ts';
export type { Decoded, DecodeOptions, DeliveryProps } from './decode.ts';
export type { Envelope, FieldType, Message, MessageDef, Problem, Required, Route, SubDef } from './types.ts';
export type { ExchangeDecl, ExchangeName, ExchangeOptions, ExchangeType } from './exchanges.ts';
export type { AuthnReq, AuthnResp } from './authn.ts';
export type { RegSuccess } from './registration.ts';
export type { RouteReq, RouteResp, RouteWin } from './route.ts';
export type { CallEvent } from './call-event.ts';
export type { NodesAdvertise } from './nodes.ts';
export type { DocAction } from './conf.ts';
export { Catalogue } from './catalogue.ts';
export { InvalidMessage } from './invalid-message.ts';
export { decode } from './decode.ts';
export { replyQueue } from './destination.ts';
export { EXCHANGES, exchange } from './exchanges.ts';
export { encodeSegment, decodeSegment, routingKey } from './routing-key.ts';
export { authnReqKey, authnEndpointReqKey, authnRealm } from './authn.ts';
export { regSuccessKey, regQueryKey, regFlushKey, REG_SYNC_KEY, REG_SUCCESS_FIELDS } from './registration.ts';
export { routeReqKey } from './route.ts';
export { callEventKey, CALL_EVENT_NAMES } from './call-event.ts';
export { docKey } from './conf.ts';
export { switchCommandKey } from './switch.ts';
export { errorReplyFields } from './error.ts';
export { DEFAULT_HEADERS, OPTIONAL_DEFAULT_HEADERS } from './envelope.ts';
export { ORIGINATE_REQ_KEY } from './originate.ts';
export {
  acdcSharedQueue,
  memberCallPriority,
  agentsAvailableReqKey,
  queuePositionReqKey,
  queueStatsReqKey,
  agentActionKey,
  agentStatsReqKey,
  agentSyncReqKey,
  agentSharedKey,
  memberCallKey,
  memberCallResultKey,
  memberConnectReqKey,
  queueAgentChangeKey,
  AGENT_STATUSES,
} from './acdc.ts';
export { GREGORIAN_OFFSET_S, asGregorianSeconds, gregorianSeconds } from './time.ts';
