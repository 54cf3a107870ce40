/**
 * Error replies (Kazoo `kz_api:error_resp`, Event-Category `error`) and ecallmgr's dialplan
 * error.
 *
 * Contract
 * - `errors` lists `error` (any Event-Name; required Error-Message; optional Request,
 *   Call-ID, Custom-Channel-Vars, Disposition, Hangup-Cause, Hangup-Code as in Kazoo 4.3;
 *   sent to `targeted` / the request's Server-ID) and `dialplan_error` (the same headers)
 *   (error/dialplan on `callevt`, key `call.dialplan.<call-id>`; master's extra headers are
 *   accepted as optional so 4.3 and master peers both validate).
 * - `errorReplyFields(request, message)` gives the fields of an error reply to `request`:
 *   its Msg-ID and Call-ID copied, Event-Name = the request's Event-Name (so the requester
 *   sees what failed), Request = the request itself when it is an object. Build it with
 *   id `error` and publish it to `replyQueue(request)`.
 */
import { callEventKey } from './call-event.ts';
import { isObject, own } from './check.ts';
import type { Message, MessageDef } from './types.ts';

/** Kazoo 4.3's OPTIONAL_ERROR_RESP_HEADERS (kz_api.hrl): a hangup's cause survives the whitelist. */
const ERROR_OPTIONAL = [
  'Request',
  'Call-ID',
  'Custom-Channel-Vars',
  'Disposition',
  'Hangup-Cause',
  'Hangup-Code',
] as const;

export const errors: readonly MessageDef[] = [
  {
    id: 'error',
    category: 'error',
    name: '*',
    doc: 'generic error reply to a request',
    required: ['Error-Message'],
    optional: ERROR_OPTIONAL,
    types: { 'Error-Message': 'string', 'Custom-Channel-Vars': 'object' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'dialplan_error',
    category: 'error',
    name: 'dialplan',
    doc: 'a dialplan command could not be executed',
    required: ['Error-Message'],
    optional: [...ERROR_OPTIONAL, 'Channel-Call-State', 'Channel-State', 'Dialplan-Error'],
    types: { 'Error-Message': 'string', 'Custom-Channel-Vars': 'object' },
    route: {
      exchange: 'callevt',
      kind: 'key',
      key: (m) => callEventKey('dialplan', typeof m['Call-ID'] === 'string' ? m['Call-ID'] : ''),
      pattern: 'call.dialplan.<call-id>',
    },
  },
];

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function errorReplyFields(request: unknown, message: string): Record<string, unknown> {
  const req: Message = isObject(request) ? request : {};
  const fields: Record<string, unknown> = {
    'Error-Message': message,
    'Event-Name': str(own(req, 'Event-Name')) ?? 'error',
  };
  const msgId = str(own(req, 'Msg-ID'));
  const callId = str(own(req, 'Call-ID'));
  if (msgId !== undefined) fields['Msg-ID'] = msgId;
  if (callId !== undefined) fields['Call-ID'] = callId;
  if (isObject(request)) fields.Request = request;
  return fields;
}
