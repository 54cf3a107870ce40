/**
 * cf_exe: one executor per call, a gen_listener on the call's events
 * (`callevt` / `call.*.<call-id>`) under `callflow_exe_sup` (simple_one_for_one,
 * temporary children), registered as `callflow_exe:<call-id>`.
 *
 * Contract
 * - Once its queue is consumed it runs the tree from the root: for each node, the
 *   module from the table (modules/index.ts) runs beside the mailbox with a fresh
 *   CallHandle (call.ts) that receives the call's events in arrival order; its Result
 *   comes back as a message and picks the next node: `continue` to the child at the
 *   branch (none there: the flow ends), `stop`, `branch` to another tree, `usurped`.
 *   Ending the flow hangs the call up (`hangup`) unless it is gone already.
 * - A module that throws is logged at error with the call-id and the flow goes on at the
 *   `_` child (Kazoo's cf_exe on a module's abnormal exit). A DocError (a document a
 *   module needs is missing or not what it should be), a module's `error` result, or a
 *   callflow that failed its check (`invalid` in the arguments) is logged, and the caller
 *   hears the error prompt and is hung up.
 * - A flow runs at most MAX_STEPS nodes (a loop through `branch` or children is cut, the
 *   call hung up).
 * - CHANNEL_DESTROY of the call (the caller hung up, or the flow's own hangup) ends the
 *   executor (normal), and so does HANGUP_WAIT_MS after the flow's own hangup without a
 *   CHANNEL_DESTROY. A dialplan error for a command (the call may have ended before this
 *   executor bound its queue, so its CHANNEL_DESTROY was never seen here) makes it ask
 *   ecallmgr whether the call is up: channel_status_req with Active-Only true (Kazoo's
 *   kapps_call_command:b_channel_status); no `active` answer within STATUS_WAIT_MS ends
 *   it, an `active` one lets the flow go on (the module sees the error). So does consuming
 *   again after a bus reconnect (the anonymous queue went with the connection: the call's
 *   events published meanwhile, its CHANNEL_DESTROY among them, never reached it). And so
 *   does every `callCheckMs` (default CALL_CHECK_MS, Kazoo's cf_exe call sanity check
 *   period) while the flow runs: a call whose ecallmgr is gone (its node died, say) has no
 *   one left to publish its CHANNEL_DESTROY or answer `active`, and its executor ends
 *   instead of waiting for ever.
 * - usurp_control of the call (`call.usurp_control.<call-id>`) with another Fetch-ID than
 *   the call's (its route_req's Custom-Channel-Vars Fetch-ID) means another routing of the
 *   call took it over (ecallmgr routed it again, this node having been cut off from the
 *   cluster): the executor stops, `normal`, without touching the call (Kazoo's cf_exe
 *   handle_usurp). One with the same Fetch-ID (ecallmgr's after this executor's route_win)
 *   is ignored. The end of the process, however it ends (a kill
 *   skips terminate), aborts the running module's handle, so its waits and timers end with
 *   it and it sends nothing more: nothing of the call is left.
 */
import {
  noreply,
  ok,
  stop,
  type ChildSpec,
  type Logger,
  type NoReplyResult,
  type ProcessContext,
  type Ref,
} from '../../src/kernel/index.ts';
import {
  startListener,
  type GenListenerBehaviour,
  type GenListenerEvent,
} from '../../src/bus/gen-listener.ts';
import { build, callEventKey, type BuildContext } from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import { CallHandle, HangupError, type CallInfo } from './call.ts';
import { cfDoc, cfOwned } from './cache.ts';
import type { FlowNode } from './flow.ts';
import { MODULES } from './modules/index.ts';
import type { Result } from './modules/module.ts';
import { DocError } from './modules/endpoints.ts';
import { ERROR_PROMPT } from './modules/media.ts';

export const MAX_STEPS = 100;
/** How long an executor that hung its call up waits for the CHANNEL_DESTROY. */
export const HANGUP_WAIT_MS = 10_000;

/** How long the executor waits for ecallmgr to say the call is up (Kazoo's 2 s default). */
export const STATUS_WAIT_MS = 2000;

/** How often a running executor asks whether its call is up (Kazoo's cf_exe CALL_SANITY_CHECK). */
export const CALL_CHECK_MS = 30_000;

const isDialplanError = (m: Envelope): boolean =>
  m['Event-Category'] === 'error' && m['Event-Name'] === 'dialplan';
export const exeName = (callId: string): string => `callflow_exe:${callId}`;

export interface ExeArgs {
  readonly info: CallInfo;
  readonly flow: FlowNode | { problem: string };
  readonly bus: BusTransport;
  readonly ctx: BuildContext;
  /** The periodic check's period; the template's (CALL_CHECK_MS unless configured) when absent. */
  readonly callCheckMs?: number;
}

interface State {
  readonly a: ExeArgs;
  readonly log: Logger;
  queue?: string;
  node?: FlowNode;
  steps: number;
  run: number;
  handle?: CallHandle;
  /** The running module's handle, for the abort when the process ends, however it ends. */
  readonly current: { handle?: CallHandle };
  gone: boolean;
  /** A channel_status_req is out: the timer that ends the executor without an answer. */
  statusTimer?: Ref;
  /** Numbers the status checks, so a late timeout of an answered one is ignored. */
  statusSeq: number;
}

type Msg =
  | GenListenerEvent
  | { type: 'cf_result'; run: number; result: Result }
  | { type: 'cf_crash'; run: number; error: unknown }
  | { type: 'cf_gone' }
  | { type: 'cf_usurped'; fetchId: string }
  | { type: 'cf_status_check' }
  | { type: 'cf_call_check' }
  | { type: 'cf_status_timeout'; seq: number };

function handleFor(s: State, ctx: ProcessContext): CallHandle {
  const rt = ctx.runtime;
  return new CallHandle(
    s.a.info,
    s.queue!,
    {
      bus: s.a.bus,
      ctx: s.a.ctx,
      doc: (db, id) => cfDoc(rt, db, id),
      owned: (db, owner, type) => cfOwned(rt, db, owner, type),
      runtime: rt,
    },
    s.log,
  );
}

/** Runs `body` beside the mailbox with a new handle; its outcome comes back as a message. */
function runBeside(s: State, ctx: ProcessContext, body: (h: CallHandle) => Promise<Result>): State {
  s.handle?.abort('next node');
  const run = s.run + 1;
  const handle = handleFor(s, ctx);
  s.current.handle = handle;
  body(handle).then(
    (result) => ctx.send(ctx.self, { type: 'cf_result', run, result }),
    (error: unknown) => ctx.send(ctx.self, { type: 'cf_crash', run, error }),
  );
  return { ...s, run, handle };
}

function runNode(s: State, node: FlowNode, ctx: ProcessContext): NoReplyResult<State> {
  if (s.steps >= MAX_STEPS) {
    s.log.error({ steps: s.steps }, 'callflow: too many steps (a loop?); the call is hung up');
    return finish(s, ctx);
  }
  const mod = MODULES.get(node.module)!;
  s.log.info({ module: node.module, step: s.steps + 1 }, 'callflow: running module');
  return noreply(
    runBeside({ ...s, node, steps: s.steps + 1 }, ctx, (h) => mod.run(node.data, h, node.children)),
  );
}

/** The error prompt, then the hang-up (bad callflow or bad documents). */
function errorExit(s: State, ctx: ProcessContext, reason: string): NoReplyResult<State> {
  s.log.warn({ reason }, 'callflow: cannot run the call; playing the error prompt');
  return noreply(
    runBeside({ ...s, node: undefined }, ctx, async (h) => {
      await h.exec('play', { 'Media-Name': ERROR_PROMPT });
      return { kind: 'stop' };
    }),
  );
}

/** Asks ecallmgr whether the call is up (one request at a time); the answer comes as an event. */
function checkStatus(s: State, ctx: ProcessContext, why: string): NoReplyResult<State> {
  if (s.statusTimer !== undefined || s.queue === undefined) return noreply(s);
  const callId = s.a.info.callId;
  const req = build(
    'channel_status_req',
    { 'Call-ID': callId, 'Active-Only': true, 'Server-ID': s.queue },
    s.a.ctx,
  ) as unknown as Envelope;
  s.a.bus
    .publish('callevt', callEventKey('status_req', callId), encodeJson(req), jsonProperties())
    .catch((err: unknown) => s.log.warn({ err }, 'callflow: channel_status_req not sent'));
  s.log.info({ why }, 'callflow: asking whether the call is up');
  const seq = s.statusSeq + 1;
  const statusTimer = ctx.sendAfter(STATUS_WAIT_MS, { type: 'cf_status_timeout', seq });
  return noreply({ ...s, statusTimer, statusSeq: seq });
}

function finish(s: State, ctx: ProcessContext): NoReplyResult<State> {
  s.handle?.abort('flow ended');
  if (s.gone) return stop('normal', s);
  const h = handleFor(s, ctx);
  // The executor stays until the call's CHANNEL_DESTROY, or HANGUP_WAIT_MS at most.
  h.send('hangup').catch((err: unknown) => s.log.warn({ err }, 'callflow: hangup not sent'));
  ctx.sendAfter(HANGUP_WAIT_MS, { type: 'cf_gone' });
  return noreply({ ...s, node: undefined, handle: undefined });
}

function onResult(s: State, r: Result, ctx: ProcessContext): NoReplyResult<State> {
  switch (r.kind) {
    case 'continue': {
      const child = s.node?.children[r.branch ?? '_'];
      if (child === undefined) {
        s.log.info({ branch: r.branch ?? '_' }, 'callflow: no child for the branch; the flow ends');
        return finish(s, ctx);
      }
      return runNode(s, child, ctx);
    }
    case 'branch':
      return runNode(s, r.flow, ctx);
    case 'stop':
      return finish(s, ctx);
    case 'usurped':
      s.handle?.abort('usurped');
      return stop('normal', s);
    case 'error':
      return errorExit(s, ctx, r.reason);
  }
}

const Exe: GenListenerBehaviour<State, ExeArgs> = {
  name: 'callflow_exe',
  init(a, ctx) {
    const current: State['current'] = {};
    // A kill skips terminate: the module's waits and timers must end with the process anyway.
    ctx.runtime.onExit(ctx.self, () => current.handle?.abort('executor ended'));
    return ok({
      a,
      log: ctx.log.child({ call_id: a.info.callId }),
      steps: 0,
      run: 0,
      current,
      gone: false,
      statusSeq: 0,
    });
  },
  listen: (a) => ({
    queue: '',
    bindings: [{ exchange: 'callevt', routingKey: callEventKey('*', a.info.callId) }],
  }),
  handleEvent(m: Envelope, s, ctx) {
    if (m['Call-ID'] !== undefined && m['Call-ID'] !== s.a.info.callId) return s;
    if (m['Event-Name'] === 'channel_status_req') return s; // our own question, heard on the binding
    if (m['Event-Name'] === 'usurp_control') {
      const own = s.a.info.customChannelVars?.['Fetch-ID'];
      if (m['Fetch-ID'] !== undefined && m['Fetch-ID'] !== own)
        ctx.send(ctx.self, { type: 'cf_usurped', fetchId: String(m['Fetch-ID']) } satisfies Msg);
      return s;
    }
    if (m['Event-Name'] === 'channel_status_resp') {
      if (m.Status === 'active' && s.statusTimer !== undefined) {
        ctx.cancelTimer(s.statusTimer);
        s.log.info('callflow: the call is up; the flow goes on');
        return { ...s, statusTimer: undefined };
      }
      return s;
    }
    s.handle?.deliver(m);
    if (m['Event-Name'] === 'CHANNEL_DESTROY') ctx.send(ctx.self, { type: 'cf_gone' });
    else if (isDialplanError(m)) ctx.send(ctx.self, { type: 'cf_status_check' });
    return s;
  },
  handleInfo(msg: unknown, s, ctx) {
    const m = msg as Msg;
    switch (m.type) {
      case 'gen_listener':
        if (m.event !== 'consuming') return noreply(s);
        // Consuming again after a reconnect: the queue was re-made, and what was published
        // to it meanwhile (the call's CHANNEL_DESTROY, say) is lost.
        if (s.queue !== undefined)
          return s.gone ? noreply(s) : checkStatus({ ...s, queue: m.queue }, ctx, 'bus reconnected');
        s = { ...s, queue: m.queue };
        ctx.sendAfter(s.a.callCheckMs ?? CALL_CHECK_MS, { type: 'cf_call_check' } satisfies Msg);
        return 'problem' in s.a.flow ? errorExit(s, ctx, s.a.flow.problem) : runNode(s, s.a.flow, ctx);
      case 'cf_result':
        return m.run === s.run ? onResult(s, m.result, ctx) : noreply(s);
      case 'cf_crash': {
        if (m.run !== s.run) return noreply(s);
        if (m.error instanceof HangupError) return s.gone ? stop('normal', s) : noreply(s);
        if (m.error instanceof DocError) return errorExit(s, ctx, m.error.message);
        s.log.error(
          { err: m.error, module: s.node?.module },
          'callflow: module crashed; the flow continues at _',
        );
        return s.node === undefined ? finish(s, ctx) : onResult(s, { kind: 'continue' }, ctx);
      }
      case 'cf_status_check':
        return s.gone ? noreply(s) : checkStatus(s, ctx, 'dialplan error');
      case 'cf_call_check':
        if (s.gone) return noreply(s);
        ctx.sendAfter(s.a.callCheckMs ?? CALL_CHECK_MS, { type: 'cf_call_check' } satisfies Msg);
        return checkStatus(s, ctx, 'periodic check');
      case 'cf_status_timeout':
        if (s.statusTimer === undefined || m.seq !== s.statusSeq) return noreply(s);
        s.log.info('callflow: no answer says the call is up; it has ended');
        s.handle?.abort('hangup');
        return stop('normal', { ...s, gone: true, statusTimer: undefined });
      case 'cf_usurped':
        s.handle?.abort('usurped');
        s.log.warn(
          { fetch_id: m.fetchId, own_fetch_id: s.a.info.customChannelVars?.['Fetch-ID'] },
          'callflow: control of the call usurped by another routing: stopping',
        );
        return stop('normal', { ...s, gone: true });
      case 'cf_gone':
        s.handle?.abort('hangup');
        s.log.info({ steps: s.steps }, 'callflow: call ended');
        return stop('normal', { ...s, gone: true });
      default:
        return noreply(s);
    }
  },
};

/** The simple_one_for_one template: one temporary executor per call, checking its call every `callCheckMs`. */
export const exeTemplate = (transport: BusTransport, callCheckMs = CALL_CHECK_MS): ChildSpec => ({
  id: 'callflow_exe',
  restart: 'temporary',
  shutdown: 2000,
  start: (ctx, a: ExeArgs) =>
    startListener(
      ctx.runtime,
      Exe,
      { ...a, callCheckMs: a.callCheckMs ?? callCheckMs },
      {
        transport,
        link: ctx.parent,
        app: ctx.app,
        name: exeName(a.info.callId),
        appName: 'callflow',
      },
    ),
});
