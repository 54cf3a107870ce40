/**
 * originate: one process per originate_req (Kazoo's ecallmgr_originate), started by the
 * originate listener under ecallmgr_originate_sup (temporary: it is never restarted).
 *
 * Contract
 * - It listens on its own anonymous queue (bound to `targeted` by its name):
 *   originate_execute comes there. Every step's outcome comes back to the process as a
 *   message; nothing changes outside its mailbox.
 * - Steps, in order: picks the switch (the one that has Existing-Call-ID, else the first
 *   switch that is up); resolves the endpoints (originate-dial.ts; `username` endpoints
 *   at the device's contact, asked of ecallmgr_reg_lookup as bridges do (reg-lookup.ts:
 *   it bounds the wait; no answer = not registered));
 *   starts the new leg's call processes under ecallmgr_calls_sup (call_events and
 *   call_control with its control queue, no route_win: the requester drives the leg)
 *   and has the node connection know the leg (resynchronised after a reconnect) before
 *   anything is placed, so no event of the leg is missed and its CHANNEL_PARK is
 *   not routed; answers originate_uuid (Outbound-Call-ID, Outbound-Call-Control-Queue,
 *   Server-ID = this queue); then, when Originate-Immediate is false (park's default, as
 *   Kazoo), originate_ready and waits originateReadyMs (5 s) for originate_execute; then sends
 *   originate_started (Call-ID, Control-Queue) and `bgapi originate {vars}<dial> &park()`.
 *   `+OK`: with Existing-Call-ID the leg is bridged to it (uuid_bridge), unless that call
 *   is bridged already (its bridge_uuid a live channel) and Intercept-Unbridged-Only is
 *   not false (Kazoo's intercept_unbridged_only, default true): then, as when the bridge
 *   fails (the call gone), the leg is hung up (uuid_kill) and the error answered. That
 *   check and the bridge are two switch requests: one originate at a time does them for a
 *   caller on this node (it holds the name `names.bridging(caller)` until it ends; another
 *   leg answered meanwhile waits for it, then checks), so two legs answered in the same
 *   instant are never both bridged to one caller. originate_resp
 *   (Call-ID, Application-Response SUCCESS, Control-Queue) goes to the requester and the
 *   process ends `normal`, leaving the leg to its call processes.
 * - Any failure (no switch up, no endpoint dialable, unregistered device, the switch's
 *   `-ERR <CAUSE>`, no originate_execute in time, the call processes not starting) is
 *   answered with Kazoo's error: Event-Category error, Event-Name originate_resp,
 *   Error-Message (the cause without `-ERR `), Call-ID, Request, Msg-ID; logged with the
 *   call_id; then the process ends `normal`. A leg that never existed has its call
 *   processes stopped; a leg that did ends them itself on its CHANNEL_DESTROY (the
 *   switch's answer reaches this process through the node connection, after the events
 *   that came before it).
 * - Replies go to the request's Server-ID; without one, nothing is answered (as Kazoo).
 */
import { randomUUID } from 'node:crypto';
import {
  Supervisor,
  Table,
  noreply,
  ok,
  unexpected,
  type GenServerBehaviour,
  type Logger,
  type NoReplyResult,
  type Pid,
  type ProcessContext,
  type Ref,
} from '../../src/kernel/index.ts';
import { errorReplyFields } from '../../src/api/index.ts';
import { busDecoder, busValidator } from '../../src/api/bus-adapters.ts';
import { ListenerCore, type Envelope, type ListenerOptions } from '../../src/bus/index.ts';
import { EslCommandError } from '../../src/switch/index.ts';
import { controlQueueName, type CallControlArgs } from './call-control.ts';
import { castSwitchOp, switchUp, type SwitchOp, type SwitchReply } from './node-ops.ts';
import { names, publish, switchLink, type EcallmgrEnv, type SwitchLink } from './context.ts';
import { lookupContacts } from './reg-lookup.ts';
import {
  channelVars,
  dialSeparator,
  endpointDial,
  needsContact,
  originateAction,
  type Endpoint,
} from './originate-dial.ts';

/** How long the switch may take to place the leg beyond the request's own Timeout. */
const ORIGINATE_SLACK_MS = 5000;

export interface OriginateArgs {
  readonly req: Envelope;
  readonly env: EcallmgrEnv;
}

type Stop = { type: 'stop'; reason: 'normal'; state: State };

type Step = 'resolving' | 'starting' | 'ready' | 'originating' | 'done';

interface State {
  readonly a: OriginateArgs;
  readonly core: ListenerCore;
  readonly log: Logger;
  readonly callId: string;
  readonly ctlQueue: string;
  readonly fetchId: string;
  step: Step;
  link: SwitchLink | undefined;
  action: string;
  /** Indexes of the endpoints whose contact reg_lookup has not answered yet. */
  pending: Set<number>;
  dials: Array<string | { error: string }>;
  callSup: Pid | undefined;
  succeeded: boolean;
  timer: Ref | undefined;
  /** The monitor of the originate that holds the caller's check and bridge (waited for). */
  waitingFor: Ref | undefined;
}

type Msg =
  | { type: 'bus'; m: Envelope }
  | { type: 'begin' }
  | { type: 'contacts'; index: number; contacts: string[] }
  | { type: 'ready_timeout' }
  | { type: 'call_started'; pid?: Pid; reason?: string }
  | { type: 'originated'; ok: true }
  | { type: 'originated'; ok: false; error: string }
  | { type: 'bridged'; error?: string }
  | { type: 'partner'; error?: string; partner?: string }
  | { type: 'partner_up'; error?: string; up: boolean }
  | { type: 'leg_killed' }
  | { type: 'DOWN'; ref: Ref }
  | SwitchReply;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const isTrue = (v: unknown, dflt: boolean): boolean => (v === undefined ? dflt : v === true || v === 'true');

function reply(s: State, id: string, fields: Record<string, unknown>): void {
  const to = str(s.a.req['Server-ID']);
  if (to === undefined) return;
  publish(s.a.env, id, { 'Msg-ID': s.a.req['Msg-ID'], ...fields }, to).catch((err: unknown) =>
    s.log.error({ err: String(err), message: id }, 'originate answer not published'),
  );
}

/** Kazoo's publish_error: error / originate_resp with the cause; then the process ends. */
function fail(s: State, why: string): Stop {
  s.log.warn({ reason: why, step: s.step }, 'originate failed');
  const to = str(s.a.req['Server-ID']);
  if (to !== undefined) {
    const fields = {
      ...errorReplyFields(s.a.req, why.replace(/^-ERR\s*/, '').trim()),
      'Event-Name': 'originate_resp',
      'Call-ID': s.callId,
    };
    publish(s.a.env, 'error', fields, to).catch((err: unknown) =>
      s.log.error({ err: String(err) }, 'originate error not published'),
    );
  }
  s.step = 'done';
  return { type: 'stop', reason: 'normal', state: s };
}

function bridge(s: State, ctx: ProcessContext, existing: string): Stop | NoReplyResult<State> {
  const op: SwitchOp = { kind: 'api', command: `uuid_bridge ${s.callId} ${existing}` };
  if (!castSwitchOp(ctx, s.link!, op, 'bridge')) return legFailed(s, ctx, 'lost connection to the switch');
  return noreply(s);
}

/**
 * The leg was placed (and answered) but cannot be bridged to Existing-Call-ID (gone, or
 * already bridged): it is hung up, so the agent is not left on a call with nobody, and
 * the request is answered with the error.
 */
function legFailed(s: State, ctx: ProcessContext, why: string): Stop {
  const op: SwitchOp = { kind: 'api', command: `uuid_kill ${s.callId} ORIGINATOR_CANCEL` };
  if (s.link === undefined || !castSwitchOp(ctx, s.link, op, 'leg_killed'))
    s.log.error({ reason: why }, 'originate: leg not bridged and could not be hung up');
  return fail(s, why);
}

/**
 * The answered leg goes to the caller `existing` unless it is bridged already: this
 * process takes the caller's name first (released when it ends, after the bridge's
 * answer), or waits for the originate that holds it, so check and bridge are one step.
 */
function checkCaller(s: State, ctx: ProcessContext, existing: string): Stop | NoReplyResult<State> {
  const holder = ctx.runtime.whereis(names.bridging(existing));
  if (holder !== undefined) {
    s.log.info(
      { existing, holder: String(holder) },
      'originate: another leg is being bridged to the caller; waiting',
    );
    s.waitingFor = ctx.monitor(holder);
    return noreply(s);
  }
  ctx.runtime.register(names.bridging(existing), ctx.self);
  const op: SwitchOp = { kind: 'api', command: `uuid_getvar ${existing} bridge_uuid` };
  if (!castSwitchOp(ctx, s.link!, op, 'partner')) return legFailed(s, ctx, 'lost connection to the switch');
  return noreply(s);
}

/** The switch to place the leg on: where Existing-Call-ID is, else the first one up. */
function pickSwitch(s: State, ctx: ProcessContext): SwitchLink | undefined {
  const links = s.a.env.settings.switches.map(switchLink);
  const existing = str(s.a.req['Existing-Call-ID']);
  if (existing !== undefined) {
    const home = links.find((l) => {
      const id = Table.whereis(ctx.runtime, names.callsTable(l.identity.name));
      return id !== undefined && Table.reader<string, true>(ctx.runtime, id).member(existing);
    });
    if (home !== undefined) return home;
  }
  return links.find((l) => switchUp(ctx.runtime, l));
}

function arm(s: State, ctx: ProcessContext, ms: number, msg: Msg): void {
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = ctx.sendAfter(ms, msg);
}

/** The leg is known to (or, failed, forgotten by) its switch's node connection. */
function track(s: State, ctx: ProcessContext, known: boolean): void {
  const node = s.link === undefined ? undefined : ctx.runtime.whereis(names.node(s.link.identity.name));
  if (node !== undefined) ctx.send(node, { type: 'track', callId: s.callId, known });
}

/** The switch's answer to an operation (node-ops.ts: through the node connection's
 *  mailbox, so seen after the switch events that preceded it) as this process's message. */
function onSwitchReply(m: SwitchReply): Msg {
  const error =
    m.error === undefined
      ? m.reply?.startsWith('-ERR') === true
        ? m.reply.trim()
        : undefined
      : m.error instanceof EslCommandError
        ? m.error.reply.trim()
        : String(m.error);
  if (m.tag === 'bridge') return { type: 'bridged', error };
  if (m.tag === 'partner') return { type: 'partner', error, partner: m.reply?.trim() };
  if (m.tag === 'partner_up') return { type: 'partner_up', error, up: m.reply?.trim() === 'true' };
  if (m.tag === 'leg_killed') return { type: 'leg_killed' };
  return error === undefined ? { type: 'originated', ok: true } : { type: 'originated', ok: false, error };
}

function begin(s: State, ctx: ProcessContext): Stop | undefined {
  const act = originateAction(s.a.req);
  if ('error' in act) return fail(s, act.error);
  s.action = act.action;
  s.link = pickSwitch(s, ctx);
  if (s.link === undefined) return fail(s, 'no switch is connected');
  const eps = (s.a.req.Endpoints as Endpoint[] | undefined) ?? [];
  if (eps.length === 0) return fail(s, 'no endpoints in the originate request');
  s.dials = eps.map(() => ({ error: 'unresolved' }));
  const self = ctx.self;
  eps.forEach((ep, i) => {
    const who = needsContact(ep);
    if (who === undefined) return void (s.dials[i] = toDial(endpointDial(ep)));
    s.pending.add(i);
    // lookupContacts never rejects: a failed or unanswered look-up is [] (logged there).
    void lookupContacts(ctx.runtime, who.realm, who.user).then((contacts) =>
      ctx.send(self, { type: 'contacts', index: i, contacts } satisfies Msg),
    );
  });
  return s.pending.size > 0 ? undefined : resolved(s, ctx);
}

const toDial = (d: { dial: string } | { error: string }): string | { error: string } =>
  'dial' in d ? d.dial : d;

function onContacts(s: State, ctx: ProcessContext, i: number, contacts: string[]): Stop | undefined {
  if (!s.pending.delete(i)) return undefined;
  const ep = ((s.a.req.Endpoints as Endpoint[])[i] ?? {}) as Endpoint;
  s.dials[i] = toDial(endpointDial(ep, contacts[0]));
  return s.pending.size === 0 ? resolved(s, ctx) : undefined;
}

/** Every endpoint resolved (or found unregistered): start the leg's processes. */
function resolved(s: State, ctx: ProcessContext): Stop | undefined {
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = undefined;
  const ok = s.dials.filter((d): d is string => typeof d === 'string');
  if (ok.length === 0) {
    const errors = s.dials.map((d) => (typeof d === 'string' ? '' : d.error));
    return fail(s, errors.includes('USER_NOT_REGISTERED') ? 'USER_NOT_REGISTERED' : errors.join('; '));
  }
  s.step = 'starting';
  const link = s.link!;
  const args: CallControlArgs = {
    callId: s.callId,
    link,
    env: s.a.env,
    controllerQueue: str(s.a.req['Server-ID']) ?? '',
    ccvs: { ...((s.a.req['Custom-Channel-Vars'] as object | undefined) ?? {}), 'Fetch-ID': s.fetchId },
    originated: true,
  };
  const self = ctx.self;
  Supervisor.startChild(ctx.runtime, names.calls, [args]).then(
    (r) =>
      ctx.send(
        self,
        r.type === 'ok'
          ? ({ type: 'call_started', pid: r.pid } satisfies Msg)
          : ({ type: 'call_started', reason: String((r as { reason?: unknown }).reason) } satisfies Msg),
      ),
    (err: unknown) => ctx.send(self, { type: 'call_started', reason: String(err) } satisfies Msg),
  );
  return undefined;
}

function execute(s: State, ctx: ProcessContext): void {
  if (s.timer !== undefined) ctx.cancelTimer(s.timer);
  s.timer = undefined;
  s.step = 'originating';
  const link = s.link!;
  const lost: Msg = { type: 'originated', ok: false, error: 'lost connection to the switch' };
  if (!switchUp(ctx.runtime, link)) return ctx.send(ctx.self, lost);
  const dial = s.dials.filter((d): d is string => typeof d === 'string').join(dialSeparator(s.a.req));
  const vars = channelVars(s.a.req, s.callId, { 'Fetch-ID': s.fetchId, 'Ecallmgr-Node': s.a.env.node });
  reply(s, 'originate_started', { 'Call-ID': s.callId, 'Control-Queue': s.ctlQueue });
  const timeoutS = Number(s.a.req.Timeout ?? 60);
  s.log.debug({ dial, action: s.action }, 'originating');
  const op: SwitchOp = {
    kind: 'bgapi',
    command: `originate ${vars}${dial} ${s.action}`,
    timeoutMs: (Number.isFinite(timeoutS) ? timeoutS : 60) * 1000 + ORIGINATE_SLACK_MS,
  };
  if (!castSwitchOp(ctx, link, op, 'originate')) ctx.send(ctx.self, lost);
}

function succeeded(s: State): Stop {
  s.log.info({ switch: s.link?.identity.name }, 'originate answered');
  reply(s, 'originate_resp', {
    'Call-ID': s.callId,
    'Application-Response': 'SUCCESS',
    'Control-Queue': s.ctlQueue,
  });
  s.step = 'done';
  s.succeeded = true;
  return { type: 'stop', reason: 'normal', state: s };
}

export const Originate: GenServerBehaviour<State, OriginateArgs> = {
  name: 'ecallmgr_originate',

  async init(a, ctx) {
    const callId = str(a.req['Outbound-Call-ID']) ?? randomUUID();
    const log = ctx.log.child({ call_id: callId });
    const self = ctx.self;
    const core = new ListenerCore({
      transport: a.env.bus,
      logger: log,
      name: 'originate',
      decode: busDecoder({ maxBytes: 1 << 20 }) as ListenerOptions['decode'],
      validate: busValidator as ListenerOptions['validate'],
      handleEvent: (m) => {
        ctx.send(self, { type: 'bus', m } satisfies Msg);
        return 'ignore';
      },
    });
    await core.start();
    // terminate does not run when the process is killed: its queue goes however it ends.
    void ctx.runtime.awaitExit(self).then(() => core.stop());
    ctx.send(self, { type: 'begin' } satisfies Msg);
    return ok({
      a,
      core,
      log,
      callId,
      ctlQueue: controlQueueName(a.env.node, callId),
      fetchId: randomUUID(),
      step: 'resolving',
      link: undefined,
      action: '',
      pending: new Set(),
      dials: [],
      callSup: undefined,
      succeeded: false,
      timer: undefined,
      waitingFor: undefined,
    } satisfies State);
  },

  handleInfo(raw, s, ctx): NoReplyResult<State> {
    const m = raw as Msg;
    switch (m?.type) {
      case 'begin':
        return begin(s, ctx) ?? noreply(s);
      case 'bus': {
        const name = m.m['Event-Name'];
        if (name === 'originate_execute' && s.step === 'ready') {
          if (m.m['Call-ID'] !== s.callId) {
            s.log.warn({ for: m.m['Call-ID'] }, 'originate_execute for another call ignored');
            return noreply(s);
          }
          execute(s, ctx);
          return noreply(s);
        }
        s.log.debug({ name, step: s.step }, 'originate: message not expected now; dropped');
        return noreply(s);
      }
      case 'contacts':
        if (s.step !== 'resolving') return noreply(s);
        return onContacts(s, ctx, m.index, m.contacts) ?? noreply(s);
      case 'call_started': {
        if (m.pid === undefined) return fail(s, `call processes failed to start: ${m.reason}`);
        s.callSup = m.pid;
        track(s, ctx, true);
        reply(s, 'originate_uuid', {
          'Outbound-Call-ID': s.callId,
          'Outbound-Call-Control-Queue': s.ctlQueue,
          'Server-ID': s.core.queue,
        });
        // Kazoo: park waits for originate_execute unless Originate-Immediate; others go at once.
        const immediate = isTrue(s.a.req['Originate-Immediate'], s.a.req['Application-Name'] !== 'park');
        if (immediate) execute(s, ctx);
        else {
          s.step = 'ready';
          reply(s, 'originate_ready', {
            'Call-ID': s.callId,
            'Control-Queue': s.ctlQueue,
            'Server-ID': s.core.queue,
          });
          arm(s, ctx, s.a.env.settings.originateReadyMs, { type: 'ready_timeout' });
        }
        return noreply(s);
      }
      case 'ready_timeout':
        if (s.step !== 'ready') return noreply(s);
        return fail(s, 'Failed to receive valid originate_execute in time');
      case 'originated': {
        if (!m.ok) return fail(s, m.error);
        const existing = str(s.a.req['Existing-Call-ID']);
        if (existing === undefined) return succeeded(s);
        // Kazoo bridges with intercept and intercept_unbridged_only (default true): a caller
        // already bridged (to another agent's leg) is not taken from it.
        if (!isTrue(s.a.req['Intercept-Unbridged-Only'], true)) return bridge(s, ctx, existing);
        return checkCaller(s, ctx, existing);
      }
      case 'DOWN':
        if (m.ref.id !== s.waitingFor?.id) return noreply(s);
        s.waitingFor = undefined;
        return checkCaller(s, ctx, str(s.a.req['Existing-Call-ID'])!);
      case 'partner': {
        const existing = str(s.a.req['Existing-Call-ID'])!;
        if (m.error !== undefined) return legFailed(s, ctx, m.error);
        if (m.partner === undefined || m.partner === '' || m.partner === '_undef_' || m.partner === s.callId)
          return bridge(s, ctx, existing);
        const op: SwitchOp = { kind: 'api', command: `uuid_exists ${m.partner}` };
        if (!castSwitchOp(ctx, s.link!, op, 'partner_up'))
          return legFailed(s, ctx, 'lost connection to the switch');
        return noreply(s);
      }
      case 'partner_up':
        if (m.error !== undefined) return legFailed(s, ctx, m.error);
        if (m.up) return legFailed(s, ctx, 'existing call already bridged');
        return bridge(s, ctx, str(s.a.req['Existing-Call-ID'])!);
      case 'bridged':
        return m.error === undefined ? succeeded(s) : legFailed(s, ctx, m.error);
      case 'leg_killed':
        return noreply(s);
      case 'switch_reply':
        ctx.send(ctx.self, onSwitchReply(m));
        return noreply(s);
      default:
        return unexpected(raw, s);
    }
  },

  async terminate(_reason, s, ctx) {
    await s.core
      .stop()
      .catch((err: unknown) => s.log.warn({ err: String(err) }, 'originate queue not removed'));
    // Not placed (or failed): the leg's processes are stopped. A leg the switch did create
    // and end has had its events delivered before the answer reached this process, and
    // call_events publishes what it already holds (its CHANNEL_DESTROY) before it stops.
    if (s.callSup !== undefined && !s.succeeded && ctx.runtime.isAlive(s.callSup)) {
      track(s, ctx, false);
      const r = await Supervisor.terminateChild(ctx.runtime, names.calls, s.callSup).catch((e: unknown) => e);
      if ((r as { type?: string })?.type !== 'ok')
        s.log.warn({ result: String((r as { reason?: unknown })?.reason ?? r) }, 'leg processes not stopped');
    }
  },

  describe: (s) => ({ call_id: s.callId, step: s.step, switch: s.link?.identity.name }),
};
