/**
 * channel_status: one per ecallmgr (registered as `ecallmgr_channel_status`), a
 * gen_listener answering `channel_status_req` (Kazoo's ecallmgr_fs_channels
 * handle_channel_status): is this call still up, and on which switch?
 *
 * Contract
 * - Its anonymous queue is bound to `callevt` / `call.status_req.*` (every ecallmgr hears
 *   every request, as Kazoo's per-node listener does).
 * - A call is up when one of the configured switches' calls tables (`names.callsTable`,
 *   owned by that switch's node connection) holds its Call-ID. The answer, to the
 *   request's Server-ID with its Msg-ID: channel_status_resp with Call-ID, Status
 *   `active`, Switch-Hostname (the switch's host), Switch-Nodename and Switch-URL (its
 *   event-socket address, as call events carry them) and Other-Leg-Call-ID when the call's
 *   call_control knows a bridged leg, else when the switch has it bridged to a live leg
 *   (bridge_uuid; a bridge made on the other leg, e.g. by an originate's uuid_bridge).
 * - A call no switch holds: Status `terminated`, Error-Msg `no node found with channel`,
 *   unless the request says Active-Only true (then nothing is sent), as Kazoo.
 * - A request without Server-ID is logged and dropped. The process keeps no state: the
 *   calls tables belong to the node connections, the legs to the calls' call_control.
 */
import { Table, noreply, ok, unexpected, type Runtime } from '../../src/kernel/index.ts';
import { build, callEventKey, type Envelope } from '../../src/api/index.ts';
import {
  GenListener,
  type GenListenerBehaviour,
  type ListenerHandlerContext,
} from '../../src/bus/gen-listener.ts';
import { otherLegOf } from './call-control.ts';
import { switchOp } from './node-ops.ts';
import {
  APP_NAME,
  APP_VERSION,
  buildContext,
  names,
  switchLink,
  type EcallmgrEnv,
  type SwitchLink,
} from './context.ts';

export const CHANNEL_STATUS = 'ecallmgr_channel_status';

export interface ChannelStatusArgs {
  readonly env: EcallmgrEnv;
}

const isTrue = (v: unknown): boolean => v === true || v === 'true';

/** The switch whose calls table holds `callId`, if any. */
export function switchOf(rt: Runtime, env: EcallmgrEnv, callId: string): SwitchLink | undefined {
  for (const config of env.settings.switches) {
    const link = switchLink(config);
    const id = Table.whereis(rt, names.callsTable(link.identity.name));
    if (id !== undefined && Table.reader<string, true>(rt, id).member(callId)) return link;
  }
  return undefined;
}

/**
 * The live leg the switch has the call bridged to (`uuid_getvar <call> bridge_uuid`, then
 * `uuid_exists` of it), for a bridge call_control did not see: FreeSWITCH fires
 * CHANNEL_BRIDGE on the originator only, so a call bridged by `uuid_bridge <leg> <call>`
 * (an originate with Existing-Call-ID) hears nothing. Undefined when not bridged or the
 * switch cannot say (logged at debug).
 */
async function bridgedOnSwitch(
  ctx: ListenerHandlerContext,
  link: SwitchLink,
  callId: string,
): Promise<string | undefined> {
  try {
    const other = (
      await switchOp(ctx.runtime, link, { kind: 'api', command: `uuid_getvar ${callId} bridge_uuid` })
    ).trim();
    if (other === '' || other === '_undef_' || other.startsWith('-ERR')) return undefined;
    const up = (await switchOp(ctx.runtime, link, { kind: 'api', command: `uuid_exists ${other}` })).trim();
    return up === 'true' ? other : undefined;
  } catch (err) {
    ctx.log.debug({ err: String(err), call_id: callId }, 'channel status: bridge not known to the switch');
    return undefined;
  }
}

async function answer(env: EcallmgrEnv, m: Envelope, ctx: ListenerHandlerContext): Promise<void> {
  const callId = String(m['Call-ID']);
  const log = ctx.log.child({ call_id: callId, msg_id: m['Msg-ID'] });
  if (typeof m['Server-ID'] !== 'string' || m['Server-ID'] === '') {
    log.warn('channel_status_req without Server-ID: nobody to answer');
    return;
  }
  const link = switchOf(ctx.runtime, env, callId);
  let fields: Record<string, unknown>;
  if (link !== undefined) {
    fields = {
      Status: 'active',
      'Switch-Hostname': link.config.host,
      'Switch-Nodename': link.identity.name,
      'Switch-URL': link.identity.url,
      'Other-Leg-Call-ID':
        (await otherLegOf(ctx.runtime, callId)) ?? (await bridgedOnSwitch(ctx, link, callId)),
    };
    log.debug({ switch: link.identity.name }, 'channel status: active');
  } else if (isTrue(m['Active-Only'])) {
    log.debug('channel status: not here, and only an active channel is answered');
    return;
  } else {
    fields = { Status: 'terminated', 'Error-Msg': 'no node found with channel' };
    log.debug('channel status: not here');
  }
  const resp = build(
    'channel_status_resp',
    { 'Call-ID': callId, 'Msg-ID': m['Msg-ID'], ...fields },
    buildContext(env),
  );
  await ctx.reply(resp as Envelope);
}

export const ChannelStatus: GenListenerBehaviour<null, ChannelStatusArgs> = {
  name: CHANNEL_STATUS,
  init: () => ok(null),
  listen: (a) => ({
    bindings: [{ exchange: 'callevt', routingKey: callEventKey('status_req', '*') }],
    responders: [
      { category: 'call_event', name: 'channel_status_req', handler: (m, ctx) => answer(a.env, m, ctx) },
    ],
  }),
  handleInfo(raw, s) {
    if ((raw as { type?: string })?.type === 'gen_listener') return noreply(s);
    return unexpected(raw, s);
  },
};

export const channelStatusChildSpec = (a: ChannelStatusArgs) =>
  GenListener.childSpec('channel_status', ChannelStatus, a, {
    transport: a.env.bus,
    name: CHANNEL_STATUS,
    appName: APP_NAME,
    appVersion: APP_VERSION,
    shutdown: 5000,
  });
