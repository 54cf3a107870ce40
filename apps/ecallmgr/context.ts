/**
 * What ecallmgr's processes share: the app's environment (bus, settings, build context),
 * a per-switch link to its event-socket connection, process names, and publishing.
 *
 * Contract
 * - `SwitchLink` is the switch's configuration and identity, made when the tree spec is
 *   built; it holds nothing that changes.
 * - The node connection process owns what changes (node-connection.ts): its table of
 *   known calls (`names.callsTable`, kept across its restarts by the node supervisor's
 *   TableKeeper) and its event-socket connection, which no other process holds: they use
 *   the switch through the node connection's operations (node-ops.ts), and read whether
 *   it is up from its protected table `names.switchTable` (row `status`), which goes
 *   with the process.
 * - Per-call processes are registered under `names.control(callId)` /
 *   `names.events(callId)`; the node connection finds them there to deliver switch events.
 * - `publish(env, id, fields, queue?)` builds the catalogue message `id` (App-Name
 *   ecallmgr) and publishes it where the catalogue says (a `queue` route needs `queue`),
 *   with the AMQP headers the entry asks for. It rejects when the message is invalid or
 *   the bus refuses; callers log it. `publishMandatory` is the same, confirmed by the
 *   broker and mandatory: it rejects with PublishUnroutableError when no queue took it.
 */
import { build, destination, type BuildContext, type Envelope } from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type BusTransport } from '../../src/bus/index.ts';
import { FIFE_VERSION } from '../../src/version.ts';
import type { EcallmgrSettings, SwitchConfig } from './config.ts';
import type { SwitchIdentity } from './event-convert.ts';

export const APP_NAME = 'ecallmgr';
/** The package's version (one version for all of Fife). */
export const APP_VERSION = FIFE_VERSION;

export interface EcallmgrEnv {
  readonly bus: BusTransport;
  readonly settings: EcallmgrSettings;
  /** The Fife node name (Node header). */
  readonly node: string;
}

export interface SwitchLink {
  readonly config: SwitchConfig;
  readonly identity: SwitchIdentity;
}

export function switchLink(config: SwitchConfig): SwitchLink {
  return Object.freeze({
    config,
    identity: Object.freeze({ name: config.name, url: `esl://${config.host}:${config.port}` }),
  });
}

export const names = {
  control: (callId: string): string => `ecallmgr_call_control:${callId}`,
  events: (callId: string): string => `ecallmgr_call_events:${callId}`,
  /** The call's table, owned by its supervisor (call-control.ts CallRows). */
  callTable: (callId: string): string => `ecallmgr_call:${callId}`,
  node: (sw: string): string => `ecallmgr_node:${sw}`,
  /** The node supervisor's TableKeeper (heir of the calls table). */
  nodeTables: (sw: string): string => `ecallmgr_node_tables:${sw}`,
  /** The switch's known calls (call-id -> true), owned by its node connection. */
  callsTable: (sw: string): string => `ecallmgr_calls:${sw}`,
  /** The switch connection's status (row `status`), owned by its node connection, gone with it. */
  switchTable: (sw: string): string => `ecallmgr_switch:${sw}`,
  router: (sw: string): string => `ecallmgr_router:${sw}`,
  authn: (sw: string): string => `ecallmgr_authn:${sw}`,
  /** The switch's switch_command listener (`switch.command.<node>`). */
  commands: (sw: string): string => `ecallmgr_switch_commands:${sw}`,
  calls: 'ecallmgr_calls_sup',
  /** One temporary originate process per originate_req (originate.ts). */
  originates: 'ecallmgr_originate_sup',
  originateListener: 'ecallmgr_originate_listener',
  /** The originate process that checks and bridges a leg to this caller now (originate.ts). */
  bridging: (callId: string): string => `ecallmgr_bridging:${callId}`,
};

export const buildContext = (env: EcallmgrEnv): BuildContext => ({
  appName: APP_NAME,
  appVersion: APP_VERSION,
  node: env.node,
});

export function publish(
  env: EcallmgrEnv,
  id: string,
  fields: Record<string, unknown>,
  queue?: string,
): Promise<Envelope> {
  return send(env, id, fields, queue, false);
}

export function publishMandatory(
  env: EcallmgrEnv,
  id: string,
  fields: Record<string, unknown>,
  queue?: string,
): Promise<Envelope> {
  return send(env, id, fields, queue, true);
}

async function send(
  env: EcallmgrEnv,
  id: string,
  fields: Record<string, unknown>,
  queue: string | undefined,
  mandatory: boolean,
): Promise<Envelope> {
  const msg = build(id, fields, buildContext(env));
  const d = destination(id, msg, queue);
  const props = jsonProperties(Object.keys(d.headers).length > 0 ? { headers: d.headers } : undefined);
  if (mandatory)
    await env.bus.publishConfirmed(d.exchange, d.routingKey, encodeJson(msg), { ...props, mandatory });
  else await env.bus.publish(d.exchange, d.routingKey, encodeJson(msg), props);
  return msg;
}
