/**
 * Kazoo's exchanges as data (Kazoo's `kz_amqp.hrl`), so the bus can declare them
 * at start and on every reconnect.
 *
 * Contract
 * - `EXCHANGES` lists every exchange with its AMQP type and declare options (kz_amqp.hrl's,
 *   plus `switch`, which Kazoo's kapi_switch declares itself). Options are
 *   Kazoo's: durable=false, auto_delete=false, internal=false. They must match exactly:
 *   RabbitMQ refuses a re-declare with other flags (406 PRECONDITION_FAILED), and real peers
 *   (Kazoo VMs, Kamailio's kazoo module) expect these.
 * - `exchange(name)` returns the declaration of one exchange; an unknown name is a
 *   programming error and throws.
 * - Pure data, no I/O.
 */

export type ExchangeType = 'direct' | 'topic' | 'fanout';

export interface ExchangeOptions {
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
}

export interface ExchangeDecl {
  readonly name: ExchangeName;
  readonly type: ExchangeType;
  readonly options: ExchangeOptions;
  readonly purpose: string;
}

export type ExchangeName =
  | 'targeted'
  | 'callctl'
  | 'callevt'
  | 'callmgr'
  | 'resources'
  | 'conference'
  | 'monitor'
  | 'configuration'
  | 'kapps'
  | 'presence'
  | 'notifications'
  | 'sysconf'
  | 'bookkeepers'
  | 'nodes'
  | 'registrar'
  | 'leader'
  | 'tasks'
  | 'switch';

const KAZOO_OPTIONS: ExchangeOptions = Object.freeze({ durable: false, autoDelete: false, internal: false });

function decl(name: ExchangeName, type: ExchangeType, purpose: string): ExchangeDecl {
  return Object.freeze({ name, type, options: KAZOO_OPTIONS, purpose });
}

export const EXCHANGES: readonly ExchangeDecl[] = Object.freeze([
  decl('targeted', 'direct', 'point-to-point replies: routing key = the receiving queue name (a Server-ID)'),
  decl('callctl', 'direct', "dialplan commands: routing key = the call's Control-Queue"),
  decl('callevt', 'topic', 'call events call.<EVENT>.<call-id>, dialplan errors, usurp_control'),
  decl('callmgr', 'topic', 'requests to apps: authn.req.*, route.req.*, acdc.member.*'),
  decl('resources', 'topic', 'originate / offnet resource requests'),
  decl('conference', 'topic', 'conference discovery, commands, events'),
  decl('monitor', 'topic', 'legacy monitoring'),
  decl('configuration', 'topic', 'document changes doc_<action>.<db>.<type>.<id> (cache flushing)'),
  decl('kapps', 'topic', 'inter-app traffic (ACDC sync, stats, agent status)'),
  decl('presence', 'topic', 'presence and MWI'),
  decl('notifications', 'topic', 'notification events (register, deregister, voicemail, ...)'),
  decl('sysconf', 'topic', 'system_config reads and writes'),
  decl('bookkeepers', 'topic', 'billing'),
  decl('nodes', 'fanout', 'node heartbeats (nodes/advertise), routing key empty'),
  decl(
    'registrar',
    'topic',
    'registration.success|query|flush.*, registration.sync; authn.endpoint.req.* from Kazoo-5-era Kamailio',
  ),
  decl('leader', 'topic', 'leader election'),
  decl('tasks', 'topic', 'tasks app discovery'),
  decl(
    'switch',
    'topic',
    'switch.command.<node>: commands for the ecallmgr of one FreeSWITCH node (kapi_switch)',
  ),
]);

const BY_NAME: ReadonlyMap<string, ExchangeDecl> = new Map(EXCHANGES.map((e) => [e.name, e]));

/** The declaration of one exchange. Throws on a name Kazoo does not have. */
export function exchange(name: ExchangeName): ExchangeDecl {
  const found = BY_NAME.get(name);
  if (found === undefined) {
    throw new Error(`unknown exchange '${name}': known exchanges are ${[...BY_NAME.keys()].join(', ')}`);
  }
  return found;
}
