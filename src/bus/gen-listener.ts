/**
 * gen_listener: a gen_server that owns a bus queue, its bindings and its responders.
 *
 * A GenListenerBehaviour is a GenServerBehaviour plus `listen(args)`, which declares the
 * queue ('' = anonymous, named after the node), its bindings, responders
 * ((Event-Category, Event-Name) -> handler, `*` wildcards) and queue options.
 *
 * Contract
 * - start: the module's init runs first; then the queue is declared, consumed and bound
 *   (ListenerCore); `start` resolves once consuming, and the process receives
 *   `{type:'gen_listener', event:'created_queue', queue}` and
 *   `{type:'gen_listener', event:'consuming', queue, recovered}` as info messages (the
 *   latter again after every reconnect). If the queue cannot be set up the start fails.
 *   With the listen spec's `setUpAfterInit`, the start resolves after the module's init and
 *   the queue is set up after it (Kazoo's gen_listener, whose init returns before its
 *   queue exists); a queue that cannot be set up then stops the process
 *   (`{queue_setup_failed}`, logged).
 * - Every delivery is decoded and validated against the catalogue (src/api); an invalid
 *   one is counted, logged with its reason and dropped, or answered with the API's error
 *   message when it carried a Server-ID. It never reaches the module.
 * - Responders run outside the listener's mailbox on a bounded runner (Kazoo spawns a
 *   process per message): they never block the listener, they see no state, and a throw
 *   is logged and counted, never fatal; the count shows in the tree view as the
 *   listener's `counters.handlerErrors`. A responder that needs ordering or state casts
 *   into the listener (`ctx.server`), as Kazoo's call_control does.
 * - The module's handleCall / handleCast / handleInfo / handleEvent may answer at once or
 *   with a promise; an answer given at once goes back to the kernel at once.
 * - Info messages: without the module's handleInfo, anything but gen_listener's own
 *   notices is the kernel's unexpected message (logged at warn, counted, see gen-server.ts).
 * - `handleEvent(message, state)` (optional) runs inside the listener process for each
 *   valid message, in arrival order, before the responders (Kazoo's handle_event).
 * - Bindings and responders can be added and removed while running
 *   (`GenListener.addBinding` / `removeBinding`). After a lost connection the transport
 *   re-declares the queue under the same name and re-binds; the state is untouched.
 * - `takeOver: true` (a named queue): a restarted listener consumes the queue only once
 *   its predecessor's consumer (however that process ended) is cancelled
 *   (listener-core.ts); `GenListener.released(transport, queue)` resolves once the
 *   current one's is.
 * - Code change (an app upgrade, src/kernel/app-upgrade.ts): a listener whose new module
 *   defines `codeChange` stays the same process on the same queue and consumer: while it
 *   is suspended its responders keep running (deliveries are not held up) and what they
 *   cast into it waits in its mailbox; after the new module's codeChange the responders
 *   of the new module's `listen(args)` replace the old ones in one step (no delivery sees
 *   neither), bindings it adds are bound and those it no longer lists unbound (bindings
 *   added at runtime stay). A listener without codeChange is restarted by its supervisor;
 *   one started by `GenListener.childSpec` then hands its queue and consumer over: at its
 *   exit (however it ends) while the upgrade holds its slot open
 *   (src/kernel/restart-handover.ts) it parks them (ListenerCore.park) instead of
 *   cancelling, and the successor's start takes them (same queue, generated name kept,
 *   each message handled once). A successor that fails to start puts them back in the
 *   slot; one on another queue releases them.
 * - terminate: the module's `beforeStop` (optional) runs first, in the process (it can
 *   answer the calls its running handlers wait on, which the process can no longer
 *   receive), then the consumer is cancelled and running handlers finish before the
 *   module's terminate runs; an anonymous queue is deleted. A listener that ends without terminate
 *   (killed, crashed on purpose) has its consumer cancelled and its anonymous queue
 *   deleted all the same, so no stale consumer keeps taking messages from a named queue.
 */
import { FIFE_VERSION } from '../version.ts';
import {
  GenServer,
  Handover,
  ok,
  noreply,
  reply,
  unexpected,
  stop,
  exposeCounters,
  type GenServerBehaviour,
  type ProcessContext,
  type Runtime,
  type Pid,
  type StartOptions,
  type StartResult,
  type ChildSpec,
  type InitResult,
} from '../kernel/index.ts';
import { errorReply as apiErrorReply, type Envelope as ValidMessage } from '../api/index.ts';
import { busDecoder, busValidator, busExchangeSpecs } from '../api/bus-adapters.ts';
import {
  ListenerCore,
  type ListenerOptions,
  type ListenerBinding,
  type HandlerContext,
  type ResponderSpec,
  type ParkedListener,
} from './listener-core.ts';
import type { BusTransport, ExchangeSpec } from './types.ts';
import type { Envelope } from './envelope.ts';

export interface ListenerHandlerContext extends HandlerContext {
  /** The listener process: cast to it for ordered, stateful work. */
  readonly server: Pid;
  readonly runtime: Runtime;
}

export interface GenListenerResponder {
  category: string;
  name: string;
  /** Receives messages the catalogue has validated. */
  handler: (message: ValidMessage, ctx: ListenerHandlerContext) => void | Promise<void>;
}

export interface ListenSpec extends Omit<
  ListenerOptions,
  'transport' | 'logger' | 'responders' | 'decode' | 'validate' | 'errorReply' | 'handleEvent'
> {
  responders?: GenListenerResponder[];
  /**
   * true: the start resolves once the module's init ran, and the queue is set up after it
   * (Kazoo's gen_listener); the `consuming` notice says when it is up, and a queue that
   * cannot be set up stops the process with `{queue_setup_failed}`. For a listener
   * started per request under a shared supervisor, whose start would otherwise hold that
   * supervisor for the broker's round trips. Not with a queue handed over by an upgrade.
   * A function decides from the state the module's init returned.
   */
  setUpAfterInit?: boolean | ((state: any) => boolean);
}

export interface GenListenerBehaviour<S, A = void, Call = never, Cast = never> extends GenServerBehaviour<
  S,
  A,
  Call,
  Cast
> {
  listen(args: A): ListenSpec;
  /** Runs in the listener process for each valid message before the responders. */
  handleEvent?(message: ValidMessage, state: S, ctx: ProcessContext): S | Promise<S>;
  /** Runs at terminate before the running handlers are waited for. */
  beforeStop?(reason: unknown, state: S, ctx: ProcessContext): void | Promise<void>;
}

export interface GenListenerEvent {
  type: 'gen_listener';
  event: 'created_queue' | 'consuming';
  queue: string;
  recovered?: boolean;
}

/** The handler context plus the listener's pid and runtime (one small object per message). */
class ResponderContext implements ListenerHandlerContext {
  constructor(
    private readonly inner: HandlerContext,
    readonly server: Pid,
    readonly runtime: Runtime,
  ) {}
  get listener() {
    return this.inner.listener;
  }
  get queue() {
    return this.inner.queue;
  }
  get delivery() {
    return this.inner.delivery;
  }
  get log() {
    return this.inner.log;
  }
  reply(payload: Envelope): Promise<void> {
    return this.inner.reply(payload);
  }
}

interface State<S> {
  user: S;
  core: ListenerCore;
  /** The start arguments (the new module's listen(args) at a code change). */
  args: unknown;
  /** The responders given to the core and the bindings listen() declared (replaced at a code change). */
  responders: ResponderSpec[];
  bindings: readonly ListenerBinding[];
  /** Parks the queue for the successor when an upgrade restarts the listener (true if so). */
  handOver: () => boolean;
}

/** Where a supervisor runs the listener (GenListener.childSpec): its restart hand-over slot. */
interface Slot {
  sup: Pid;
  id: string;
}

interface Args<A> {
  user: A;
  transport: BusTransport;
  appName: string;
  appVersion: string;
  slot?: Slot;
}

const HANDOVER_KEY = 'gen_listener';

type Internal =
  | { op: 'add_binding'; binding: ListenerBinding }
  | { op: 'remove_binding'; binding: ListenerBinding }
  | { op: 'queue' }
  | { op: 'counters' };
type InternalCast = { op: 'handle_event'; message: Envelope } | { op: 'setup_failed'; err: string };

const MAX_BYTES = 4 * 1024 * 1024;
let kazoo: readonly ExchangeSpec[] | undefined;
/** Kazoo's exchanges, made once: every listener (one per call for call_control) keeps the list. */
const kazooExchanges = (): readonly ExchangeSpec[] =>
  (kazoo ??= Object.freeze(
    busExchangeSpecs().map((e) => Object.freeze({ name: e.name, type: e.type }) as ExchangeSpec),
  ));
const isInternal = (x: unknown): x is Internal =>
  typeof x === 'object' && x !== null && '__gen_listener' in x;

const wrappers = new WeakMap<object, GenServerBehaviour<any, any, any, any>>();

/** The gen_server that runs a GenListenerBehaviour (one per behaviour, cached). */
function wrap<S, A>(
  b: GenListenerBehaviour<S, A, any, any>,
): GenServerBehaviour<State<S>, Args<A>, any, any> {
  const cached = wrappers.get(b);
  if (cached !== undefined) return cached;
  const w: GenServerBehaviour<State<S>, Args<A>, any, any> = {
    name: b.name,
    async init(args, ctx) {
      const r: InitResult<S> = await b.init(args.user, ctx);
      if (r.type !== 'ok') return r;
      const spec = b.listen(args.user);
      const server = ctx.self;
      const rt = ctx.runtime;
      const responders = responderSpecs(spec, server, rt);
      const slot = args.slot;
      // A predecessor restarted by an upgrade may have left its queue and consumer.
      const handedOver =
        slot === undefined ? undefined : Handover.take<ParkedListener>(rt, slot.sup, slot.id, HANDOVER_KEY);
      const core = new ListenerCore({
        handedOver,
        ...spec,
        name: spec.name ?? b.name,
        exchanges:
          (spec.exchanges ?? []).length === 0
            ? kazooExchanges()
            : [...kazooExchanges(), ...(spec.exchanges ?? [])],
        transport: args.transport,
        logger: ctx.log,
        responders,
        decode: busDecoder({ maxBytes: spec.maxMessageBytes ?? MAX_BYTES }) as ListenerOptions['decode'],
        validate: busValidator as ListenerOptions['validate'],
        errorReply: (request, reason) =>
          apiErrorReply(request, reason, {
            appName: args.appName,
            appVersion: args.appVersion,
            node: rt.node,
          }) as Envelope,
        handleEvent:
          b.handleEvent === undefined
            ? undefined
            : (message) =>
                void GenServer.cast(rt, server, { __gen_listener: true, op: 'handle_event', message }),
      });
      const notify = (e: GenListenerEvent): void => rt.send(server, e);
      core.on('created_queue', (queue) => notify({ type: 'gen_listener', event: 'created_queue', queue }));
      core.on('consuming', (i) =>
        notify({ type: 'gen_listener', event: 'consuming', queue: i.queue, recovered: i.recovered }),
      );
      exposeCounters(ctx, () => {
        const c = core.counters.snapshot();
        return {
          received: c.received,
          handled: c.handled,
          unhandled: c.unhandled,
          invalid: c.invalidTotal,
          handlerErrors: c.handlerErrors,
          backlogDropped: c.backlogDropped,
        };
      });
      const after =
        typeof spec.setUpAfterInit === 'function'
          ? spec.setUpAfterInit(r.state)
          : spec.setUpAfterInit === true;
      if (after && handedOver === undefined) {
        core.start().then(
          () => undefined,
          (err: unknown) =>
            void GenServer.cast(rt, server, { __gen_listener: true, op: 'setup_failed', err: String(err) }),
        );
      } else
        try {
          // Ended while the module's init ran (killed): nothing to consume for.
          if (!rt.isAlive(server)) throw new Error(`${b.name}: ended before its queue was set up`);
          await core.start();
        } catch (err) {
          // Not taken: back in the slot for the next start there (an upgrade's undoing).
          if (
            handedOver?.pending() === true &&
            !Handover.deposit(rt, slot!.sup, slot!.id, HANDOVER_KEY, () => handedOver)
          )
            await handedOver.release();
          throw err;
        }
      // Another queue than the predecessor's: its own goes as it would have at its stop.
      if (handedOver?.pending() === true) await handedOver.release();
      const handOver = (): boolean =>
        slot !== undefined && Handover.deposit(rt, slot.sup, slot.id, HANDOVER_KEY, () => core.park());
      // Ended while an upgrade restarts it: the queue and consumer wait for the successor
      // (at the exit itself, before the supervisor knows of it). Only a listener in a
      // supervisor's slot (childSpec) can hand over. (rt.onExit, not ctx.signal: no
      // AbortController for each of the per-call listeners.)
      if (slot !== undefined) rt.onExit(server, () => void handOver());
      // However the process ends (terminate, a kill, an injected crash), its consumer goes
      // (once parked, stop only waits for its running handlers), a microtask after the
      // exit as an awaitExit would (rt.onExit: no promise for each per-call listener).
      if (!rt.onExit(server, () => queueMicrotask(() => void core.stop())))
        queueMicrotask(() => void core.stop());
      return ok(
        { user: r.state, core, args: args.user, responders, bindings: spec.bindings ?? [], handOver },
        r.timeout === undefined ? undefined : { timeout: r.timeout },
      );
    },
    // Not async: a module's synchronous result goes back to the kernel as it is (no
    // promise and no turn for each message a listener handles; a throw ends the process
    // as a rejection did).
    handleCall(req, from, s, ctx) {
      if (isInternal(req)) {
        switch (req.op) {
          case 'add_binding':
            return s.core.addBinding(req.binding).then(() => reply('ok', s));
          case 'remove_binding':
            return s.core.removeBinding(req.binding).then(() => reply('ok', s));
          case 'queue':
            return reply(s.core.queue, s);
          case 'counters':
            return reply(s.core.counters.snapshot(), s);
        }
      }
      if (b.handleCall === undefined) throw new Error(`${b.name}: unhandled call`);
      return liftAny(b.handleCall(req, from, s.user, ctx), s);
    },
    handleCast(msg, s, ctx) {
      if (isInternal(msg)) {
        const op = (msg as unknown as InternalCast).op;
        if (op === 'setup_failed') {
          const err = (msg as unknown as { err: string }).err;
          ctx.log.error({ err }, `${b.name}: its queue could not be set up: stopping`);
          return stop({ queue_setup_failed: err }, s);
        }
        if (op === 'handle_event') {
          const user = b.handleEvent!(
            (msg as unknown as { message: Envelope }).message as ValidMessage,
            s.user,
            ctx,
          );
          return isThenable(user) ? user.then((u) => noreply({ ...s, user: u })) : noreply({ ...s, user });
        }
      }
      if (b.handleCast === undefined) throw new Error(`${b.name}: unhandled cast`);
      return liftAny(b.handleCast(msg, s.user, ctx), s);
    },
    handleInfo(msg, s, ctx) {
      if (b.handleInfo === undefined)
        return (msg as GenListenerEvent)?.type === 'gen_listener' ? noreply(s) : unexpected(msg, s);
      return liftAny(b.handleInfo(msg, s.user, ctx), s);
    },
    async terminate(reason, s, ctx) {
      await b.beforeStop?.(reason, s.user, ctx);
      if (!s.handOver()) await s.core.stop();
      await b.terminate?.(reason, s.user, ctx);
    },
    describe: (s) => ({ queue: s.core.queue, consuming: s.core.isConsuming, state: b.describe?.(s.user) }),
  };
  if (b.codeChange !== undefined) {
    const change = b.codeChange.bind(b);
    w.codeChange = async (oldVsn, state, extra, ctx) => {
      const old = state as State<unknown>;
      return { ...old, user: await change(oldVsn, old.user, extra, ctx) } as State<S>;
    };
    w.codeChanged = (s, ctx) => swapListen(b, s, ctx);
  }
  wrappers.set(b, w);
  return w;
}

function responderSpecs(spec: ListenSpec, server: Pid, rt: Runtime): ResponderSpec[] {
  return (spec.responders ?? []).map((x) => ({
    category: x.category,
    name: x.name,
    handler: (m: Envelope, hctx: HandlerContext) =>
      x.handler(m as ValidMessage, new ResponderContext(hctx, server, rt)),
  }));
}

const bindingKey = (x: ListenerBinding): string => `${x.exchange}\u0000${x.routingKey}`;

/** After a code change: the new module's responders replace the old ones; its bindings are diffed in. */
async function swapListen<S>(
  b: GenListenerBehaviour<S, any, any, any>,
  s: State<S>,
  ctx: ProcessContext,
): Promise<void> {
  const spec = b.listen(s.args);
  const next = responderSpecs(spec, ctx.self, ctx.runtime);
  // One synchronous step: a delivery sees the old responders or the new ones.
  for (const x of next) s.core.addResponder(x.category, x.name, x.handler);
  for (const x of s.responders) s.core.removeResponder(x.category, x.name, x.handler);
  s.responders = next;
  const nextBindings = spec.bindings ?? [];
  const keep = new Set(nextBindings.map(bindingKey));
  const had = new Set(s.bindings.map(bindingKey));
  s.bindings = nextBindings;
  for (const x of nextBindings.filter((y) => !had.has(bindingKey(y))))
    await s.core
      .addBinding(x)
      .catch((err: unknown) =>
        ctx.log.error(
          { err, exchange: x.exchange, routing_key: x.routingKey },
          'code change: new binding failed',
        ),
      );
  for (const x of [...had].filter((k) => !keep.has(k))) {
    const [exchange, routingKey] = x.split('\u0000') as [string, string];
    await s.core
      .removeBinding({ exchange, routingKey })
      .catch((err: unknown) =>
        ctx.log.error({ err, exchange, routing_key: routingKey }, 'code change: unbinding failed'),
      );
  }
}

const isThenable = <T>(x: T | PromiseLike<T>): x is PromiseLike<T> =>
  typeof (x as { then?: unknown } | null)?.then === 'function';

/** lift, for a result or a promise of one. */
function liftAny<S, R extends { type: string; state?: S }>(r: R | PromiseLike<R>, s: State<S>): any {
  return isThenable(r) ? r.then((x) => lift(x, s)) : lift(r, s);
}

/** Maps a module result on its state to the same result on the wrapper's state. */
function lift<S, R extends { type: string; state?: S }>(r: R, s: State<S>): any {
  if (r === null || typeof r !== 'object' || !('state' in r)) return r;
  return { ...r, state: { ...s, user: r.state } };
}

export interface GenListenerOptions extends StartOptions {
  transport: BusTransport;
  appName?: string;
  appVersion?: string;
}

export function startListener<S, A>(
  rt: Runtime,
  b: GenListenerBehaviour<S, A, any, any>,
  args: A,
  opts: GenListenerOptions,
  slot?: Slot,
): Promise<StartResult> {
  const { transport, appName, appVersion, ...startOpts } = opts;
  return GenServer.start(
    rt,
    wrap(b),
    {
      user: args,
      transport,
      appName: appName ?? startOpts.app ?? b.name,
      appVersion: appVersion ?? FIFE_VERSION,
      slot,
    },
    startOpts,
  );
}

const internal = (op: Internal): unknown => ({ __gen_listener: true, ...op });

export const GenListener = {
  start: <S, A>(rt: Runtime, b: GenListenerBehaviour<S, A, any, any>, args: A, opts: GenListenerOptions) =>
    startListener(rt, b, args, opts),
  childSpec: <S, A>(
    id: string,
    b: GenListenerBehaviour<S, A, any, any>,
    args: A,
    opts: Omit<GenListenerOptions, 'link'> & Omit<ChildSpec, 'id' | 'start'>,
  ): ChildSpec => {
    const { restart, shutdown, type, significant, ...startOpts } = opts;
    return {
      id,
      restart,
      shutdown,
      type,
      significant,
      behaviour: wrap(b),
      start: (ctx) =>
        startListener(
          ctx.runtime,
          b,
          args,
          { ...startOpts, link: ctx.parent, app: startOpts.app ?? ctx.app },
          { sup: ctx.parent, id },
        ),
    };
  },
  addBinding: (rt: Runtime, server: Pid | string, binding: ListenerBinding) =>
    GenServer.call(rt, server, internal({ op: 'add_binding', binding })),
  removeBinding: (rt: Runtime, server: Pid | string, binding: ListenerBinding) =>
    GenServer.call(rt, server, internal({ op: 'remove_binding', binding })),
  queue: (rt: Runtime, server: Pid | string) => GenServer.call<string>(rt, server, internal({ op: 'queue' })),
  counters: (rt: Runtime, server: Pid | string) => GenServer.call(rt, server, internal({ op: 'counters' })),
  /** Resolves once the current `takeOver` listener of `queue` on `transport` has stopped. */
  released: (transport: BusTransport, queue: string): Promise<void> =>
    ListenerCore.released(transport, queue),
};
