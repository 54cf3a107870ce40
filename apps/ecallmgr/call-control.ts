/**
 * call_control: one per call. Owns the call's control queue on the bus and its FIFO of
 * dialplan commands, and runs them on the switch one at a time (Kazoo's
 * ecallmgr_call_control).
 *
 * Contract
 * - A gen_listener (src/bus/gen-listener.ts) on the call's control queue
 *   (`<node>-ctl-<call-id>`, bound to `callctl` with that name as routing key; the same
 *   name after a restart, so the controlling app keeps reaching the call). A routed
 *   call's first queue is set up after init (the start does not hold the calls
 *   supervisor, which starts one call at a time, for the broker's round trips; an
 *   originated leg's start, and a restart, still wait for it). Once it consumes, the first time only (the call's table,
 *   owned by the call's supervisor, keeps `route_win_sent` across restarts), publishes
 *   route_win to the winner's queue (Control-Queue = that queue, Msg-ID = Call-ID,
 *   Server-ID = the queue) and usurp_control (Fetch-ID = this routing's, Reason
 *   Route-Win) on `call.usurp_control.<call-id>`, and asks the node connection whether the
 *   call was destroyed while it was being routed (then it gets channel_gone). route_win
 *   is published confirmed and mandatory, the broker's answer coming back as a message
 *   (the mailbox is not held for it). When it comes back unroutable (the winner's
 *   queue is gone: the node that answered died), the call is routed again by the switch's
 *   router (router.ts `reroute`: the same route_req, a new Msg-ID), and route_win goes to
 *   the new winner (its Routes, for a bridge, queued as the first command); at most
 *   MAX_ROUTE_ROUNDS route_req rounds in all, then the call is hung up
 *   NO_ROUTE_DESTINATION (logged at warn with the call-id), as is a call no router can
 *   route again. usurp_control goes once, after the first route_win, whatever came of it.
 *   A route_win the bus could not publish or confirm (down past publishTimeoutMs) is
 *   logged at error; the call is left to that winner (it may have it).
 *   A winner that dies after its route_win was delivered: the node connection passes on the
 *   cluster view's `node_expired` as `{type:'controller_node_gone', node}`. When `node` is
 *   the current controller's (its route_resp's envelope Node, CCV Application-Node), the
 *   call is not over, not being routed again already, and not bridged (between a
 *   CHANNEL_BRIDGE and its CHANNEL_UNBRIDGE: its parties talk, it is left alone, logged at
 *   warn), and not waiting in a shared queue (a `set` command gave it the Custom-Channel-Var
 *   Queue-ID, as callflow's acdc_member does while the caller waits: the queue's workers
 *   on the other nodes serve it, and routing it again would queue the caller twice; left
 *   alone, logged at warn), the call is routed again (warn `the node controlling the call is gone: routing
 *   the call again`, with the gone `node` and `controller`): the controller's queued
 *   commands are dropped and its running one broken (`uuid_break all`), and the router
 *   publishes the route_req again with a new Fetch-ID (so the new winner's executor is told
 *   apart from the old one); up to MAX_ROUTE_ROUNDS rounds from there, as above. Once the
 *   new winner's route_win is delivered, usurp_control goes out with that Fetch-ID: an old
 *   controller that was only cut off, not dead, stops when it hears it (Kazoo's
 *   usurp_control). The call's routing state (current winner, Fetch-ID) lives in this
 *   process: a restarted call_control knows only the first routing's. A
 *   usurp_control for the call with another Fetch-ID than the current routing's (another
 *   ecallmgr routed it again) stops the process, `normal`,
 *   without touching the call. After a restart it asks the switch whether the channel still
 *   exists and ends the call's control if not.
 * - Every delivery is validated against the catalogue before it reaches the process: an
 *   invalid command is logged with its reason and answered with an `error` message to its
 *   Server-ID; it never reaches the queue. Valid `call/command` messages are cast into the
 *   process in arrival order (one responder for every message); anything else valid is
 *   logged and dropped.
 * - The switch is reached only through the node connection's operations (node-ops.ts):
 *   each answer comes back as a message through the node connection's mailbox, after the
 *   switch events that came before it on the socket.
 * - Commands are inserted by Insert-At (insert-at.ts) and executed one at a time; the
 *   next starts when the switch's CHANNEL_EXECUTE_COMPLETE (or the api reply) for the
 *   current one arrives. The switch answering `-ERR invalid session id` means the
 *   channel is gone: the call ends as if destroyed (call_events publishes a
 *   CHANNEL_DESTROY). A command the switch refuses otherwise, or that this ecallmgr
 *   cannot run, is answered with a dialplan error event (call.dialplan.<call-id>) and
 *   skipped. `flush`
 *   breaks the running application (uuid_break all) and starts over with the new command.
 * - Each command runs through bridge.ts: planned first (its CCVs set on the channel
 *   first; a bridge's registrations looked up by reg_lookup beside the mailbox, its plan
 *   coming back as a message; any other command planned at once), then run on the switch
 *   by the node connection as one sequence (a bridge: one xferext). A failure of ecallmgr's own (CommandFailedError, e.g. no
 *   endpoint to dial) is a dialplan error, and the queue goes on. A bridge with
 *   B-Leg-Events tells call_events which events of the bridged leg to publish. A bridge
 *   route_resp's Routes (`routes`) are queued as the call's first command, once (not
 *   after a restart).
 * - Legs the call is bridged to (its CHANNEL_BRIDGE's other leg) are kept: a command
 *   whose Call-ID names one runs on that leg (Kazoo's which_call_leg/3); that leg found
 *   gone (`invalid session id`) is forgotten with a dialplan error, the call goes on.
 *   `otherLegOf(rt, callId)` asks the call's call_control for the leg bridged last
 *   (channel_status_resp's Other-Leg-Call-ID); undefined when none or no such process.
 * - A leg ecallmgr originated (`originated`) sends no route_win or usurp_control: its
 *   requester already has the control queue.
 * - Phases and moves: call-phase.ts (the table is enforced). CHANNEL_HANGUP ->
 *   hanging_up: the queue is flushed (logged), nothing more runs, later commands get a
 *   dialplan error. CHANNEL_DESTROY (or the channel found gone, or the switch away longer
 *   than nodeDownMaxMs) -> hungup: after keepAliveMs without commands the process stops
 *   with `normal` (and with it the call's supervisor). hanging_up never ends on a timer
 *   alone: the call's processes stop only once its CHANNEL_DESTROY has reached call_events
 *   (or call_events was told to publish one). After max(keepAliveMs, nodeDownMaxMs)
 *   without it the switch is asked (`uuid_exists`, answered through the node connection's
 *   mailbox, so after the events that preceded the answer): gone -> the DESTROY was lost,
 *   the call ends as channel_gone (call_events publishes a CHANNEL_DESTROY, Disposition
 *   channel_gone); there -> asked again later; the switch away for nodeDownMaxMs -> the
 *   same channel_gone end.
 * - Every `channelCheckMs` while the call is up (active or executing, the switch
 *   connected), the switch is asked whether the channel still exists (`uuid_exists`, Kazoo's
 *   call_control sanity check): a channel that vanished with none of its events reaching
 *   this node (they went nowhere while a process of the call was down) ends the call as
 *   channel_gone, call_events publishing its CHANNEL_DESTROY. So does a restart that finds
 *   the channel gone.
 * - While the switch connection is down the queue is kept and commands are queued, not
 *   run; a command that was running when the connection dropped is counted as done (its
 *   completion event is lost with the connection) and logged.
 * - Whatever way the process ends (normal, crash, kill), its consumer is cancelled; a
 *   restarted successor waits for that before consuming the same queue (gen_listener's
 *   `takeOver`; `controlReleased` resolves once the current consumer is cancelled).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  GenServer,
  Table,
  noreply,
  ok,
  reply,
  stop,
  unexpected,
  type Logger,
  type Pid,
  type ProcessContext,
  type Ref,
  type Runtime,
} from '../../src/kernel/index.ts';
import { callEventKey } from '../../src/api/index.ts';
import { PublishUnroutableError, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import { GenListener, type GenListenerBehaviour, type GenListenerEvent } from '../../src/bus/gen-listener.ts';
import { EslChannelGoneError, EslCommandError, EslDisconnectedError } from '../../src/switch/index.ts';
import { names, publish, publishMandatory, type EcallmgrEnv, type SwitchLink } from './context.ts';
import type { RerouteMsg, ReroutedMsg } from './router.ts';
import { NodeDownError, castSwitchOp, switchUp, type SwitchOp, type SwitchReply } from './node-ops.ts';
import { appOf, insertCommand } from './insert-at.ts';
import { switchAction } from './switch-action.ts';
import { CommandFailedError, planCommand, routesBridge, type CommandPlan } from './bridge.ts';
import { lookupContacts } from './reg-lookup.ts';
import { publishCallEvent } from './originate-routing.ts';
import { storeEventFields, storeFailure } from './store-event.ts';
import { checkMove, allowed, isOver, type Input, type Phase } from './call-phase.ts';

export interface CallControlArgs {
  readonly callId: string;
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
  /** The winner's queue (route_resp Server-ID): route_win goes there. */
  readonly controllerQueue: string;
  readonly ccvs: Record<string, unknown>;
  /** A leg ecallmgr originated (originate.ts): its requester already has the control
   *  queue, so no route_win or usurp_control is sent. */
  readonly originated?: boolean;
  /** A bridge route_resp's Routes: dialled as the call's first command (bridge.ts). */
  readonly routes?: readonly unknown[];
  /** The route_req that routed the call: asked again if route_win comes back (router.ts). */
  readonly routeReq?: Envelope;
}

/** route_req rounds a call may take (the first included) while its winners are gone. */
export const MAX_ROUTE_ROUNDS = 3;

/** The call's table (`names.callTable`), owned by the call's supervisor: what every
 *  incarnation of its call_control must know of the ones before it. */
export type CallRows = { key: 'route_win_sent' | 'events_started'; value: true };
type CallTable = Table<CallRows['key'], CallRows['value']>;

interface State {
  readonly a: CallControlArgs;
  readonly rt: Runtime;
  readonly log: Logger;
  readonly queueName: string;
  /** Not the call's first call_control (route_win was sent by a predecessor). */
  restarted?: boolean;
  /** Who route_win goes to (the args' winner, or a re-route's): see sendRouteWin. */
  win: { controller: string; ccvs: Record<string, unknown>; routes: readonly unknown[] | undefined };
  /** route_req rounds so far (1: the router's first); numbers every round, never reset. */
  round: number;
  /** The round the current routing began with (1, or a re-route after the controller's
   *  node left): MAX_ROUTE_ROUNDS counts from it. */
  firstRound: number;
  /** A re-route is out: the router's `rerouted` (or its hang-up) is awaited. */
  routing: boolean;
  /** The route_req to ask again (args' routeReq; a new Fetch-ID after the controller's node left). */
  req: Envelope | undefined;
  /** The current routing's Fetch-ID: a usurp_control with another one stops this process. */
  fetchId: unknown;
  /** usurp_control goes out once the current route_win is delivered (a re-route after the
   *  controller's node left). */
  usurpOnWin: boolean;
  /** The leg the call is bridged to now (CHANNEL_BRIDGE until CHANNEL_UNBRIDGE). */
  bridged: string | undefined;
  /** The shared queue the caller waits in (a `set` of the Custom-Channel-Var Queue-ID, as
   *  callflow's acdc_member sends; '' clears it): its workers on every node serve the call. */
  queueId: string | undefined;
  phase: Phase;
  queue: Envelope[];
  current: { cmd: Envelope; seq: number } | undefined;
  seq: number;
  timer: Ref | undefined;
  /** The next periodic channel check (channelCheckMs). */
  checkTimer: Ref | undefined;
  /** Legs bridged to the call (CHANNEL_BRIDGE's Other-Leg-Unique-ID): a command whose
   *  Call-ID is one of them runs on that leg (Kazoo's which_call_leg/3). */
  otherLegs: Set<string>;
}

/** What a switch operation was for: its answer comes back as a SwitchReply with this tag. */
type OpTag =
  | { op: 'exec'; seq: number; leg?: string; upload?: { callId: string; file: string } }
  | { op: 'break' }
  | { op: 'resync' }
  | { op: 'destroy_check' }
  | { op: 'channel_check' }
  | { op: 'no_route_hangup' };

type Msg =
  | SwitchReply
  | GenListenerEvent
  | { type: 'switch_event'; ev: { name: string; otherLeg?: string } }
  | { type: 'planned'; seq: number; leg?: string; plan?: CommandPlan; error?: unknown }
  | { type: 'node_down' }
  | { type: 'node_up' }
  | { type: 'channel_gone' }
  | { type: 'channel_check' }
  | { type: 'controller_node_gone'; node: string }
  | ReroutedMsg
  | { type: 'route_win_out'; round: number; error?: unknown }
  | { type: 'timer'; input: 'keepalive_timeout' | 'node_timeout' };

const MAX_COMMAND_BYTES = 1024 * 1024;

/**
 * Resolves once the consumer of the call's current call_control is cancelled, after that
 * process has ended (however it ends); at once if none consumes. Read it while the call is
 * up, await it after its end.
 */
export function controlReleased(bus: BusTransport, node: string, callId: string): Promise<void> {
  return GenListener.released(bus, controlQueueName(node, callId));
}

/**
 * `<node>-ctl-<call-id>`; when that passes AMQP's 255-byte limit for a queue name (a long
 * node name or call-id), the call-id part becomes its SHA-256 (40 hex), so every call still
 * gets a queue of its own instead of a refused declaration.
 */
export const controlQueueName = (node: string, callId: string): string => {
  const name = `${node}-ctl-${callId}`;
  if (name.length <= 85 || Buffer.byteLength(name, 'utf8') <= 255) return name;
  return `${node.slice(0, 180)}-ctl-${createHash('sha256').update(callId).digest('hex').slice(0, 40)}`;
};

const live = (s: State): boolean => switchUp(s.rt, s.a.link);

/** Asks the node connection to run `op`; its answer comes back as a SwitchReply tagged `tag`
 *  (through the node connection's mailbox, so after the switch events that preceded it). */
function ask(s: State, ctx: ProcessContext, op: SwitchOp, tag: OpTag): void {
  if (!castSwitchOp(ctx, s.a.link, op, tag))
    ctx.send(ctx.self, {
      type: 'switch_reply',
      tag,
      error: new NodeDownError(s.a.link.identity.name, op.kind),
    } satisfies SwitchReply);
}

function move(s: State, input: Input, next: Phase): void {
  checkMove(s.phase, input, next);
  if (s.phase !== next) s.log.debug({ from: s.phase, to: next, input }, 'call_control phase');
  s.phase = next;
}

function arm(s: State, ctx: ProcessContext, ms: number, input: 'keepalive_timeout' | 'node_timeout'): void {
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = ctx.sendAfter(ms, { type: 'timer', input });
}

function dialplanError(s: State, cmd: Envelope | undefined, message: string): void {
  s.log.warn({ app: cmd === undefined ? undefined : appOf(cmd), reason: message }, 'dialplan command failed');
  publish(s.a.env, 'dialplan_error', {
    'Call-ID': s.a.callId,
    'Error-Message': message,
    Request: cmd,
    'Msg-ID': cmd?.['Msg-ID'],
  }).catch((err: unknown) => s.log.error({ err }, 'could not publish the dialplan error'));
}

/** Starts one command: planned beside the mailbox (a bridge looks its devices up), the
 *  plan comes back as `planned`, then runs on the switch; its completion comes back as a
 *  SwitchReply tagged exec (seen after the switch events that came before it on the
 *  socket: CHANNEL_HANGUP before the completion of the application it ended). */
function launch(s: State, ctx: ProcessContext, cmd: Envelope, seq: number): boolean {
  const uuid = targetLeg(s, cmd);
  const leg = uuid === s.a.callId ? undefined : uuid;
  const action = switchAction(cmd, uuid);
  if (action.kind === 'unsupported') {
    dialplanError(s, cmd, action.reason);
    return false;
  }
  s.log.debug({ app: appOf(cmd), seq, leg }, 'executing');
  const bLegEvents = cmd['B-Leg-Events'];
  if (action.kind === 'bridge' && Array.isArray(bLegEvents) && bLegEvents.length > 0) {
    const events = ctx.runtime.whereis(names.events(s.a.callId));
    if (events !== undefined) ctx.send(events, { type: 'b_leg_events', events: bLegEvents.map(String) });
  }
  const rt = ctx.runtime;
  const self = ctx.self;
  const lookup = (realm: string, user: string): Promise<string[]> => lookupContacts(rt, realm, user);
  const planned = planCommand({ uuid, cmd, lookup, log: s.log });
  if (planned instanceof Promise)
    planned.then(
      (plan) => ctx.send(self, { type: 'planned', seq, leg, plan } satisfies Msg),
      (error: unknown) => ctx.send(self, { type: 'planned', seq, leg, error } satisfies Msg),
    );
  else run(s, ctx, planned, { op: 'exec', seq, leg });
  return true;
}

/** Has the node connection run a command's plan; its outcome comes back tagged `tag`. */
function run(s: State, ctx: ProcessContext, plan: CommandPlan, tag: OpTag & { op: 'exec' }): void {
  const { upload } = plan;
  if (upload !== undefined)
    return ask(
      s,
      ctx,
      { kind: 'bgapi', command: upload.command },
      { ...tag, upload: { callId: plan.uuid, file: upload.file } },
    );
  const op: SwitchOp =
    plan.xferext === true
      ? { kind: 'xferext', callId: plan.uuid, steps: plan.steps }
      : { kind: 'sequence', callId: plan.uuid, steps: plan.steps, api: plan.api };
  ask(s, ctx, op, tag);
}

/** A command's plan is ready: run it, unless the command was flushed meanwhile. */
function onPlanned(s: State, ctx: ProcessContext, m: Extract<Msg, { type: 'planned' }>): void {
  const tag: OpTag = { op: 'exec', seq: m.seq, leg: m.leg };
  if (m.seq !== -1 && s.current?.seq !== m.seq) return; // flushed, or the call ended
  if (m.plan === undefined) return onSwitchReply(s, ctx, { type: 'switch_reply', tag, error: m.error });
  run(s, ctx, m.plan, tag);
}

/** The channel a command runs on: the call, or the bridged leg its Call-ID names. */
function targetLeg(s: State, cmd: Envelope): string {
  const id = cmd['Call-ID'];
  return typeof id === 'string' && s.otherLegs.has(id) ? id : s.a.callId;
}

/** Runs the next queued command if nothing runs; the phase that results. */
function runNext(s: State, ctx: ProcessContext): Phase {
  const up = live(s);
  while (s.current === undefined && s.queue.length > 0) {
    if (!up) return s.phase === 'node_down' ? 'node_down' : 'active';
    const cmd = s.queue.shift()!;
    const seq = ++s.seq;
    if (launch(s, ctx, cmd, seq)) s.current = { cmd, seq };
  }
  return s.current === undefined ? 'active' : 'executing';
}

/** The call is over: nothing more runs. After CHANNEL_HANGUP (hanging_up) it waits for
 *  CHANNEL_DESTROY, so that call_events publishes it before the call's supervisor stops
 *  (after max(keepAliveMs, nodeDownMaxMs) without it, it asks the switch: askDestroyed);
 *  once destroyed (hungup) it stays keepAliveMs for late commands. */
function hangupPhase(
  s: State,
  ctx: ProcessContext,
  input: 'hangup' | 'destroyed' | 'channel_gone' | 'node_timeout',
  why: string,
): void {
  if (s.queue.length > 0 || s.current !== undefined)
    s.log.info(
      { dropped: s.queue.length, running: s.current === undefined ? undefined : appOf(s.current.cmd), why },
      'call ended: command queue flushed',
    );
  s.queue = [];
  s.current = undefined;
  const next = input === 'hangup' && s.phase !== 'hungup' ? 'hanging_up' : 'hungup';
  const wasDestroyed = s.phase === 'hungup';
  move(s, input, next);
  if (wasDestroyed) return;
  const { keepAliveMs, nodeDownMaxMs } = s.a.env.settings;
  arm(
    s,
    ctx,
    next === 'hanging_up' ? Math.max(keepAliveMs, nodeDownMaxMs) : keepAliveMs,
    'keepalive_timeout',
  );
}

/**
 * The hanging-up wait ran out without a CHANNEL_DESTROY. Under load the DESTROY is often
 * not lost but still on its way: written by the switch, queued in this node's socket or in
 * the node connection's mailbox behind thousands of other events (a switch restart hangs
 * up every call at once). Ending the call now would stop call_events before that DESTROY
 * reaches it, and it would never be published. So the switch is asked (`uuid_exists`),
 * and its answer comes back through the node connection's mailbox: it is seen after every
 * event that came before the answer on the socket, the DESTROY among them. Gone and still
 * no DESTROY: it was lost, and the call ends as gone (call_events publishes a
 * CHANNEL_DESTROY with Disposition channel_gone). Still there: wait again. The switch
 * away: the node connection's resync (node_up / channel_gone) or nodeDownMaxMs decides.
 */
function askDestroyed(s: State, ctx: ProcessContext): void {
  const { keepAliveMs, nodeDownMaxMs } = s.a.env.settings;
  const waited = Math.max(keepAliveMs, nodeDownMaxMs);
  if (!live(s)) {
    s.log.info(
      { waited_ms: waited },
      'hung up, no CHANNEL_DESTROY yet and the switch is away: waiting for it to come back',
    );
    return arm(s, ctx, nodeDownMaxMs, 'node_timeout');
  }
  s.log.info(
    { waited_ms: waited },
    'hung up, no CHANNEL_DESTROY yet: asking the switch whether the channel still exists',
  );
  ask(s, ctx, { kind: 'api', command: `uuid_exists ${s.a.callId}` }, { op: 'destroy_check' });
}

/** The switch says the channel is gone, its CHANNEL_DESTROY never seen here: call_events
 *  publishes one (Disposition channel_gone) and the call ends. */
function channelGone(s: State, ctx: ProcessContext, why: string): void {
  handle(s, ctx, 'channel_gone', () => {
    s.log.warn({ why }, 'the switch no longer has the channel: ending the call as gone');
    const events = ctx.runtime.whereis(names.events(s.a.callId));
    if (events !== undefined) ctx.send(events, { type: 'channel_gone' });
    hangupPhase(s, ctx, 'channel_gone', why);
  });
}

/** The periodic check: asks the switch about a call that is up; the next one is armed. */
function channelCheck(s: State, ctx: ProcessContext): void {
  s.checkTimer = undefined;
  if (isOver(s.phase)) return;
  if (s.phase !== 'node_down' && live(s))
    ask(s, ctx, { kind: 'api', command: `uuid_exists ${s.a.callId}` }, { op: 'channel_check' });
  s.checkTimer = ctx.sendAfter(s.a.env.settings.channelCheckMs, { type: 'channel_check' } satisfies Msg);
}

function onDestroyCheck(
  s: State,
  ctx: ProcessContext,
  m: { exists: boolean | undefined; err?: string },
): void {
  if (s.phase !== 'hanging_up') return; // the DESTROY came first
  const { keepAliveMs, nodeDownMaxMs } = s.a.env.settings;
  if (m.exists === false) {
    s.log.warn(
      'hung up and the switch no longer has the channel, but its CHANNEL_DESTROY never came: ending the call as gone',
    );
    const events = ctx.runtime.whereis(names.events(s.a.callId));
    if (events !== undefined) ctx.send(events, { type: 'channel_gone' });
    return hangupPhase(s, ctx, 'channel_gone', 'CHANNEL_DESTROY lost');
  }
  if (m.exists === undefined)
    s.log.warn({ err: m.err }, 'could not ask the switch about a hung-up channel: asking again later');
  arm(s, ctx, Math.max(keepAliveMs, nodeDownMaxMs), 'keepalive_timeout');
}

function onCommand(s: State, ctx: ProcessContext, cmd: Envelope): void {
  if (isOver(s.phase)) {
    if (s.phase === 'hungup') arm(s, ctx, s.a.env.settings.keepAliveMs, 'keepalive_timeout');
    return dialplanError(s, cmd, `the call is down: ${appOf(cmd)} not executed`);
  }
  if (cmd['Call-ID'] !== s.a.callId && !s.otherLegs.has(String(cmd['Call-ID'])))
    return dialplanError(
      s,
      cmd,
      `command for call ${String(cmd['Call-ID'])} reached the control queue of ${s.a.callId}`,
    );
  if (appOf(cmd) === 'set') {
    const q = (cmd['Custom-Channel-Vars'] as Record<string, unknown> | undefined)?.['Queue-ID'];
    if (typeof q === 'string') s.queueId = q === '' ? undefined : q;
  }
  const r = insertCommand(s.queue, cmd);
  s.queue = r.queue;
  if (r.dropped.length > 0)
    s.log.info({ dropped: r.dropped.map(appOf), insert_at: cmd['Insert-At'] }, 'queued commands removed');
  const up = live(s);
  if (r.flush && s.current !== undefined) {
    s.current = undefined;
    if (up) ask(s, ctx, { kind: 'api', command: `uuid_break ${s.a.callId} all` }, { op: 'break' });
  }
  for (const now of r.now) {
    if (!up) {
      publish(s.a.env, 'call_event', {
        'Event-Name': 'CHANNEL_EXECUTE_ERROR',
        'Call-ID': s.a.callId,
        'Application-Name': appOf(now),
        'Application-Response': 'media node down',
      }).catch(() => undefined);
    } else launch(s, ctx, now, -1);
  }
  move(s, 'command', s.phase === 'node_down' ? 'node_down' : runNext(s, ctx));
}

function onExecDone(s: State, ctx: ProcessContext, m: { seq: number; error?: unknown; leg?: string }): void {
  if (
    m.leg !== undefined &&
    m.error instanceof EslCommandError &&
    m.error.reply.includes('invalid session id')
  ) {
    // The bridged leg is gone, not the call.
    s.otherLegs.delete(m.leg);
    if (!isOver(s.phase))
      dialplanError(s, s.current?.seq === m.seq ? s.current.cmd : undefined, `leg ${m.leg} is gone`);
  } else if (
    m.error instanceof EslCommandError &&
    m.error.reply.includes('invalid session id') &&
    !isOver(s.phase) &&
    s.phase !== 'node_down'
  ) {
    ctx.send(ctx.self, { type: 'channel_gone' } satisfies Msg);
    const events = ctx.runtime.whereis(names.events(s.a.callId));
    if (events !== undefined) ctx.send(events, { type: 'channel_gone' });
  } else if (m.error instanceof EslCommandError) {
    if (!isOver(s.phase))
      dialplanError(
        s,
        s.current?.seq === m.seq ? s.current.cmd : undefined,
        `the switch refused it: ${m.error.reply.trim()}`,
      );
  } else if (m.error instanceof CommandFailedError) {
    if (!isOver(s.phase))
      dialplanError(s, s.current?.seq === m.seq ? s.current.cmd : undefined, m.error.message);
  } else if (m.error instanceof EslDisconnectedError)
    s.log.warn(
      { seq: m.seq },
      'switch connection lost while a command ran: its outcome is unknown; counted as done',
    );
  else if (m.error !== undefined && !(m.error instanceof EslChannelGoneError))
    s.log.warn({ err: String(m.error) }, 'command failed');
  if (s.current?.seq !== m.seq) return; // a `now` or flushed command
  s.current = undefined;
  if (s.phase === 'executing') move(s, 'exec_done', runNext(s, ctx));
}

function handle(s: State, ctx: ProcessContext, input: Input, act: () => void): void {
  if (allowed(s.phase, input) === undefined) {
    s.log.debug({ phase: s.phase, input }, 'input ignored in this phase');
    return;
  }
  act();
}

type Cast = { type: 'command'; cmd: Envelope } | { type: 'usurp'; fetchId: string; node: unknown };

/** An answer of the switch (through the node connection) to one of this process's operations. */
function onSwitchReply(s: State, ctx: ProcessContext, m: SwitchReply): void {
  const tag = m.tag as OpTag;
  switch (tag.op) {
    case 'exec':
      if (tag.upload !== undefined) publishStoreEvent(s, tag.upload, m);
      return handle(s, ctx, 'exec_done', () =>
        onExecDone(s, ctx, {
          seq: tag.seq,
          error: tag.upload === undefined ? m.error : undefined,
          leg: tag.leg,
        }),
      );
    case 'break':
      if (m.error !== undefined) s.log.warn({ err: String(m.error) }, 'uuid_break for flush failed');
      return;
    case 'resync':
    case 'channel_check':
      if (m.error !== undefined)
        s.log.warn(
          { err: String(m.error), check: tag.op },
          'could not ask the switch whether the channel still exists',
        );
      else if (m.reply?.trim() !== 'true')
        channelGone(
          s,
          ctx,
          tag.op === 'resync' ? 'channel gone after a restart' : 'channel gone (periodic check)',
        );
      return;
    case 'no_route_hangup':
      if (m.error !== undefined)
        s.log.error({ err: String(m.error) }, 'could not hang up the call nobody can take');
      return;
    case 'destroy_check':
      return onDestroyCheck(
        s,
        ctx,
        m.error === undefined
          ? { exists: m.reply?.trim() === 'true' }
          : { exists: undefined, err: String(m.error) },
      );
  }
}

/** A store's upload ended: its outcome goes out as store's CHANNEL_EXECUTE_COMPLETE (not a dialplan error, as Kazoo). */
function publishStoreEvent(s: State, u: { callId: string; file: string }, m: SwitchReply): void {
  const fields = storeEventFields(u.callId, u.file, m);
  if (fields['Application-Response'] === 'success') s.log.debug({ file: u.file }, 'store: uploaded');
  else s.log.warn({ file: u.file, why: storeFailure(m) }, 'store: upload failed');
  publishCallEvent(s.a.env, fields, (err: unknown) =>
    s.log.error({ err }, 'could not publish the store event'),
  );
}

/** Consuming for the first time: the first incarnation tells the winner it won. */
async function onConsuming(s: State, ctx: ProcessContext): Promise<void> {
  const { a, log, queueName } = s;
  const table: CallTable = Table.open(ctx, names.callTable(a.callId));
  if (!table.insertNew('route_win_sent', true)) return;
  if (a.originated === true) {
    log.debug({ queue: queueName }, 'originated leg: control queue up');
    return;
  }
  sendRouteWin(s, ctx);
  await publish(a.env, 'usurp_control', {
    'Call-ID': a.callId,
    'Fetch-ID': a.ccvs['Fetch-ID'],
    Reason: 'Route-Win',
    'Media-Node': a.env.node,
  });
  // Events before this point had no process to go to: the node connection checks, in
  // its event order, that the call was not destroyed meanwhile.
  const node = s.rt.whereis(names.node(a.link.identity.name));
  if (node !== undefined) ctx.send(node, { type: 'call_started', callId: a.callId });
}

/**
 * Tells the current winner it won: route_win, confirmed and mandatory, to its queue. The
 * broker's answer comes back as `route_win_out` (the mailbox is not held for it: the
 * winner's first command may come before the confirm).
 */
function sendRouteWin(s: State, ctx: ProcessContext): void {
  const { a, queueName, win, round } = s;
  const self = ctx.self;
  publishMandatory(
    a.env,
    'route_win',
    {
      'Call-ID': a.callId,
      'Control-Queue': queueName,
      'Custom-Channel-Vars': win.ccvs,
      'Msg-ID': a.callId,
      'Server-ID': queueName,
      'Switch-Hostname': a.link.config.host,
    },
    win.controller,
  ).then(
    () => ctx.send(self, { type: 'route_win_out', round } satisfies Msg),
    (error: unknown) => ctx.send(self, { type: 'route_win_out', round, error } satisfies Msg),
  );
}

/**
 * The broker's answer to route_win. Delivered: a bridge winner's Routes are queued as the
 * call's first command. Unroutable (the winner's queue is gone): routeAgain. Anything else
 * (the bus away past publishTimeoutMs, the confirm lost): it may or may not have arrived,
 * so the call is left to that winner, logged at error.
 */
function onRouteWinOut(s: State, ctx: ProcessContext, m: { round: number; error?: unknown }): void {
  const { a, log, win } = s;
  if (m.round !== s.round) return log.warn({ round: m.round }, 'answer to an earlier route_win dropped');
  if (m.error instanceof PublishUnroutableError) {
    if (isOver(s.phase))
      return log.info({ controller: win.controller }, 'route_win came back unroutable; the call is over');
    return routeAgain(s, ctx);
  }
  if (m.error !== undefined)
    return log.error(
      { err: String(m.error), controller: win.controller },
      'route_win could not be published: the call is left to its winner, which may not have it',
    );
  log.debug({ controller: win.controller, queue: s.queueName, round: s.round }, 'route_win sent');
  if (s.usurpOnWin) {
    s.usurpOnWin = false;
    // The new winner takes the call: a controller that was cut off, not dead, stops.
    publish(a.env, 'usurp_control', {
      'Call-ID': a.callId,
      'Fetch-ID': s.fetchId,
      Reason: 'Route-Win',
      'Media-Node': a.env.node,
    }).catch((err: unknown) => log.error({ err: String(err) }, 'could not publish usurp_control'));
  }
  if (win.routes !== undefined)
    GenServer.cast(s.rt, ctx.self, {
      type: 'command',
      cmd: routesBridge(a.callId, win.routes, win.controller),
    } satisfies Cast);
}

/** route_win came back: another route_req round by the router, or, after MAX_ROUTE_ROUNDS
 *  (or with no router to ask), the call is hung up NO_ROUTE_DESTINATION. */
function routeAgain(s: State, ctx: ProcessContext): void {
  const { a, log, win } = s;
  const router = ctx.runtime.whereis(names.router(a.link.identity.name));
  const rounds = s.round - s.firstRound + 1;
  const exhausted = rounds >= MAX_ROUTE_ROUNDS;
  if (exhausted || router === undefined || s.req === undefined) {
    const why = exhausted ? `after ${rounds} route_req rounds` : 'and no router runs to route it again';
    log.warn(
      { controller: win.controller, round: s.round },
      `route_win came back unroutable (the winner's queue is gone) ${why}: hanging up NO_ROUTE_DESTINATION`,
    );
    return hangupNoRoute(s, ctx);
  }
  s.round++;
  log.warn(
    { controller: win.controller, round: s.round },
    "route_win came back unroutable (the winner's queue is gone): routing the call again",
  );
  askRouter(s, ctx, router);
}

/** No winner can take the call: it is hung up NO_ROUTE_DESTINATION. */
function hangupNoRoute(s: State, ctx: ProcessContext): void {
  ask(
    s,
    ctx,
    { kind: 'hangup', callId: s.a.callId, cause: 'NO_ROUTE_DESTINATION' },
    { op: 'no_route_hangup' },
  );
}

function askRouter(s: State, ctx: ProcessContext, router: Pid): void {
  s.routing = true;
  ctx.send(router, {
    type: 'reroute',
    callId: s.a.callId,
    req: s.req!,
    round: s.round,
    control: ctx.self,
  } satisfies RerouteMsg);
}

/**
 * A node left the cluster view. If it ran the call's controller and nobody is talking (not
 * bridged), the controller's commands are dropped, its running one broken, and the call
 * routed again with a new Fetch-ID; a bridged call is left to its parties.
 */
function onControllerNodeGone(s: State, ctx: ProcessContext, node: string): void {
  const { a, log, win } = s;
  if (a.originated === true || win.ccvs['Application-Node'] !== node || isOver(s.phase)) return;
  if (s.routing) return log.info({ node }, 'controller node gone while the call is being routed again');
  if (s.bridged !== undefined)
    return log.warn(
      { node, controller: win.controller, other_leg: s.bridged },
      'the node controlling the call is gone; the call is bridged: left to its parties',
    );
  if (s.queueId !== undefined)
    // Routing it again would queue the caller twice: the queue's workers on the other
    // nodes hold its member_call and serve it.
    return log.warn(
      { node, controller: win.controller, queue_id: s.queueId },
      'the node controlling the call is gone; the caller waits in a shared queue: left to it',
    );
  const router = ctx.runtime.whereis(names.router(a.link.identity.name));
  if (router === undefined || s.req === undefined) {
    log.warn(
      { node, controller: win.controller },
      'the node controlling the call is gone and no router runs to route it again: hanging up NO_ROUTE_DESTINATION',
    );
    return hangupNoRoute(s, ctx);
  }
  handle(s, ctx, 'controller_gone', () => {
    const dropped = s.queue.map(appOf);
    const running = s.current === undefined ? undefined : appOf(s.current.cmd);
    s.queue = [];
    if (s.current !== undefined) {
      s.current = undefined;
      if (live(s)) ask(s, ctx, { kind: 'api', command: `uuid_break ${a.callId} all` }, { op: 'break' });
    }
    move(s, 'controller_gone', s.phase === 'node_down' ? 'node_down' : 'active');
    s.fetchId = randomUUID();
    const ccvs = (s.req!['Custom-Channel-Vars'] ?? {}) as Record<string, unknown>;
    s.req = { ...s.req!, 'Custom-Channel-Vars': { ...ccvs, 'Fetch-ID': s.fetchId } };
    s.usurpOnWin = true;
    s.round++;
    s.firstRound = s.round;
    log.warn(
      { node, controller: win.controller, round: s.round, dropped, running },
      'the node controlling the call is gone: routing the call again',
    );
    askRouter(s, ctx, router);
  });
}

/** The router found another winner: it gets route_win (unless the call ended meanwhile). */
function onRerouted(s: State, ctx: ProcessContext, m: ReroutedMsg): void {
  if (m.round !== s.round) return s.log.warn({ round: m.round }, 'stale re-route answer dropped');
  s.routing = false;
  if (isOver(s.phase)) return s.log.info({ controller: m.controller }, 'call ended while routed again');
  s.win = { controller: m.controller, ccvs: m.ccvs, routes: m.routes };
  sendRouteWin(s, ctx);
}

/** The leg the call was bridged to last, from its call_control; undefined if none or gone. */
export async function otherLegOf(rt: Runtime, callId: string): Promise<string | undefined> {
  if (rt.whereis(names.control(callId)) === undefined) return undefined;
  try {
    return await GenServer.call<string | undefined>(rt, names.control(callId), { type: 'other_leg' }, 5000);
  } catch (err) {
    rt.log.warn({ err: String(err), call_id: callId }, 'call_control did not say its other leg');
    return undefined;
  }
}

export const CallControl: GenListenerBehaviour<State, CallControlArgs, { type: 'other_leg' }, Cast> = {
  name: 'ecallmgr_call_control',

  listen(a) {
    const queue = controlQueueName(a.env.node, a.callId);
    return {
      name: 'call_control',
      logBindings: { call_id: a.callId },
      queue,
      // A restart consumes the same queue only once its predecessor's consumer is cancelled.
      takeOver: true,
      // A routed call's first start does not wait for the broker (the calls supervisor
      // starts one call at a time): the queue comes after init, and route_win goes once it
      // consumes. An originated leg's requester is told the queue when the start returns,
      // and a restarted one's controller already sends to it: then it must be up.
      setUpAfterInit: (s: State) => a.originated !== true && !s.restarted,
      bindings: [
        { exchange: 'callctl', routingKey: queue },
        { exchange: 'callevt', routingKey: callEventKey('usurp_control', a.callId) },
      ],
      selfBinding: false,
      exclusiveConsumer: false,
      maxMessageBytes: MAX_COMMAND_BYTES,
      responders: [
        {
          category: '*',
          name: '*',
          handler: (m, hctx) => {
            if (m['Event-Category'] === 'call' && m['Event-Name'] === 'command')
              GenServer.cast(hctx.runtime, hctx.server, { type: 'command', cmd: m } satisfies Cast);
            else if (m['Event-Name'] === 'usurp_control')
              GenServer.cast(hctx.runtime, hctx.server, {
                type: 'usurp',
                fetchId: String(m['Fetch-ID']),
                node: m['Media-Node'],
              } satisfies Cast);
            else
              hctx.log.warn(
                { category: m['Event-Category'], name: m['Event-Name'] },
                'call_control: not a dialplan command; dropped',
              );
          },
        },
      ],
    };
  },

  init(a, ctx) {
    const log = ctx.log.child({ call_id: a.callId });
    const s: State = {
      a,
      rt: ctx.runtime,
      log,
      queueName: controlQueueName(a.env.node, a.callId),
      phase: 'active',
      queue: [],
      current: undefined,
      seq: 0,
      timer: undefined,
      checkTimer: undefined,
      otherLegs: new Set(),
      win: { controller: a.controllerQueue, ccvs: a.ccvs, routes: a.routes },
      round: 1,
      firstRound: 1,
      routing: false,
      req: a.routeReq,
      fetchId: a.ccvs['Fetch-ID'],
      usurpOnWin: false,
      bridged: undefined,
      queueId: undefined,
    };
    s.checkTimer = ctx.sendAfter(a.env.settings.channelCheckMs, { type: 'channel_check' } satisfies Msg);
    const table: CallTable = Table.open(ctx, names.callTable(a.callId));
    s.restarted = table.lookup('route_win_sent') === true;
    if (s.restarted) {
      log.warn('call_control restarted: checking the channel');
      if (live(s)) ask(s, ctx, { kind: 'api', command: `uuid_exists ${a.callId}` }, { op: 'resync' });
    }
    if (!live(s)) {
      s.phase = 'node_down';
      arm(s, ctx, a.env.settings.nodeDownMaxMs, 'node_timeout');
    }
    return ok(s);
  },

  handleCast(msg, s, ctx) {
    if (msg.type === 'usurp') {
      if (msg.fetchId === String(s.fetchId)) return noreply(s);
      s.log.info(
        { fetch_id: msg.fetchId, media_node: msg.node },
        'call control usurped by another route_win: stopping',
      );
      checkMove(s.phase, 'usurped', 'stop');
      return stop('normal', s);
    }
    handle(s, ctx, 'command', () => onCommand(s, ctx, msg.cmd));
    return noreply(s);
  },

  // Not async: only the first `consuming` (route_win) waits; every other message is
  // handled without a promise.
  handleInfo(raw, s, ctx) {
    const m = raw as Msg;
    switch (m?.type) {
      case 'gen_listener':
        if (m.event === 'consuming' && m.recovered !== true)
          return onConsuming(s, ctx).then(() => noreply(s));
        break;
      case 'switch_reply':
        onSwitchReply(s, ctx, m);
        break;
      case 'rerouted':
        onRerouted(s, ctx, m);
        break;
      case 'route_win_out':
        onRouteWinOut(s, ctx, m);
        break;
      case 'switch_event':
        if (m.ev.name === 'CHANNEL_HANGUP')
          handle(s, ctx, 'hangup', () => hangupPhase(s, ctx, 'hangup', m.ev.name));
        else if (m.ev.name === 'CHANNEL_DESTROY')
          handle(s, ctx, 'destroyed', () => hangupPhase(s, ctx, 'destroyed', m.ev.name));
        else if (m.ev.name === 'CHANNEL_BRIDGE' && m.ev.otherLeg !== undefined) {
          s.otherLegs.add(m.ev.otherLeg);
          s.bridged = m.ev.otherLeg;
        } else if (m.ev.name === 'CHANNEL_UNBRIDGE') s.bridged = undefined;
        break;
      case 'planned':
        onPlanned(s, ctx, m);
        break;
      case 'channel_gone':
        handle(s, ctx, 'channel_gone', () =>
          hangupPhase(s, ctx, 'channel_gone', 'channel gone after a switch outage'),
        );
        break;
      case 'channel_check':
        channelCheck(s, ctx);
        break;
      case 'controller_node_gone':
        onControllerNodeGone(s, ctx, m.node);
        break;
      case 'node_down':
        handle(s, ctx, 'node_down', () => {
          move(s, 'node_down', isOver(s.phase) ? s.phase : 'node_down');
          if (s.phase === 'node_down') arm(s, ctx, s.a.env.settings.nodeDownMaxMs, 'node_timeout');
        });
        break;
      case 'node_up':
        handle(s, ctx, 'node_up', () => {
          if (s.phase === 'hanging_up')
            arm(
              s,
              ctx,
              Math.max(s.a.env.settings.keepAliveMs, s.a.env.settings.nodeDownMaxMs),
              'keepalive_timeout',
            );
          if (isOver(s.phase)) return move(s, 'node_up', s.phase);
          if (s.timer !== undefined) ctx.cancelTimer(s.timer);
          s.timer = undefined;
          if (s.phase === 'node_down') s.current = undefined;
          s.log.info({ queued: s.queue.length }, 'switch back: call resumed');
          move(s, 'node_up', runNext(s, ctx));
        });
        break;
      case 'timer':
        if (m.input === 'keepalive_timeout' && s.phase === 'hanging_up') {
          checkMove(s.phase, 'keepalive_timeout', 'hanging_up');
          askDestroyed(s, ctx);
          break;
        }
        if (m.input === 'keepalive_timeout' && s.phase === 'hungup') return stop('normal', s);
        if (m.input === 'node_timeout') {
          handle(s, ctx, 'node_timeout', () => {
            // Hung up already: its CHANNEL_DESTROY will not come from a switch this long away.
            const events =
              s.phase === 'hanging_up' ? ctx.runtime.whereis(names.events(s.a.callId)) : undefined;
            if (events !== undefined) ctx.send(events, { type: 'channel_gone' });
            hangupPhase(s, ctx, 'node_timeout', 'switch away too long');
          });
        }
        break;
      default:
        return unexpected(raw, s);
    }
    return noreply(s);
  },

  handleCall(req, _from, s) {
    if (req?.type !== 'other_leg') return reply(undefined, s);
    return reply([...s.otherLegs].at(-1), s);
  },

  describe: (s) => ({
    call_id: s.a.callId,
    phase: s.phase,
    queued: s.queue.length,
    running: s.current === undefined ? undefined : appOf(s.current.cmd),
    bridged: s.bridged !== undefined,
    queue: s.queueName,
  }),
};

export const callControlName = names.control;
