/**
 * The node's admin endpoint: HTTP/JSON, owned by a gen_server (`admin`) so it is
 * supervised like everything else. Operator commands (`fife tree`, `fife apps ...`) go
 * through it to a running node. Built on fastify, the project's one HTTP stack (routes
 * with JSON-schema validation, one error handler).
 *
 *   GET  /health                 {node, uptime_s, processes}: 200 while the kernel root
 *                                lives (503 otherwise)
 *   GET  /ready                  {ready, reasons}: 200 when every configured app runs and
 *                                the bus is connected; 503 with the reasons otherwise
 *   GET  /metrics                Prometheus text format (metrics.ts)
 *   GET  /tree                   the live tree (kernel and apps) as JSON
 *   GET  /tree?format=text       the same, rendered for a terminal
 *   GET  /apps                   every known app with its state
 *   GET  /nodes                  the cluster: {nodes: every node heard on the bus,
 *                                switches: the switches their ecallmgr connects}
 *   POST /apps/<name>/start|stop|restart    {type:'ok'} or {type:'error', reason} (409)
 *   POST /apps/<name>/upgrade {from}         load the plugin at path `from` (absolute, or relative
 *                                            to the node's folder) anew and move the running app to
 *                                            it (AppsController.upgradeApp): {type:'ok', from, to,
 *                                            changed, restarted, added, removed}; 409 {type:'error',
 *                                            reason} when it cannot load or the upgrade fails (the
 *                                            old version runs on; logged)
 *   POST /kill {name|pid, reason?}           fault injection: crash a process with reason (default
 *                                            killed); 404 no such process. Killing the kernel root
 *                                            or admin itself answers first, then crashes it (the
 *                                            root: the node halts). A `fault` event like /chaos.
 *   POST /chaos {kind, ...}                  one injection (chaos.ts lists the kinds and fields:
 *                                            name|pid|random_in, reason, ms, delay_ms, drop, switch):
 *                                            {type:'ok', kind, target, pid?, params}; 404 nothing to hit
 *   POST /chaos {every_ms, for_ms, seed?, kinds?, random_in?, ms?, delay_ms?, drop?, reason?}
 *                                            starts a schedule in the node's `chaos` process:
 *                                            {type:'ok', seed, steps, kinds}; 409 one already runs
 *   POST /chaos/stop                         ends the running schedule {type:'ok', stopped}
 *   GET  /chaos/schedule                     the running schedule: {running, seed?, step?, steps?}
 *   GET  /events[?types=fault,supervisor]    Server-Sent Events: every kernel event as JSON
 *                                            (`event: <type>`, `data: ` the shape events.ts
 *                                            documents); a `: ping` comment every 15 s; a
 *                                            reader 4 MiB behind is disconnected (logged)
 *   GET  /observer, /observer/stream          the observer page and its live stream (observer/routes.ts)
 *   POST /apps/<name>/ops/<op> {input}       run an operation the app declares (e.g. registrar
 *                                            add_account): {type:'ok', result}; errors: 400 invalid,
 *                                            404 unknown app/operation or not found, 409 conflict,
 *                                            503 app not running
 *
 * Access
 * - Binds `host` (loopback by default). A non-loopback host needs a token: without one
 *   init fails (and so the node start) saying so; with one it is logged as a warning.
 * - With a token set, every request needs `Authorization: Bearer <token>` (401 otherwise,
 *   with `WWW-Authenticate`), except the orchestrator probes `/health` and `/ready`, which
 *   say only up/ready, app names and states. `/metrics` needs the token (a scraper sends
 *   it). The token is compared in constant time and never logged.
 * - POST requests need `Content-Type: application/json` (415 otherwise), so a web page
 *   cannot post to the endpoint cross-origin (such a request would need a CORS preflight,
 *   which is not answered).
 *
 * Answers to bad requests, each `{error, request_id}` and a log line with the request id:
 * 401 no or wrong token, 404 unknown route, 405 a known route with another method (with
 * `Allow`), 413 a body over 64 KiB, 415 not JSON, 400 a body that is not JSON or not what
 * the route takes (the message names what was wrong), 500 an unexpected error (logged at
 * error with its stack). No request can crash the process.
 *
 * On start it writes <nodeDir>/admin.json ({url, pid}) so commands can find the node; when
 * the process ends (terminate, or killed without one) it closes the server and removes
 * the file if it is still its own.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listNodes, listSwitches } from './nodes.ts';
import { registerObserverRoutes, OBSERVER_PAGE_PATHS } from './observer/routes.ts';
import { removeOwnFile } from './node-lock.ts';
import { AppLoadError, loadPluginVersion } from './app-loader.ts';
import type { NodeMetrics } from './metrics.ts';
import { ChaosError, FAULT_KINDS, injectFault, type FaultKind, type FaultRequest } from './chaos.ts';
import type { ChaosDepsArgs, ChaosSchedule } from './chaos-scheduler.ts';
import {
  GenServer,
  ok,
  noreply,
  samePid,
  plainEvent,
  KERNEL_EVENT_TYPES,
  AppsController,
  describeNode,
  renderTree,
  formatReason,
  type AppDefinition,
  type GenServerBehaviour,
  type Logger,
  type Pid,
  type ProcessContext,
  type Runtime,
  type ExitReason,
  type KernelEventType,
} from '../kernel/index.ts';

export interface AdminArgs {
  host: string;
  port: number;
  /** Bearer token; required when `host` is not a loopback address. */
  token?: string;
  nodeDir: string;
  kernelRoot: string;
  startedAt: number;
  /** Served on /metrics and /ready; without it (tests of the endpoint alone) both answer 404. */
  metrics?: NodeMetrics;
  /** What /chaos injects into; without it only kill and crash can be injected. */
  chaos?: ChaosDepsArgs;
  /** Where an upgrade's plugin given by package name is resolved from (config `pluginsFrom`). */
  pluginsFrom?: string;
}

/** Probes an orchestrator sends without the token, and the observer page's static files. */
const OPEN_PATHS = new Set(['/health', '/ready', ...OBSERVER_PAGE_PATHS]);

interface State {
  close(): Promise<void>;
  url: string;
}

export const ADMIN_FILE = 'admin.json';
const MAX_BODY = 64 * 1024;
/** Bytes of events an /events reader may leave unread before it is disconnected. */
const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;
const OP_STATUS: Record<string, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  unknown_app: 404,
  unknown_operation: 404,
  not_started: 503,
};

/** True for 127.0.0.0/8, ::1 and localhost. */
export const isLoopback = (host: string): boolean =>
  /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i.test(host);

/** The header the CLI sends the token in (`Authorization: Bearer <token>`); none without a token. */

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

async function buildServer(rt: Runtime, self: Pid, a: AdminArgs, log: Logger): Promise<FastifyInstance> {
  // Loaded here, not at import: the `fife` commands import this module and need no server.
  const { default: Fastify } = await import('fastify');
  let nextId = 0;
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY,
    forceCloseConnections: true,
    genReqId: () => `adm-${++nextId}`,
    // Bodies are taken as sent: no coercion of null to '' or of '1' to 1.
    // Unknown fields are refused (additionalProperties: false), not stripped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  const expected = a.token ? digest(a.token) : undefined;

  // Only JSON bodies (fastify also takes text/plain by default: a cross-origin form could post it).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new HttpError(400, 'body is not JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    if (expected === undefined || OPEN_PATHS.has(req.url.split('?')[0]!)) return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (m === null || !timingSafeEqual(digest(m[1]!), expected)) {
      void reply.header('www-authenticate', 'Bearer realm="fife admin"');
      throw new HttpError(
        401,
        m === null ? 'this endpoint needs Authorization: Bearer <admin token>' : 'wrong admin token',
      );
    }
  });

  const requireJson = async (req: FastifyRequest): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      throw new HttpError(
        415,
        `${req.method} needs Content-Type: application/json${type ? `, got ${type}` : ''}`,
      );
  };

  const route = (
    method: 'GET' | 'POST',
    url: string,
    opts: { schema?: object },
    handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ): void => {
    app.route({
      method,
      url,
      schema: opts.schema,
      onRequest: method === 'POST' ? requireJson : undefined,
      handler,
    });
    const allow = method === 'GET' ? 'GET, HEAD' : 'POST';
    const others = ['DELETE', 'PATCH', 'PUT', 'OPTIONS', ...(method === 'GET' ? ['POST'] : ['GET', 'HEAD'])];
    app.route({
      method: others,
      url,
      onRequest: async (req, reply) => {
        void reply.header('allow', allow);
        throw new HttpError(405, `${req.method} not allowed on ${url}; use ${allow}`);
      },
      handler: async () => undefined,
    });
  };

  route('GET', '/health', {}, async (_req, reply) =>
    reply.code(rt.whereis(a.kernelRoot) === undefined ? 503 : 200).send({
      node: rt.node,
      uptime_s: Math.round((Date.now() - a.startedAt) / 1000),
      processes: rt.processCount,
    }),
  );
  const metrics = a.metrics;
  if (metrics !== undefined) {
    route('GET', '/ready', {}, async (_req, reply) => {
      const r = await metrics.readiness();
      return reply.code(r.ready ? 200 : 503).send(r);
    });
    route('GET', '/metrics', {}, async (_req, reply) => {
      const m = await metrics.text();
      return reply.type(m.contentType).send(m.body);
    });
  }
  route(
    'GET',
    '/tree',
    {
      schema: {
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'text'] } } },
      },
    },
    async (req, reply) => {
      const tree = describeNode(rt, { root: a.kernelRoot });
      if ((req.query as { format?: string }).format !== 'text') return tree;
      return reply.type('text/plain; charset=utf-8').send(renderTree(tree) + '\n');
    },
  );
  route('GET', '/apps', {}, async () => AppsController.appsStatus(rt));
  route('GET', '/nodes', {}, async () => ({ nodes: await listNodes(rt), switches: await listSwitches(rt) }));

  const appParams = { type: 'object', properties: { name: { type: 'string', minLength: 1 } } };
  for (const [action, fn] of [
    ['start', AppsController.startApp],
    ['stop', AppsController.stopApp],
    ['restart', AppsController.restartApp],
  ] as const) {
    route('POST', `/apps/:name/${action}`, { schema: { params: appParams } }, async (req, reply) => {
      const r = await fn(rt, (req.params as { name: string }).name);
      return reply
        .code(r.type === 'ok' ? 200 : 409)
        .send(r.type === 'ok' ? r : { type: 'error', reason: formatReason(r.reason) });
    });
  }

  const chaosDeps = { ...a.chaos, kernelRoot: a.kernelRoot, runtime: rt, log };
  /** Crashes `target`; the kernel root or admin itself only once the answer is sent. */
  const crashAfterReply =
    (req: FastifyRequest, reply: FastifyReply) =>
    (target: Pid, reason: ExitReason): void => {
      const root = samePid(target, rt.whereis(a.kernelRoot));
      if (!root && !samePid(target, self)) return void rt.crash(target, reason);
      // The endpoint goes down with the root or with itself: answer first.
      if (root)
        log.warn({ reason, request_id: req.id }, 'kill of the kernel root requested: the node will halt');
      reply.raw.once('close', () => rt.crash(target, reason));
    };
  const inject = (req: FastifyRequest, reply: FastifyReply, fault: FaultRequest) => {
    try {
      return injectFault({ ...chaosDeps, crash: crashAfterReply(req, reply) }, fault);
    } catch (err) {
      if (err instanceof ChaosError) throw new HttpError(err.code === 'invalid' ? 400 : 404, err.message);
      throw err;
    }
  };
  const upgradeBody = {
    type: 'object',
    required: ['from'],
    properties: { from: { type: 'string', minLength: 1 } },
    additionalProperties: false,
  };
  route(
    'POST',
    '/apps/:name/upgrade',
    { schema: { params: appParams, body: upgradeBody } },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const from = (req.body as { from: string }).from;
      let def: AppDefinition<any>;
      try {
        def = await loadPluginVersion(from, a.pluginsFrom);
      } catch (err) {
        const reason = err instanceof AppLoadError ? err.message : formatReason(err);
        log.error(
          { app: name, from, reason, request_id: req.id },
          'app upgrade failed: the old version runs on',
        );
        return reply.code(409).send({ type: 'error', reason });
      }
      const r = await AppsController.upgradeApp(rt, name, def);
      return reply
        .code(r.type === 'ok' ? 200 : 409)
        .send(r.type === 'ok' ? r : { type: 'error', reason: formatReason(r.reason) });
    },
  );

  const killBody = {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1 }, pid: { type: 'string', minLength: 1 } },
  };
  route('POST', '/kill', { schema: { body: killBody } }, async (req, reply) => {
    const body = req.body as { name?: string; pid?: string; reason?: unknown };
    if (body.name === undefined && body.pid === undefined)
      throw new HttpError(400, "body needs name (a registered name) or pid (as '<node.N>')");
    if (body.name !== undefined && body.pid !== undefined)
      throw new HttpError(400, 'body takes name or pid, not both');
    const reason = body.reason ?? 'killed';
    const r = inject(req, reply, {
      kind: reason === 'killed' ? 'kill' : 'crash',
      name: body.name,
      pid: body.pid,
      reason,
    });
    return { type: 'ok', pid: r.pid, reason };
  });

  const ms = (max: number) => ({ type: 'integer', minimum: 1, maximum: max });
  const chaosBody = {
    type: 'object',
    additionalProperties: false,
    properties: {
      kind: { type: 'string', enum: FAULT_KINDS },
      name: { type: 'string', minLength: 1 },
      pid: { type: 'string', minLength: 1 },
      random_in: { type: 'string', minLength: 1 },
      reason: {},
      ms: ms(3_600_000),
      delay_ms: ms(60_000),
      drop: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      switch: { type: 'string', minLength: 1 },
      every_ms: { type: 'integer', minimum: 10, maximum: 3_600_000 },
      for_ms: ms(7 * 24 * 3_600_000),
      seed: { type: 'integer', minimum: 0, maximum: 0xffffffff },
      kinds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: FAULT_KINDS } },
    },
  };
  type ChaosBody = {
    kind?: FaultKind;
    name?: string;
    pid?: string;
    random_in?: string;
    reason?: unknown;
    ms?: number;
    delay_ms?: number;
    drop?: number;
    switch?: string;
    every_ms?: number;
    for_ms?: number;
    seed?: number;
    kinds?: FaultKind[];
  };
  route('POST', '/chaos', { schema: { body: chaosBody } }, async (req, reply) => {
    const b = (req.body ?? {}) as ChaosBody;
    if (b.every_ms !== undefined || b.for_ms !== undefined) {
      if (b.every_ms === undefined || b.for_ms === undefined)
        throw new HttpError(400, 'a schedule needs both every_ms and for_ms');
      if (b.kind !== undefined) throw new HttpError(400, 'a schedule takes kinds (a list), not kind');
      const targeted = ['kill', 'crash'];
      const kinds =
        b.kinds ??
        FAULT_KINDS.filter(
          (k) => k !== 'drop-event-socket' && (b.random_in !== undefined || !targeted.includes(k)),
        );
      if (b.random_in === undefined && kinds.some((k) => targeted.includes(k)))
        throw new HttpError(400, 'kinds kill and crash need random_in (the supervisor to pick in)');
      const schedule: ChaosSchedule = {
        seed: b.seed ?? Math.floor(Math.random() * 0xffffffff),
        everyMs: b.every_ms,
        forMs: b.for_ms,
        kinds,
        randomIn: b.random_in,
        ms: b.ms,
        delayMs: b.delay_ms,
        drop: b.drop,
        reason: b.reason,
      };
      const r = (await GenServer.call(rt, 'chaos', { type: 'start', schedule })) as
        { type: 'ok'; steps: number } | { type: 'error'; reason: string };
      if (r.type === 'error')
        return reply.code(409).send({
          error: 'a chaos schedule is running: stop it first (fife chaos stop)',
          request_id: req.id,
        });
      log.info({ seed: schedule.seed, steps: r.steps, request_id: req.id }, 'chaos schedule requested');
      return { type: 'ok', seed: schedule.seed, steps: r.steps, every_ms: b.every_ms, kinds };
    }
    if (b.kind === undefined)
      throw new HttpError(
        400,
        `body needs kind (one of ${FAULT_KINDS.join(', ')}), or every_ms and for_ms (a schedule)`,
      );
    if (b.kinds !== undefined || b.seed !== undefined)
      throw new HttpError(400, 'kinds and seed belong to a schedule (with every_ms and for_ms)');
    const r = inject(req, reply, {
      kind: b.kind,
      name: b.name,
      pid: b.pid,
      randomIn: b.random_in,
      reason: b.reason,
      ms: b.ms,
      delayMs: b.delay_ms,
      drop: b.drop,
      switch: b.switch,
    });
    return { type: 'ok', ...r };
  });
  route('POST', '/chaos/stop', {}, async () => ({
    type: 'ok',
    ...((await GenServer.call(rt, 'chaos', { type: 'stop' })) as object),
  }));
  route('GET', '/chaos/schedule', {}, async () => GenServer.call(rt, 'chaos', { type: 'status' }));

  const typesPattern = `^(${KERNEL_EVENT_TYPES.join('|')})(,(${KERNEL_EVENT_TYPES.join('|')}))*$`;
  route(
    'GET',
    '/events',
    {
      schema: {
        querystring: { type: 'object', properties: { types: { type: 'string', pattern: typesPattern } } },
      },
    },
    async (req, reply) => {
      const asked = (req.query as { types?: string }).types;
      const types = (asked === undefined ? KERNEL_EVENT_TYPES : asked.split(',')) as KernelEventType[];
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(': fife kernel events\n\n');
      let id = 0;
      const handlers = types.map((type) => {
        const h = (e: unknown): void => {
          if (res.destroyed) return;
          // A reader that does not keep up is let go rather than buffered for without bound.
          if (res.writableLength > MAX_STREAM_BACKLOG) {
            log.warn(
              { request_id: req.id, buffered: res.writableLength },
              'event stream reader too slow: closed',
            );
            res.destroy();
            return;
          }
          res.write(`id: ${++id}\nevent: ${type}\ndata: ${JSON.stringify(plainEvent(type, e as never))}\n\n`);
        };
        rt.events.on(type, h as never);
        return [type, h] as const;
      });
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      ping.unref();
      log.info({ request_id: req.id, types }, 'event stream opened');
      res.once('close', () => {
        clearInterval(ping);
        for (const [type, h] of handlers) rt.events.off(type, h as never);
        log.info({ request_id: req.id, events: id }, 'event stream closed');
      });
    },
  );

  route(
    'POST',
    '/apps/:name/ops/:op',
    {
      schema: {
        params: { type: 'object', properties: { name: { type: 'string' }, op: { type: 'string' } } },
        body: { type: 'object' },
      },
    },
    async (req, reply) => {
      const { name, op } = req.params as { name: string; op: string };
      const found = await AppsController.operation(rt, name, op);
      if (found.type === 'error')
        return reply.code(OP_STATUS[found.reason] ?? 500).send({
          type: 'error',
          code: found.reason,
          error: `${name} ${op}: ${found.reason}${found.known ? ` (known: ${found.known.join(', ')})` : ''}`,
          request_id: req.id,
        });
      try {
        const result = await found.run(req.body as Record<string, unknown>);
        log.info({ app: name, op, request_id: req.id }, 'operation done');
        return { type: 'ok', result };
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string' || OP_STATUS[code] === undefined) throw err;
        log.warn(
          { app: name, op, code, err: (err as Error).message, request_id: req.id },
          'operation refused',
        );
        return reply
          .code(OP_STATUS[code])
          .send({ type: 'error', code, error: (err as Error).message, request_id: req.id });
      }
    },
  );

  registerObserverRoutes(app, rt, route);

  app.setNotFoundHandler(async (req) => {
    throw new HttpError(404, `no route ${req.method} ${req.url.split('?')[0]}`);
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const status = err.validation
      ? 400
      : err instanceof HttpError ||
          (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
        ? (err.statusCode ?? 500)
        : 500;
    const where = { request_id: req.id, method: req.method, path: req.url.split('?')[0] };
    if (status === 500) {
      log.error(
        { ...where, err: { message: err.message, stack: err.stack } },
        'admin request failed unexpectedly',
      );
      return reply
        .code(500)
        .send({ error: `internal error (request ${req.id}): ${err.message}`, request_id: req.id });
    }
    // Ajv says "must NOT have additional properties": name the field.
    const extra = (err.validation?.[0]?.params as { additionalProperty?: string } | undefined)
      ?.additionalProperty;
    const message = extra === undefined ? err.message : `${err.message} ('${extra}')`;
    log.warn({ ...where, status, err: message }, 'admin request refused');
    return reply.code(status).send({ error: message, request_id: req.id });
  });
  return app;
}

export const Admin: GenServerBehaviour<State, AdminArgs> = {
  name: 'admin',
  async init(a, ctx: ProcessContext) {
    ctx.trapExit(true);
    if (!isLoopback(a.host) && !a.token) {
      throw new Error(
        `the admin endpoint on non-loopback host ${a.host} needs a token: set admin.token or FIFE_ADMIN_TOKEN (or bind 127.0.0.1)`,
      );
    }
    const app = await buildServer(ctx.runtime, ctx.self, a, ctx.log);
    try {
      await app.listen({ host: a.host, port: a.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : a.port;
    const url = `http://${a.host.includes(':') && !a.host.startsWith('[') ? `[${a.host}]` : a.host}:${port}`;
    mkdirSync(a.nodeDir, { recursive: true });
    const file = join(a.nodeDir, ADMIN_FILE);
    writeFileSync(file, JSON.stringify({ url, pid: process.pid }));
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        removeOwnFile(file);
        await app.close();
      })());
    // However the process ends (terminate, a kill, an injected crash), the server and the file go.
    ctx.signal.addEventListener(
      'abort',
      () =>
        void close().catch((err: unknown) =>
          ctx.log.error({ err: (err as Error).message }, 'admin endpoint close failed'),
        ),
    );
    if (isLoopback(a.host))
      ctx.log.info({ url, auth: a.token ? 'bearer token' : 'none (loopback)' }, 'admin endpoint listening');
    else
      ctx.log.warn(
        { url },
        'admin endpoint listening on a non-loopback address: every request needs the admin token',
      );
    return ok({ close, url });
  },
  handleInfo(_m, s) {
    return noreply(s);
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    await s.close();
  },
};

export const adminChildSpec = (args: AdminArgs) =>
  GenServer.childSpec('admin', Admin, args, { name: 'admin', shutdown: 5000 });

/** The URL of a running node's admin endpoint (read from the process state). */
export const adminUrl = (rt: Runtime): string | undefined => {
  const p = rt.resolve('admin');
  return (p?.meta?.describe?.() as { url?: string } | undefined)?.url;
};
