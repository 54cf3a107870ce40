/**
 * Switch commands (Kazoo 4.3 `kapi_switch`, Event-Category `switch_event`): an app asks the
 * ecallmgr attached to one FreeSWITCH node to run a node command, and gets a reply.
 *
 * Contract
 * - `switchMessages` lists switch_command (`switch_event/command` on the `switch` exchange,
 *   key `switch.command.<node>` with the FreeSWITCH-Node encoded, `*` when absent:
 *   `switchCommandKey`) and switch_reply (`switch_event/reply` to the command's Server-ID on
 *   `targeted`, carrying its Msg-ID).
 * - Headers are 4.3's: a command needs Command and Args; a reply needs Command and Result
 *   (`success` or `error` in 4.3's ecallmgr, not checked there either) with optional Error,
 *   Response, Event-Data, FreeSWITCH-Node.
 */
import { encodeSegment, routingKey } from './routing-key.ts';
import type { MessageDef } from './types.ts';

/** `switch.command.<node>`; pass `'*'` to bind every node. */
export function switchCommandKey(node: string): string {
  return routingKey('switch', 'command', encodeSegment(node));
}

export const switchMessages: readonly MessageDef[] = [
  {
    id: 'switch_command',
    category: 'switch_event',
    name: 'command',
    doc: 'run a command on one FreeSWITCH node (4.3 knows send_http: upload a file from the node)',
    required: ['Command', 'Args'],
    optional: ['FreeSWITCH-Node'],
    types: { Command: 'string', 'FreeSWITCH-Node': 'string' },
    route: {
      exchange: 'switch',
      kind: 'key',
      key: (m) =>
        switchCommandKey(
          typeof m['FreeSWITCH-Node'] === 'string' && m['FreeSWITCH-Node'] !== ''
            ? m['FreeSWITCH-Node']
            : '*',
        ),
      pattern: 'switch.command.<node>',
    },
    notes: [
      "How Kazoo 4.3's voicemail stores a message: callflow records with the dialplan `record` command into a file on the switch (`/tmp/<attachment name>`), then publishes switch_command with Command `send_http`, FreeSWITCH-Node = the call's switch node, and Args `{File-Name, Url, Http-Method: put}` (Url: the voicemail document's attachment URL in the store). The ecallmgr bound to that node (`switch.command.<node>`) uploads the file over HTTP PUT through the switch (mod_kazoo's `kz_http_put`, `http_put` before mod_kazoo 1.4) and answers [switch_reply](#switch_reply): Result `success`, or `error` with Error (and Event-Data from the switch). The app retries a failed upload a few times. An unknown Command is answered Result `error`, Error `<command> not_implemented`.",
    ],
  },
  {
    id: 'switch_reply',
    category: 'switch_event',
    name: 'reply',
    doc: 'the result of a switch_command (Result success or error)',
    required: ['Command', 'Result'],
    optional: ['Error', 'Event-Data', 'FreeSWITCH-Node', 'Response'],
    types: { Command: 'string', Result: 'string' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
];
