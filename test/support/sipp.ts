/**
 * SIPp runs for tests and benches: `runSipp({target, scenario, users, ...})` writes the
 * injection file (user;realm;[authentication username=.. password=..]), runs SIPp on a
 * free 127.0.0.1 port to the end, and answers its final counters (from its -trace_stat
 * file) and exit code (0: every call succeeded). It rejects only when SIPp cannot run.
 * The process is killed (by its pid) if it outlives `timeoutMs`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from './kamailio.ts';

export interface SippUser {
  user: string;
  realm: string;
  password: string;
}

export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  /** SIPp's ElapsedTime(C) (whole seconds in SIPp 3.6's stat file). */
  elapsedS: number;
  /** Wall-clock time of the SIPp run, from spawn to exit (ms). */
  wallMs: number;
  /** Successful calls per second of wall-clock time. */
  rate: number;
  stats: Record<string, string>;
  output: string;
  /** The local UDP port SIPp ran on: the port of the Contact its REGISTERs carried. */
  port: number;
}

export async function runSipp(opts: {
  target: string;
  scenario: string;
  users: SippUser[];
  rate?: number;
  limit?: number;
  timeoutMs?: number;
  calls?: number;
}): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fife-sipp-'));
  try {
    const csv = join(dir, 'users.csv');
    writeFileSync(
      csv,
      [
        'SEQUENTIAL',
        ...opts.users.map(
          (u) => `${u.user};${u.realm};[authentication username=${u.user} password=${u.password}]`,
        ),
      ].join('\n') + '\n',
    );
    const stat = join(dir, 'stat.csv');
    const port = await freeUdpPort();
    const calls = opts.calls ?? opts.users.length;
    const args = [
      opts.target,
      '-sf',
      opts.scenario,
      '-inf',
      csv,
      '-m',
      String(calls),
      '-r',
      String(opts.rate ?? 100),
      '-rp',
      '1000',
      '-l',
      String(opts.limit ?? 500),
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-nostdin',
      '-trace_stat',
      '-stf',
      stat,
      '-fd',
      '1',
      '-max_recv_loops',
      '10000',
      '-timeout',
      `${Math.ceil((opts.timeoutMs ?? 60_000) / 1000)}`,
      '-timeout_error',
    ];
    const t0 = performance.now();
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), (opts.timeoutMs ?? 60_000) + 5000);
    const code = await new Promise<number | null>((res, rej) => {
      child.once('error', rej);
      child.once('exit', (c) => res(c));
    });
    clearTimeout(killer);
    const wallMs = performance.now() - t0;
    const stats = existsSync(stat) ? lastRow(readFileSync(stat, 'utf8')) : {};
    const num = (k: string) => Number(stats[k] ?? NaN);
    const elapsedS = elapsed(stats['ElapsedTime(C)']);
    const successful = num('SuccessfulCall(C)');
    return {
      code,
      successful,
      failed: num('FailedCall(C)'),
      elapsedS,
      wallMs,
      rate: successful / (wallMs / 1000),
      stats,
      output,
      port,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lastRow(text: string): Record<string, string> {
  const lines = text.trim().split('\n');
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const row = lines[lines.length - 1]!.split(';');
  return Object.fromEntries(head.map((h, i) => [h, row[i] ?? '']));
}

/** SIPp's elapsed time "HH:MM:SS" or "HH:MM:SS:mmmmmm" in seconds. */
function elapsed(v: string | undefined): number {
  if (v === undefined) return NaN;
  const p = v.split(/[:.]/).map(Number);
  if (p.length < 3) return NaN;
  return p[0]! * 3600 + p[1]! * 60 + p[2]! + (p[3] ?? 0) / 1_000_000;
}
