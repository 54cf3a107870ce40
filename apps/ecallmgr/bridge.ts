/**
 * Plans one dialplan command for the switch, the `bridge` of Kazoo's ecallmgr_fs_bridge
 * included: the steps to execute on the channel, in order (call_control has the node
 * connection run them as one `sequence` operation, node-ops.ts; a bridge's as one
 * `xferext`: a single sendmsg carrying the whole extension, as Kazoo 4.3 sends it).
 *
 * Contract — `planCommand({uuid, cmd, lookup, log})` gives `{uuid, steps, api?}` (a Promise
 * of it for a bridge, which looks its devices up; any other command at once):
 * - Custom-Channel-Vars of the command are first set on the channel `uuid`, one
 *   `set ecallmgr_<name>=<value>` each (FreeSWITCH hands `variable_ecallmgr_*` back in
 *   every later event of the channel, published as its Custom-Channel-Vars).
 * - `bridge`: the Endpoints (or a bridge route_resp's Routes) are resolved at once
 *   (bridge-dial.ts; SIP devices through a reg_query to the registrar). None dialable:
 *   rejects with CommandFailedError `registrar returned no endpoints` (Kazoo's error; the
 *   caller publishes it as a dialplan error and goes on with the queue). Otherwise, as
 *   Kazoo's xferext: `set continue_on_fail=true`, `set hangup_after_bridge=true`, `set
 *   call_timeout=<Timeout>` when a Timeout is given (also in the dial string's variables;
 *   FreeSWITCH's bridge honours the caller's call_timeout), `bridge <dial>`, then the
 *   `event` application firing CUSTOM `kazoo::masquerade` (kazoo_event_name
 *   CHANNEL_EXECUTE_COMPLETE, kazoo_application_name bridge): call_events publishes it as
 *   the bridge's CHANNEL_EXECUTE_COMPLETE with Application-Response = the channel's
 *   originate_disposition. The plan has `xferext: true`: the CCV sets and these steps go as
 *   one extension (ecallmgr_util:send_cmd "xferext"), done when its `event` completes. A
 *   channel hung up by the bridge (hangup_after_bridge) abandons the rest of the
 *   extension on the switch: no `event`, no error; the operation ends at CHANNEL_DESTROY.
 * - `routesBridge(callId, routes, serverId)`: the bridge command of a bridge route_resp.
 * - Any other command: the switch action of switch-action.ts (the caller has checked it
 *   is supported); `set` sets its Custom-Channel-Vars itself (no separate `set` steps);
 *   store is the plan's `upload` (a bgapi the caller runs instead of steps).
 * - Rejects with CommandFailedError for a command ecallmgr cannot run. Run on the switch,
 *   the sequence settles when the last step completes and fails at the first step's error.
 */
import type { Logger } from '../../src/kernel/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import { bridgeString, ccvPairs, type Lookup } from './bridge-dial.ts';
import { switchAction } from './switch-action.ts';

/** A command ecallmgr could not run for a reason of its own (published as a dialplan error). */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
}

export const BRIDGE_MASQUERADE =
  'Event-Name=CUSTOM,Event-Subclass=kazoo::masquerade,kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=bridge';

export interface RunDeps {
  /** The channel the command runs on (the call, or one of its other legs). */
  readonly uuid: string;
  readonly cmd: Envelope;
  readonly lookup: Lookup;
  readonly log: Logger;
}

const objects = (v: unknown): Array<Record<string, unknown>> =>
  Array.isArray(v)
    ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x))
    : [];

async function bridgeSteps(d: RunDeps): Promise<Array<[string, string]>> {
  const { cmd } = d;
  const endpoints = objects(cmd.Endpoints);
  if (endpoints.length === 0) throw new CommandFailedError('bridge request had no endpoints');
  const { dial, skipped } = await bridgeString(cmd, endpoints, d.lookup);
  if (skipped.length > 0) d.log.info({ skipped }, 'bridge: endpoints left out');
  if (dial === undefined) throw new CommandFailedError('registrar returned no endpoints');
  const steps: Array<[string, string]> = [
    ['set', 'continue_on_fail=true'],
    ['set', 'hangup_after_bridge=true'],
  ];
  const timeout = Math.floor(Number(cmd.Timeout));
  if (cmd.Timeout !== undefined && Number.isFinite(timeout) && timeout > 0)
    steps.push(['set', `call_timeout=${timeout}`]);
  steps.push(['bridge', dial], ['event', BRIDGE_MASQUERADE]);
  d.log.debug({ dial }, 'bridging');
  return steps;
}

/**
 * The bridge command a `bridge` route_resp stands for: its Routes dialled one after the
 * other (Kazoo's route_resp_xml joins them with `|`), failing over to the next; a route's
 * Progress-Timeout as the endpoint's. Call-ID the call's, Server-ID the winner's queue.
 */
export function routesBridge(callId: string, routes: readonly unknown[], serverId: string): Envelope {
  return {
    'Event-Category': 'call',
    'Event-Name': 'command',
    'Application-Name': 'bridge',
    'Call-ID': callId,
    'Server-ID': serverId,
    'Msg-ID': `route-bridge-${callId}`,
    'Dial-Endpoint-Method': 'single',
    'Continue-On-Fail': true,
    Endpoints: objects(routes).map(({ 'Progress-Timeout': p, ...r }) =>
      p === undefined ? r : { ...r, 'Endpoint-Progress-Timeout': p },
    ),
  } as Envelope;
}

/** What to run on the switch for one command: executes on `uuid`, then an api command;
 *  or (store) one background upload of `file`. */
export interface CommandPlan {
  readonly uuid: string;
  readonly steps: ReadonlyArray<readonly [string, string]>;
  readonly api?: string;
  /** Send the steps as one extension (sendmsg xferext), not one execute each. */
  readonly xferext?: boolean;
  readonly upload?: { readonly command: string; readonly file: string };
}

/** The plan; a Promise only for a bridge, which looks its devices up first (every other
 *  command is planned at once, with no turn of the event loop). */
export function planCommand(d: RunDeps): CommandPlan | Promise<CommandPlan> {
  const action = switchAction(d.cmd, d.uuid);
  if (action.kind === 'upload') return { uuid: d.uuid, steps: [], upload: action };
  if (action.kind === 'unsupported') throw new CommandFailedError(action.reason);
  // `set` sets its Custom-Channel-Vars itself (one multiset).
  const steps: Array<readonly [string, string]> =
    action.kind === 'steps'
      ? []
      : ccvPairs(d.cmd['Custom-Channel-Vars']).map(([k, v]) => ['set', `${k}=${v}`] as const);
  if (action.kind === 'bridge')
    return bridgeSteps(d).then((more) => ({ uuid: d.uuid, steps: [...steps, ...more], xferext: true }));
  if (action.kind === 'execute') steps.push([action.app, action.arg]);
  else if (action.kind === 'steps') steps.push(...action.steps);
  return { uuid: d.uuid, steps, api: action.kind === 'api' ? action.command : undefined };
}
