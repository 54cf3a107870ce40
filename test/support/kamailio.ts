/**
 * Kamailio with Fife's own config (config/kamailio/fife-registrar.cfg) for tests and
 * benches, started through config/kamailio/run-kamailio.sh on a free 127.0.0.1 UDP port.
 *
 * `startKamailio({amqpUrl})` installs the Debian packages first when they are missing
 * and FIFE_INSTALL_PACKAGES=1 or FIFE_REQUIRE_SERVICES=1 (as root), starts Kamailio in
 * the foreground, and resolves once it answers a REGISTER (401); it rejects with the
 * reason (and Kamailio's output) otherwise. `output()` is all Kamailio wrote (kept in a
 * file while it runs, and after stop). `stop()` sends SIGTERM to the pid it
 * started and resolves when it has exited; idempotent. `kamailioProbe()` is the service
 * probe for serviceGate (binaries present or installable).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const RUN = join(ROOT, 'config/kamailio/run-kamailio.sh');
const INSTALL = join(ROOT, 'config/kamailio/install-packages.sh');

export interface Kamailio {
  readonly port: number;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

const installAllowed = (): boolean =>
  process.env.FIFE_INSTALL_PACKAGES === '1' || process.env.FIFE_REQUIRE_SERVICES === '1';

/** Resolves when kamailio, its kazoo module and sipp are installed (installing them when allowed). */
export async function kamailioProbe(): Promise<void> {
  const r = spawnSync(INSTALL, [], {
    env: { ...process.env, FIFE_INSTALL_PACKAGES: installAllowed() ? '1' : '0' },
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`Kamailio/SIPp not installed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
}

export function freeUdpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    s.once('error', rej);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function register401(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    const done = (v: boolean) => {
      clearTimeout(t);
      s.close();
      res(v);
    };
    const t = setTimeout(() => done(false), 300);
    s.on('message', (m) => done(m.toString().startsWith('SIP/2.0 401')));
    s.bind(0, '127.0.0.1', () => {
      const lp = s.address().port;
      const msg = [
        'REGISTER sip:probe.test SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK-probe${Date.now()}`,
        'From: <sip:probe@probe.test>;tag=p1',
        'To: <sip:probe@probe.test>',
        `Call-ID: probe-${Date.now()}@127.0.0.1`,
        'CSeq: 1 REGISTER',
        `Contact: <sip:probe@127.0.0.1:${lp}>`,
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      s.send(msg, port, '127.0.0.1');
    });
  });
}

export async function startKamailio(opts: {
  amqpUrl: string;
  children?: number;
  queryTimeoutS?: number;
}): Promise<Kamailio> {
  await kamailioProbe();
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'fife-kamailio-'));
  const args = [
    '--port',
    String(port),
    '--amqp',
    opts.amqpUrl,
    '--pidfile',
    join(dir, 'kamailio.pid'),
    '--children',
    String(opts.children ?? 8),
    '--query-timeout-s',
    String(opts.queryTimeoutS ?? 5),
  ];
  // Kamailio's output goes to a file (under load it writes a line per failure; a file
  // costs this process nothing while it runs)
  const logFile = join(dir, 'kamailio.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(RUN, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let last = '';
  const out = (): string => {
    try {
      last = readFileSync(logFile, 'utf8');
    } catch {
      // removed at stop: the last output read stays available
    }
    return last;
  };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopped: Promise<void> | undefined;
  const k: Kamailio = {
    port,
    pid: child.pid!,
    output: out,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        out();
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`kamailio exited with ${child.exitCode}: ${out().slice(-2000)}`);
    if (await register401(port)) return k;
  }
  await k.stop();
  throw new Error(`kamailio did not answer on 127.0.0.1:${port} within 15 s: ${out().slice(-2000)}`);
}
