/**
 * Shared by the observer tests: a node with a small app to crash (`observed`: a
 * supervisor allowing many restarts, a worker registered as `ticker`), and a reader of
 * the observer's server-sent event stream that tests wait on.
 *
 * - `bootObserved(name, busUrl, {token})`: a started node with the app running.
 * - `openStream(url, token)`: reads `GET /observer/stream`; `next(match)` resolves with the
 *   first event (past or future) that `match` accepts, or rejects at the deadline.
 * - `findProc(tree, id)`: a process of a node's tree by its child id or registered name.
 */
import { tmpDir } from '../../support/tmp-dirs.ts';
import { startNode, type FifeNode } from '../../../src/node/node.ts';
import { loadConfig } from '../../../src/node/config.ts';
import {
  AppsController,
  GenServer,
  noreply,
  ok,
  type AppDefinition,
  type GenServerBehaviour,
} from '../../../src/kernel/index.ts';

const Ticker: GenServerBehaviour<null, void> = {
  name: 'ticker',
  init: () => ok(null),
  handleInfo: (_m, s) => noreply(s),
};

export const observedApp: AppDefinition = {
  name: 'observed',
  tree: () => ({
    flags: { strategy: 'one_for_one', intensity: 1000, period: 10 },
    children: [GenServer.childSpec('ticker', Ticker, undefined, { name: 'ticker' })],
  }),
};

export async function bootObserved(
  name: string,
  busUrl: string,
  opts: { token?: string } = {},
): Promise<FifeNode> {
  const env: Record<string, string> = {
    FIFE_NODE: name,
    FIFE_DATA_DIR: tmpDir('fife-observer-'),
    FIFE_BUS_URL: busUrl,
    FIFE_LOG_LEVEL: 'warn',
    FIFE_APPS: '',
  };
  if (opts.token !== undefined) env.FIFE_ADMIN_TOKEN = opts.token;
  const n = await startNode({
    config: loadConfig({ env }),
    extraApps: [observedApp],
    logDestination: { write: () => undefined },
  });
  const r = await AppsController.startApp(n.runtime, 'observed');
  if (r.type !== 'ok') throw new Error(`observed app did not start on ${name}`);
  return n;
}

export interface TreeNodeView {
  id?: string;
  name?: string;
  pid?: string;
  restarts: number;
  counters?: Record<string, number>;
  children?: TreeNodeView[];
}

export interface NodeUpdate {
  node: string;
  tree: {
    node: string;
    processes: number;
    kernel?: TreeNodeView;
    apps: Array<{ name: string; tree?: TreeNodeView }>;
  };
  crashes: Array<{ pid: string; name?: string; reason: string }>;
  events: Array<{ kind: string; pid?: string; reason?: string }>;
  droppedEvents: number;
  rates: Record<string, number>;
  mailboxes: Record<string, number>;
}

export interface StreamEvent {
  event: string;
  data: unknown;
}

/** A process in a node's tree (kernel and apps) by child id or registered name. */
export function findProc(tree: NodeUpdate['tree'], id: string): TreeNodeView | undefined {
  const walk = (n: TreeNodeView | undefined): TreeNodeView | undefined => {
    if (n === undefined) return undefined;
    if (n.id === id || n.name === id) return n;
    for (const c of n.children ?? []) {
      const f = walk(c);
      if (f !== undefined) return f;
    }
    return undefined;
  };
  return walk(tree.kernel) ?? tree.apps.map((a) => walk(a.tree)).find((x) => x !== undefined);
}

export async function openStream(baseUrl: string, token?: string) {
  const ac = new AbortController();
  const res = await fetch(`${baseUrl}/observer/stream`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: ac.signal,
  });
  const events: StreamEvent[] = [];
  const waiters: Array<{ match: (e: StreamEvent) => boolean; resolve: (e: StreamEvent) => void }> = [];
  const see = (e: StreamEvent): void => {
    events.push(e);
    for (const w of waiters.splice(0))
      if (w.match(e)) w.resolve(e);
      else waiters.push(w);
  };
  if (res.ok && res.body !== null) {
    void (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) see({ event, data: JSON.parse(data.join('\n')) });
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    next(match: (e: StreamEvent) => boolean, timeoutMs = 15_000): Promise<StreamEvent> {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching observer event within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    close: () => ac.abort(),
  };
}

/** The first `node` update from `node` that satisfies `match`. */
export const nodeUpdate = (
  stream: Awaited<ReturnType<typeof openStream>>,
  node: string,
  match: (u: NodeUpdate) => boolean = () => true,
): Promise<NodeUpdate> =>
  stream
    .next((e) => e.event === 'node' && (e.data as NodeUpdate).node === node && match(e.data as NodeUpdate))
    .then((e) => e.data as NodeUpdate);
