/**
 * A CouchDB-protocol server on loopback for tests.
 *
 * `startCouchTestServer()` starts pouchdb-server (npm devDependency, LevelDB on disk) as a
 * separate Node process on a free 127.0.0.1 port with its data in a fresh temporary folder
 * (or `dataDir`), and resolves once the server answers HTTP. If FIFE_TEST_COUCHDB_URL is
 * set (and `spawn` is not forced) that server is used instead and nothing is started.
 *
 * The returned handle:
 * - `url` base URL (may carry credentials when external: do not print it);
 * - `stop()` SIGKILLs the process by its pid (an outage, as a crash would cause it) and
 *   resolves when it has exited; `start()` starts it again on the same port with the same
 *   data; `close()` stops it and removes a temporary data folder. All are idempotent.
 * - External servers cannot be stopped: `stop()`/`start()` throw.
 * Readiness is polled (every 50 ms, at most 20 s); an early exit fails at once with the
 * process's stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

export interface CouchTestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly external: boolean;
  readonly pid: number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface StartCouchOptions {
  dataDir?: string;
  /** Always start our own server, even when FIFE_TEST_COUCHDB_URL is set (outage tests). */
  spawn?: boolean;
}

export async function startCouchTestServer(opts: StartCouchOptions = {}): Promise<CouchTestServer> {
  const externalUrl = process.env.FIFE_TEST_COUCHDB_URL;
  if (externalUrl && opts.spawn !== true) return externalServer(externalUrl);
  const temp = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fife-couch-'));
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const server = new SpawnedServer(port, dataDir, temp);
  await server.start();
  return server;
}

function externalServer(url: string): CouchTestServer {
  const u = new URL(url);
  const refuse = async (): Promise<void> => {
    throw new Error(
      'FIFE_TEST_COUCHDB_URL points at an external server; it cannot be stopped or started by tests',
    );
  };
  return {
    url: url.replace(/\/$/, ''),
    port: Number(u.port || 5984),
    dataDir: '',
    external: true,
    pid: undefined,
    stop: refuse,
    start: refuse,
    close: async () => {},
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

class SpawnedServer implements CouchTestServer {
  readonly url: string;
  readonly external = false;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly temp: boolean,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const require = createRequire(import.meta.url);
    const bin = join(dirname(require.resolve('pouchdb-server/package.json')), 'bin', 'pouchdb-server');
    const args = [
      bin,
      '-p',
      String(this.port),
      '-o',
      '127.0.0.1',
      '-n',
      '--no-color',
      '-d',
      `${this.dataDir}/`,
      '-c',
      join(this.dataDir, 'config.json'),
    ];
    const child = spawn(process.execPath, args, { cwd: this.dataDir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.child = undefined;
        resolve();
      }),
    );
    let gone = false;
    void this.exited.then(() => {
      gone = true;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (gone)
        throw new Error(
          `pouchdb-server exited before answering on ${this.url}: ${stderr.trim() || 'no output'}`,
        );
      try {
        const res = await fetch(`${this.url}/`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet: poll again below
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`pouchdb-server did not answer on ${this.url} within 20 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.pid === undefined) return;
    process.kill(child.pid, 'SIGKILL');
    await this.exited;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.temp) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
