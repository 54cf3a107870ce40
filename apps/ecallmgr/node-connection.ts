/**
 * node connection: one per configured switch (Kazoo's ecallmgr_fs_node). Owns the
 * event-socket connection (EslConnection over modesl), subscribes to the events ecallmgr
 * needs, and hands each event to the process that wants it.
 *
 * Contract
 * - init claims the table of known calls (`names.callsTable`: call-id -> true, protected:
 *   every process reads, only this process writes) from the node supervisor's
 *   TableKeeper (`names.nodeTables`), which is its heir: when this process ends, however
 *   it ends, the rows pass to the keeper, and the restarted node connection claims them
 *   back and resynchronises those calls when it is up (as after a reconnect). An ended
 *   incarnation (a pending promise of it) can no longer read or write the table.
 * - init makes the event-socket connection, which only this process holds, lists its
 *   status (up or not, nothing else) in its own protected table `names.switchTable` (row
 *   `status`; no heir: it goes with this process) and starts connecting without waiting: a switch that
 *   is down at boot does not stop the app; the connection retries with backoff for ever.
 *   When the process ends, however it ends, the connection is closed.
 * - On every 'up': subscribes (first time; EslConnection re-applies it after a
 *   reconnect), reports the switch up to the node's cluster view (src/node/nodes.ts: the
 *   node's heartbeat lists it in Media-Servers, advertised at once), and, after a reconnect, resynchronises the calls
 *   it knows: `uuid_exists` for each; still there -> its call_control gets node_up; gone
 *   -> call_control and call_events get channel_gone (the CHANNEL_DESTROY was lost). A
 *   bridged leg (below) stays known only while its call is and `uuid_exists` finds it.
 *   Then (every 'up') parked inbound channels that no process controls (`show channels
 *   as json`; they parked while the connection was down, or before ecallmgr started) are
 *   read with `uuid_dump` and routed like a new CHANNEL_PARK.
 * - On 'down' (and when the process ends): reports the switch down (no longer in
 *   Media-Servers) and sends node_down to every call's control
 *   process (they keep their queues and wait).
 * - Event dispatch, in the switch's order: CHANNEL_PARK of a call it does not know (and
 *   that is no call's bridged leg, parked by an unbridge) -> the router (once per call); CHANNEL_HANGUP -> its call_control (it stops executing at once);
 *   every other event of a known call -> its call_events when that publishes it
 *   (event-convert.ts publishedName, read header by header, so an event not published is
 *   never decoded whole: the completions of set/park/bridge, say), and CHANNEL_DESTROY also to its
 *   call_control (then the call is forgotten), CHANNEL_BRIDGE also (its Other-Leg-Unique-ID
 *   only: the leg the call's commands may target), CHANNEL_UNBRIDGE also (its name only:
 *   call_control knows whether the call is bridged); from then on, until its
 *   CHANNEL_DESTROY, every event of that other leg -> the call's call_events as
 *   `other_leg_event` (it publishes those its bridge's B-Leg-Events name), and, when that
 *   leg is a known call itself (the caller an originate with Existing-Call-ID bridged its
 *   new leg to), to its own processes as well; REQUEST_PARAMS
 *   -> authn; other events (HEARTBEAT, unknown names, events of calls ecallmgr does not
 *   control) are counted and logged at debug level with why, then dropped.
 * - `{type:'call_started', callId}` (call_control, once its call's processes are up): a
 *   call no longer known (its CHANNEL_DESTROY came while it was being routed, before any
 *   process could take it) gets channel_gone, so its processes end and a CHANNEL_DESTROY
 *   is published.
 * - `{type:'track', callId, known}` (originate.ts): a leg ecallmgr is about to place is
 *   known (true: its park is not routed, it is resynchronised after a reconnect) or, when
 *   the originate failed before the switch made it, forgotten (false).
 * - The switch's operations for the other processes (node-ops.ts): `switch_op` (a call:
 *   api, execute, hangup, command, sequence, xferext) is answered with `{reply}` or `{error}` once
 *   the switch answered; `switch_op_cast` sends its outcome to the caller as a
 *   `switch_reply` message through this process's mailbox, in the order of the event
 *   stream (call_control's command completions never come before the switch events that
 *   preceded them). The operation starts at once; the mailbox does not wait for the
 *   switch's answer.
 * - A node leaving the cluster view (kernel event `cluster` / `node_expired`, from
 *   src/node/nodes.ts; this process listens while it lives) comes into the mailbox and
 *   goes on to every known call's call_control as `{type:'controller_node_gone', node}`:
 *   each call_control knows whether that node controlled its call (call-control.ts). One
 *   message per known call per node that expires; nothing per call otherwise.
 * - `{type:'drop_event_socket', reason?}` (fault injection, `fife chaos --drop-event-socket`):
 *   the event socket is dropped as by a network failure; 'down', then the reconnect and
 *   'up' follow as for any loss.
 * - Bad input from the switch (malformed frames, odd headers) is handled in EslConnection
 *   (logged, decoded leniently, or the socket dropped and re-made): it never crashes
 *   this process. A handler error is logged with the event name.
 */
import {
  GenServer,
  Table,
  TableKeeper,
  noreply,
  ok,
  reply,
  unexpected,
  type Pid,
  type GenServerBehaviour,
  type Logger,
  type ProcessContext,
  type ClusterEvent,
} from '../../src/kernel/index.ts';
import { EslConnection, eventHeader, type EslEvent } from '../../src/switch/index.ts';
import { reportMediaServer } from '../../src/node/nodes.ts';
import { names, type EcallmgrEnv, type SwitchLink } from './context.ts';
import type { SwitchOp, SwitchReply, SwitchRequest, SwitchStatus } from './node-ops.ts';
import { publishedName } from './event-convert.ts';

export interface NodeArgs {
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
  /** Reconnect backoff (tests shorten it). */
  readonly backoff?: { initialMs?: number; maxMs?: number };
}

interface State {
  readonly a: NodeArgs;
  readonly esl: EslConnection;
  readonly log: Logger;
  /** Known calls: kept by the TableKeeper across a restart of this process. */
  readonly calls: Table<string, true>;
  subscribed: boolean;
  ups: number;
  dropped: number;
  /** Legs bridged to a known call (CHANNEL_BRIDGE's other leg -> the call), until the
   *  leg's CHANNEL_DESTROY: their events go to the call's call_events. */
  readonly legs: Map<string, string>;
}

type Msg =
  | { type: 'esl_up' }
  | { type: 'esl_down'; reason: string }
  | { type: 'esl_event'; ev: EslEvent }
  | { type: 'relay'; to: Pid; msg: SwitchReply }
  | { type: 'call_started'; callId: string }
  | { type: 'track'; callId: string; known: boolean }
  | { type: 'drop_event_socket'; reason?: unknown }
  | { type: 'node_expired'; node: string };

export const SUBSCRIBED_EVENTS = [
  'CHANNEL_CREATE',
  'CHANNEL_ANSWER',
  'CHANNEL_HANGUP',
  'CHANNEL_DESTROY',
  'CHANNEL_PARK',
  'CHANNEL_EXECUTE',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_HOLD',
  'CHANNEL_UNHOLD',
  'CALL_UPDATE',
  'DTMF',
  'DETECTED_TONE',
  'RECORD_START',
  'RECORD_STOP',
  'REQUEST_PARAMS',
  'CUSTOM',
  'kazoo::noop',
  'kazoo::masquerade',
];

function sendTo(ctx: ProcessContext, name: string, msg: unknown): boolean {
  const pid = ctx.runtime.whereis(name);
  if (pid === undefined) return false;
  ctx.send(pid, msg);
  return true;
}

/** The node's cluster view lists the switch in its heartbeat's Media-Servers while it is up
 *  (Kazoo's kz_nodes with ecallmgr), and advertises the change at once. */
function announce(s: State, ctx: ProcessContext, status: 'up' | 'down', reason?: string): void {
  const { name, url } = s.a.link.identity;
  if (!reportMediaServer(ctx.runtime, { name, status, url }))
    s.log.debug({ status, reason }, 'no cluster view in this runtime: switch status not advertised');
}

async function resync(s: State, ctx: ProcessContext): Promise<void> {
  const calls = [...s.calls.entries()].map(([callId]) => callId);
  const gone: string[] = [];
  await Promise.all(
    calls.map(async (callId) => {
      let exists: boolean;
      try {
        exists = (await s.esl.api(`uuid_exists ${callId}`)).trim() === 'true';
      } catch (err) {
        s.log
          .child({ call_id: callId })
          .warn({ err: String(err) }, 'uuid_exists failed during resync: call kept');
        exists = true;
      }
      if (exists) sendTo(ctx, names.control(callId), { type: 'node_up' });
      else {
        gone.push(callId);
        s.calls.delete(callId);
        sendTo(ctx, names.control(callId), { type: 'channel_gone' });
        sendTo(ctx, names.events(callId), { type: 'channel_gone' });
      }
    }),
  );
  // A bridged leg whose CHANNEL_DESTROY came while the connection was down would be kept
  // for ever: after a reconnect a leg stays only while its call is known and the switch
  // still has it.
  let legsGone = 0;
  await Promise.all(
    [...s.legs].map(async ([leg, callId]) => {
      let keep = s.calls.member(callId);
      if (keep)
        try {
          keep = (await s.esl.api(`uuid_exists ${leg}`)).trim() === 'true';
        } catch (err) {
          s.log
            .child({ call_id: callId })
            .warn({ err: String(err), leg }, 'uuid_exists failed during resync: leg kept');
        }
      if (!keep && s.legs.get(leg) === callId) {
        s.legs.delete(leg);
        legsGone++;
      }
    }),
  );
  s.log.info(
    { calls: calls.length, gone: gone.length, legs_gone: legsGone },
    'switch back: calls resynchronised',
  );
}

/** Parked inbound channels nobody routed (parked while the connection was down, or
 *  before ecallmgr started): each is routed now, as if its CHANNEL_PARK had been seen. */
async function adoptParked(s: State, ctx: ProcessContext): Promise<void> {
  let rows: Array<Record<string, string>>;
  try {
    const parsed = JSON.parse(await s.esl.api('show channels as json')) as {
      rows?: Array<Record<string, string>>;
    };
    rows = Array.isArray(parsed.rows) ? parsed.rows : [];
  } catch (err) {
    return void s.log.warn({ err: String(err) }, 'could not list the switch channels');
  }
  for (const row of rows) {
    const uuid = row.uuid;
    if (
      uuid === undefined ||
      row.direction !== 'inbound' ||
      row.application !== 'park' ||
      s.calls.member(uuid) ||
      ctx.runtime.whereis(names.control(uuid)) !== undefined
    )
      continue;
    try {
      const headers = JSON.parse(await s.esl.api(`uuid_dump ${uuid} json`)) as Record<string, string>;
      s.log.child({ call_id: uuid }).info('parked call found on the switch with no controller: routing it');
      dispatch(s, ctx, {
        name: 'CHANNEL_PARK',
        subclass: undefined,
        uuid,
        headers: { ...headers, 'Event-Name': 'CHANNEL_PARK' },
        body: '',
      });
    } catch (err) {
      s.log
        .child({ call_id: uuid })
        .warn({ err: String(err) }, 'parked channel could not be read; left alone');
    }
  }
}

function dispatch(s: State, ctx: ProcessContext, ev: EslEvent): void {
  if (ev.name === 'REQUEST_PARAMS') {
    if (!sendTo(ctx, names.authn(s.a.link.identity.name), { type: 'fetch', ev }))
      s.log.warn('directory fetch with no authn process');
    return;
  }
  const uuid = ev.uuid;
  if (uuid === undefined) return dropped(s, ev, 'no Unique-ID');
  if (
    ev.name === 'CHANNEL_PARK' &&
    !s.calls.member(uuid) &&
    !s.legs.has(uuid) && // a bridged leg parked by an unbridge is its call's, not a new call
    ctx.runtime.whereis(names.control(uuid)) === undefined
  ) {
    s.calls.insert(uuid, true);
    if (!sendTo(ctx, names.router(s.a.link.identity.name), { type: 'park', ev }))
      s.log.child({ call_id: uuid }).error('new call with no router process');
    return;
  }
  if (ev.name === 'CHANNEL_HANGUP')
    return void sendTo(ctx, names.control(uuid), { type: 'switch_event', ev: { name: ev.name } });
  const call = s.legs.get(uuid);
  if (call !== undefined) {
    if (ev.name === 'CHANNEL_DESTROY') s.legs.delete(uuid);
    const toCall = sendTo(ctx, names.events(call), { type: 'other_leg_event', ev });
    // A leg that is a call of its own (a caller a leg was placed for, then uuid_bridge'd to
    // it) still gets its own events, as in Kazoo every process bound to a uuid gets them.
    if (!s.calls.member(uuid)) {
      if (!toCall) dropped(s, ev, 'bridged leg of a call with no process');
      return;
    }
  }
  const events = ctx.runtime.whereis(names.events(uuid));
  const toEvents = events !== undefined;
  // call_events publishes the events event-convert names (CHANNEL_DESTROY among them, which
  // ends it) and nothing else: the others are not sent to it
  if (toEvents && publishedName(ev) !== undefined) ctx.send(events, { type: 'switch_event', ev });
  const other = ev.name === 'CHANNEL_BRIDGE' ? eventHeader(ev, 'Other-Leg-Unique-ID') : undefined;
  if (other !== undefined && toEvents) {
    s.legs.set(other, uuid);
    sendTo(ctx, names.control(uuid), { type: 'switch_event', ev: { name: ev.name, otherLeg: other } });
  }
  if (ev.name === 'CHANNEL_UNBRIDGE' && toEvents)
    sendTo(ctx, names.control(uuid), { type: 'switch_event', ev: { name: ev.name } });
  if (ev.name === 'CHANNEL_DESTROY') {
    sendTo(ctx, names.control(uuid), { type: 'switch_event', ev: { name: ev.name } });
    s.calls.delete(uuid);
  }
  if (!toEvents) dropped(s, ev, 'no call process for it');
}

/** The switch connection is up: subscribe (the first time), announce it, resynchronise
 *  the calls after a reconnect, adopt parked channels nobody controls. */
async function onUp(s: State, ctx: ProcessContext): Promise<void> {
  if (!s.subscribed) {
    try {
      await s.esl.subscribe(SUBSCRIBED_EVENTS);
      s.subscribed = true;
    } catch (err) {
      s.log.warn({ err: String(err) }, 'subscription failed: retried at the next up');
      return;
    }
  }
  s.ups++;
  announce(s, ctx, 'up');
  if (s.ups > 1) await resync(s, ctx);
  await adoptParked(s, ctx);
}

/** Starts one operation on the switch; the answer's text ('' when it has none). */
function run(esl: EslConnection, op: SwitchOp): Promise<string> {
  switch (op.kind) {
    case 'api':
      return esl.api(op.command);
    case 'execute':
      return esl.execute(op.callId, op.app, op.arg).then(() => '');
    case 'hangup':
      return esl.hangup(op.callId, op.cause).then(() => '');
    case 'command':
      return esl.command(op.line, op.headers === undefined ? undefined : { ...op.headers });
    case 'sequence':
      return runSequence(esl, op);
    case 'xferext':
      return esl.xferext(op.callId, op.steps).then(() => '');
    case 'bgapi':
      return esl.bgapi(op.command, { timeoutMs: op.timeoutMs });
    default:
      return Promise.reject(new Error(`unknown switch operation ${String((op as { kind?: unknown }).kind)}`));
  }
}

async function runSequence(esl: EslConnection, op: Extract<SwitchOp, { kind: 'sequence' }>): Promise<string> {
  for (const [app, arg] of op.steps) await esl.execute(op.callId, app, arg);
  return op.api === undefined ? '' : esl.api(op.api);
}

function dropped(s: State, ev: EslEvent, why: string): void {
  s.dropped++;
  if (s.log.isLevelEnabled('debug'))
    s.log.debug({ event: ev.name, subclass: ev.subclass, call_id: ev.uuid, why }, 'switch event dropped');
}

export const NodeConnection: GenServerBehaviour<State, NodeArgs, unknown, unknown> = {
  name: 'ecallmgr_node',

  async init(a, ctx) {
    const { config } = a.link;
    const sw = a.link.identity.name;
    ctx.trapExit(true);
    const log = ctx.log.child({ switch: sw });
    const { table: calls, inherited } = await TableKeeper.claim<string, true>(
      ctx,
      names.nodeTables(sw),
      names.callsTable(sw),
    );
    const esl = new EslConnection({
      host: config.host,
      port: config.port,
      password: config.password,
      logger: log,
      backoff: a.backoff,
    });
    const self = ctx.self;
    esl.on('up', () => ctx.send(self, { type: 'esl_up' } satisfies Msg));
    esl.on('down', ({ reason }) => ctx.send(self, { type: 'esl_down', reason } satisfies Msg));
    esl.on('event', (ev) => ctx.send(self, { type: 'esl_event', ev } satisfies Msg));
    const status: SwitchStatus = {
      get isUp() {
        return esl.isUp;
      },
    };
    Table.create<'status', SwitchStatus>(ctx, { name: names.switchTable(sw) }).insert('status', status);
    // Each call's control queue is a listener with its own 'ready'/'lost' handlers on the
    // shared transport: thousands of them are expected, not a leak.
    if (a.env.bus.getMaxListeners() !== 0) a.env.bus.setMaxListeners(0);
    // A node gone from the cluster view may have controlled some of these calls.
    const onCluster = (e: ClusterEvent): void => {
      if (e.kind === 'node_expired')
        ctx.runtime.send(self, { type: 'node_expired', node: e.node } satisfies Msg);
    };
    ctx.runtime.events.on('cluster', onCluster);
    // However the process ends (shutdown, crash, kill), its connection goes with it.
    void ctx.runtime.awaitExit(self).then(() => {
      ctx.runtime.events.off('cluster', onCluster);
      reportMediaServer(ctx.runtime, {
        name: a.link.identity.name,
        status: 'down',
        url: a.link.identity.url,
      });
      return esl.close();
    });
    esl.start().catch((err: unknown) => log.debug({ err: String(err) }, 'esl start ended'));
    const kept = inherited ? calls.size : 0;
    if (kept > 0)
      log.warn({ calls: kept }, 'node connection restarted: calls kept, resynchronised once connected');
    return ok({
      a,
      esl,
      log,
      calls,
      subscribed: false,
      ups: kept > 0 ? 1 : 0,
      dropped: 0,
      legs: new Map(),
    });
  },

  handleCall(req, from, s) {
    const r = req as SwitchRequest;
    if (r?.type !== 'switch_op') {
      s.log.warn(
        { request: typeof r === 'object' ? r?.type : typeof r },
        'unknown call to the node connection',
      );
      return reply({ error: new Error('ecallmgr_node: unknown call') }, s);
    }
    run(s.esl, r.op).then(
      (reply) => GenServer.reply(from, { reply }),
      (error: unknown) => GenServer.reply(from, { error }),
    );
    return noreply(s);
  },

  handleCast(msg, s, ctx) {
    const r = msg as SwitchRequest;
    if (r?.type !== 'switch_op_cast') return unexpected(msg, s);
    const self = ctx.self;
    const back = (m: SwitchReply): void => ctx.send(self, { type: 'relay', to: r.to, msg: m } satisfies Msg);
    run(s.esl, r.op).then(
      (reply) => back({ type: 'switch_reply', tag: r.tag, reply }),
      (error: unknown) => back({ type: 'switch_reply', tag: r.tag, error }),
    );
    return noreply(s);
  },

  // Not async: a switch event (most messages) is handled without a promise, and the
  // process goes on with the next one in the same batch.
  handleInfo(raw, s, ctx) {
    const m = raw as Msg;
    switch (m?.type) {
      case 'esl_event':
        try {
          dispatch(s, ctx, m.ev);
        } catch (err) {
          s.log.error({ err: String(err), event: m.ev?.name }, 'switch event could not be dispatched');
        }
        break;
      case 'relay':
        ctx.send(m.to, m.msg);
        break;
      case 'track':
        if (m.known) s.calls.insert(m.callId, true);
        else s.calls.delete(m.callId);
        break;
      case 'call_started':
        // Its processes are registered now: every later event reaches them. A call no longer
        // known was destroyed while it was being routed (its CHANNEL_DESTROY had no process).
        if (!s.calls.member(m.callId)) {
          s.log
            .child({ call_id: m.callId })
            .info('call ended while it was being routed: ending its processes');
          sendTo(ctx, names.control(m.callId), { type: 'channel_gone' });
          sendTo(ctx, names.events(m.callId), { type: 'channel_gone' });
        }
        break;
      case 'esl_up':
        // the one message that holds the mailbox (until the subscription and resync are done)
        if (s.esl.isUp) return onUp(s, ctx).then(() => noreply(s));
        break;
      case 'drop_event_socket':
        if (!s.esl.drop(typeof m.reason === 'string' ? m.reason : undefined))
          s.log.warn('drop of the event socket asked while it is not connected: nothing to drop');
        break;
      case 'node_expired': {
        let told = 0;
        for (const [callId] of s.calls.entries())
          if (sendTo(ctx, names.control(callId), { type: 'controller_node_gone', node: m.node })) told++;
        s.log.debug({ peer: m.node, calls: told }, 'node expired: its calls are told');
        break;
      }
      case 'esl_down':
        announce(s, ctx, 'down', m.reason);
        for (const [callId] of s.calls.entries()) sendTo(ctx, names.control(callId), { type: 'node_down' });
        break;
      default:
        return unexpected(raw, s);
    }
    return noreply(s);
  },

  describe: (s) => ({
    switch: s.a.link.identity.name,
    up: s.esl.isUp,
    calls: s.calls.size,
    bridged_legs: s.legs.size,
    dropped_events: s.dropped,
  }),
};
