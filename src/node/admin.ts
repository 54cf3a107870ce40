/**
 * The node's admin endpoint: HTTP/JSON on loopback, owned by a gen_server (`admin`) so it
 * is supervised like everything else. Operator commands (`fife tree`, `fife apps ...`)
 * go through it to a running node.
 *
 *   GET  /health                 {node, uptime_s, processes}
 *   GET  /tree                   the live tree (kernel and apps) as JSON
 *   GET  /tree?format=text       the same, rendered for a terminal
 *   GET  /apps                   every known app with its state
 *   GET  /nodes                  the cluster: {nodes: every node heard on the bus,
 *                                switches: the switches their ecallmgr connects}
 *   POST /apps/<name>/start|stop|restart    {type:'ok'} or {type:'error', reason} (409)
 *   POST /kill {name|pid, reason?}           fault injection: crash a process with reason (default killed)
 *   POST /apps/<name>/ops/<op> {input}       run an operation the app declares (e.g. registrar
 *                                            add_account): {type:'ok', result}; errors: 400 invalid,
 *                                            404 unknown app/operation or not found, 409 conflict,
 *                                            503 app not running, 500 failed
 *
 * On start it writes <nodeDir>/admin.json ({url, pid}) so commands can find the node; on
 * terminate it closes the server and removes the file. Unknown routes are 404, bad JSON
 * bodies 400, each with {error} and a log line; no request can crash the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listNodes, listSwitches } from './nodes.ts';
import { GenServer, ok, noreply, AppsController, describeNode, renderTree, formatReason, type GenServerBehaviour, type ProcessContext, type Runtime } from '../kernel/index.ts';

export interface AdminArgs {
  host: string;
  port: number;
  nodeDir: string;
  kernelRoot: string;
  startedAt: number;
}

interface State {
  server: Server;
  url: string;
  file: string;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown, text = false): void {
  const payload = text ? String(body) : JSON.stringify(body);
  res.writeHead(status, { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json' });
  res.end(payload);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const s = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(s === '' ? {} : JSON.parse(s));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

const OP_STATUS: Record<string, number> = { invalid: 400, not_found: 404, conflict: 409, unknown_app: 404, unknown_operation: 404, not_started: 503 };

async function runOperation(rt: Runtime, app: string, op: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const input = (await readJson(req)) as Record<string, unknown>;
  const found = await AppsController.operation(rt, app, op);
  if (found.type === 'error') return send(res, OP_STATUS[found.reason] ?? 500, { type: 'error', code: found.reason, error: `${app} ${op}: ${found.reason}${found.known ? ` (known: ${found.known.join(', ')})` : ''}` });
  try {
    const result = await found.run(input);
    rt.log.info({ app, op }, 'operation done');
    return send(res, 200, { type: 'ok', result });
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'failed';
    rt.log.warn({ app, op, code, err: (err as Error).message }, 'operation refused or failed');
    return send(res, OP_STATUS[code] ?? 500, { type: 'error', code, error: (err as Error).message });
  }
}

async function route(rt: Runtime, a: AdminArgs, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { node: rt.node, uptime_s: Math.round((Date.now() - a.startedAt) / 1000), processes: rt.processCount });
  if (req.method === 'GET' && url.pathname === '/tree') {
    const tree = describeNode(rt, { root: a.kernelRoot });
    return url.searchParams.get('format') === 'text' ? send(res, 200, renderTree(tree) + '\n', true) : send(res, 200, tree);
  }
  if (req.method === 'GET' && url.pathname === '/apps') return send(res, 200, await AppsController.appsStatus(rt));
  if (req.method === 'GET' && url.pathname === '/nodes') return send(res, 200, { nodes: await listNodes(rt), switches: await listSwitches(rt) });
  if (req.method === 'POST' && parts[0] === 'apps' && parts.length === 3 && ['start', 'stop', 'restart'].includes(parts[2]!)) {
    const name = decodeURIComponent(parts[1]!);
    const op = parts[2] === 'start' ? AppsController.startApp : parts[2] === 'stop' ? AppsController.stopApp : AppsController.restartApp;
    const r = await op(rt, name);
    return send(res, r.type === 'ok' ? 200 : 409, r.type === 'ok' ? r : { type: 'error', reason: formatReason(r.reason) });
  }
  if (req.method === 'POST' && url.pathname === '/kill') {
    const body = (await readJson(req)) as { name?: unknown; pid?: unknown; reason?: unknown };
    const target = typeof body.name === 'string' ? rt.whereis(body.name) : rt.processes().find((p) => String(p) === body.pid);
    if (target === undefined) return send(res, 404, { error: `no such process: ${String(body.name ?? body.pid)}` });
    const reason = body.reason ?? 'killed';
    rt.crash(target, reason);
    return send(res, 200, { type: 'ok', pid: String(target), reason });
  }
  if (req.method === 'POST' && parts[0] === 'apps' && parts.length === 4 && parts[2] === 'ops') return runOperation(rt, decodeURIComponent(parts[1]!), decodeURIComponent(parts[3]!), req, res);
  send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
}

export const Admin: GenServerBehaviour<State, AdminArgs> = {
  name: 'admin',
  async init(a, ctx: ProcessContext) {
    ctx.trapExit(true);
    const rt = ctx.runtime;
    const server = createServer((req, res) => {
      route(rt, a, req, res).catch((err: unknown) => {
        ctx.log.warn({ err: (err as Error).message, path: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 400, { error: (err as Error).message });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(a.port, a.host, () => resolve());
    });
    server.on('error', (err) => ctx.log.error({ err: err.message }, 'admin server error'));
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : a.port;
    const url = `http://${a.host}:${port}`;
    mkdirSync(a.nodeDir, { recursive: true });
    const file = join(a.nodeDir, 'admin.json');
    writeFileSync(file, JSON.stringify({ url, pid: process.pid }));
    ctx.log.info({ url }, 'admin endpoint listening');
    return ok({ server, url, file });
  },
  handleInfo(_m, s) {
    return noreply(s);
  },
  describe: (s) => ({ url: s.url }),
  async terminate(_r, s) {
    rmSync(s.file, { force: true });
    s.server.closeAllConnections();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  },
};

export const adminChildSpec = (args: AdminArgs) => GenServer.childSpec('admin', Admin, args, { name: 'admin', shutdown: 5000 });

/** The URL of a running node's admin endpoint (read from the process state). */
export const adminUrl = (rt: Runtime): string | undefined => {
  const p = rt.resolve('admin');
  return (p?.meta?.describe?.() as { url?: string } | undefined)?.url;
};
