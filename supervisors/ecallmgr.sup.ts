/**
 * ecallmgr's tree: the switch side of a node (Kazoo's ecallmgr_sup).
 *
 *   ecallmgr_sup (rest_for_one, 3 restarts in 10 s)
 *   ├── ecallmgr_calls_sup (simple_one_for_one, 100 restarts in 1 s)  one child per call:
 *   │   └── call_sup <call-id> (temporary; one_for_one, 3 in 5 s, auto_shutdown any_significant;
 *   │                           owns the call's table ecallmgr_call:<call-id>)
 *   │       ├── call_events   ecallmgr_call_events:<call-id>   (transient)
 *   │       └── call_control  ecallmgr_call_control:<call-id>  (transient, significant: the
 *   │                         call's supervisor ends when it ends normally)
 *   ├── node_sup <switch> (one per configured switch; rest_for_one, 5 restarts in 10 s)
 *   │   ├── tables   ecallmgr_node_tables:<switch>  TableKeeper: heir of the node's calls table
 *   │   ├── node     ecallmgr_node:<switch>    event socket: connect, subscribe, dispatch, resync
 *   │   ├── router   ecallmgr_router:<switch>  parked calls -> route_req -> route_win
 *   │   ├── authn    ecallmgr_authn:<switch>   directory fetches -> authn_req
 *   │   └── commands ecallmgr_switch_commands:<switch>  switch_command (send_http) -> switch_reply
 *   ├── originate_sup (simple_one_for_one)  ecallmgr_originate_sup: one temporary
 *   │   └── originate                        process per originate_req (originate.ts)
 *   ├── originate_listener  ecallmgr_originate_listener: originate_req -> originate_sup
 *   └── reg_lookup       ecallmgr_reg_lookup   reg_query to the registrar when a bridge dials
 *
 * The calls supervisor comes first so the routers always have it; a call outlives a
 * restart of its switch's node supervisor (its processes wait for the switch to come
 * back). No I/O at import or when the spec is built.
 */
import {
  GenServer,
  Supervisor,
  Table,
  TableKeeper,
  type ChildSpec,
  type SupervisorInit,
  type SupervisorSpec,
} from '../src/kernel/index.ts';
import { APP_NAME, APP_VERSION, names, switchLink, type EcallmgrEnv } from '../apps/ecallmgr/context.ts';
import { GenListener } from '../src/bus/gen-listener.ts';
import { CallControl, type CallControlArgs } from '../apps/ecallmgr/call-control.ts';
import { CallEvents } from '../apps/ecallmgr/call-events.ts';
import { NodeConnection } from '../apps/ecallmgr/node-connection.ts';
import { Router } from '../apps/ecallmgr/router.ts';
import { Authn } from '../apps/ecallmgr/authn.ts';
import { Originate, type OriginateArgs } from '../apps/ecallmgr/originate.ts';
import { OriginateListener } from '../apps/ecallmgr/originate-listener.ts';
import { RegLookup, REG_LOOKUP } from '../apps/ecallmgr/reg-lookup.ts';
import { channelStatusChildSpec } from '../apps/ecallmgr/channel-status.ts';
import { switchCommandsChildSpec } from '../apps/ecallmgr/switch-commands.ts';

export const ECALLMGR_SUP = 'ecallmgr_sup';

/**
 * The per-call supervisor: call_events first (so no event is missed), then call_control.
 * It owns the call's table (`names.callTable`, public: call_control's incarnations write
 * it), which lives exactly as long as the call: across restarts of call_control, gone
 * with the supervisor.
 */
export function callTree(args: CallControlArgs): SupervisorInit {
  const { callId } = args;
  return (ctx) => {
    Table.create(ctx, { name: names.callTable(callId), access: 'public' });
    return callSpec(args);
  };
}

function callSpec(args: CallControlArgs): SupervisorSpec {
  const { callId, link, env } = args;
  return {
    flags: { strategy: 'one_for_one', intensity: 3, period: 5, autoShutdown: 'any_significant' },
    children: [
      GenServer.childSpec(
        'call_events',
        CallEvents,
        { callId, link, env },
        { name: names.events(callId), restart: 'transient', shutdown: 2000 },
      ),
      GenListener.childSpec('call_control', CallControl, args, {
        transport: env.bus,
        appName: APP_NAME,
        appVersion: APP_VERSION,
        name: names.control(callId),
        restart: 'transient',
        significant: true,
        shutdown: 5000,
      }),
    ],
  };
}

const callSupTemplate: ChildSpec = {
  id: 'call_sup',
  type: 'supervisor',
  restart: 'temporary',
  shutdown: 'infinity',
  start: (ctx, args: CallControlArgs) =>
    Supervisor.start(ctx.runtime, callTree(args), { link: ctx.parent, app: ctx.app }),
};

const originateTemplate: ChildSpec = {
  id: 'originate',
  type: 'worker',
  restart: 'temporary',
  shutdown: 5000,
  start: (ctx, args: OriginateArgs) =>
    GenServer.start(ctx.runtime, Originate, args, { link: ctx.parent, app: ctx.app }),
};

export interface EcallmgrTreeOptions {
  /** Reconnect backoff of the switch connections (tests shorten it). */
  backoff?: { initialMs?: number; maxMs?: number };
}

export function ecallmgrTree(env: EcallmgrEnv, opts: EcallmgrTreeOptions = {}): SupervisorSpec {
  const nodes = env.settings.switches.map((sw) => {
    const link = switchLink(sw);
    const a = { link, env };
    return Supervisor.childSpec(`node_sup ${sw.name}`, {
      flags: { strategy: 'rest_for_one', intensity: 5, period: 10 },
      children: [
        TableKeeper.childSpec('tables', { name: names.nodeTables(sw.name) }),
        GenServer.childSpec(
          'node',
          NodeConnection,
          { ...a, backoff: opts.backoff },
          { name: names.node(sw.name), shutdown: 5000 },
        ),
        GenServer.childSpec('router', Router, a, { name: names.router(sw.name), shutdown: 5000 }),
        GenServer.childSpec('authn', Authn, a, { name: names.authn(sw.name), shutdown: 5000 }),
        switchCommandsChildSpec(a, names.commands(sw.name)),
      ],
    });
  });
  return {
    flags: { strategy: 'rest_for_one', intensity: 3, period: 10 },
    children: [
      Supervisor.childSpec(
        'calls_sup',
        { flags: { strategy: 'simple_one_for_one', intensity: 100, period: 1 }, children: [callSupTemplate] },
        { name: names.calls },
      ),
      ...nodes,
      Supervisor.childSpec(
        'originate_sup',
        {
          flags: { strategy: 'simple_one_for_one', intensity: 100, period: 1 },
          children: [originateTemplate],
        },
        { name: names.originates },
      ),
      GenServer.childSpec(
        'originate_listener',
        OriginateListener,
        { env },
        { name: names.originateListener, shutdown: 5000 },
      ),
      // Reads the nodes' calls tables and asks calls by name: nothing depends on it.
      channelStatusChildSpec({ env }),
      // Last: its restart touches nothing else; calls reach it by name at each bridge.
      GenServer.childSpec('reg_lookup', RegLookup, { env }, { name: REG_LOOKUP, shutdown: 5000 }),
    ],
  };
}
