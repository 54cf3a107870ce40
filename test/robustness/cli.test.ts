/**
 * The `fife` command as an operator meets it: every command answers --help (and does
 * nothing else), unknown flags and commands are usage errors (exit 2, one line naming
 * the flag), and requests to a node that does not answer give up after --timeout with a
 * clear message (exit 1).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpDir } from '../support/tmp-dirs.ts';
import { FIFE_BIN } from '../support/fife-process.ts';

const exec = promisify(execFile);

interface Result {
  code: number | string;
  stdout: string;
  stderr: string;
}

const dataDir = tmpDir('fife-cli-');
const env = { ...process.env, FIFE_DATA_DIR: dataDir, FIFE_NODE: 'cli@localhost', FIFE_LOG_PRETTY: '0' };

async function fife(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [FIFE_BIN, ...args], { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; signal?: string; stdout: string; stderr: string };
    return { code: x.code ?? x.signal, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('fife --help', () => {
  it.each([
    [['--help'], /^Usage: fife \[options\] \[command\]/],
    [['start', '--help'], /^Usage: fife start \[options\]/],
    [['tree', '--help'], /^Usage: fife tree \[options\]/],
    [['apps', '--help'], /^Usage: fife apps \[options\] \[command\]/],
    [['apps', 'restart', '--help'], /^Usage: fife apps restart \[options\] <name>/],
    [['nodes', '--help'], /^Usage: fife nodes \[options\]/],
    [['kill', '--help'], /^Usage: fife kill \[options\] <target>/],
    [['switch-sim', '--help'], /^Usage: fife switch-sim \[options\]/],
    [['account', 'add', '--help'], /^Usage: fife account add \[options\]/],
    [['device', 'add', '--help'], /^Usage: fife device add \[options\]/],
  ])('fife %j prints its usage and exits 0', async (args, usage) => {
    const r = await fife(...args);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(usage);
  });

  it('fife start --help starts no node', () => {
    // (the it.each above ran it)
    expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
  });

  it('the help of commands that talk to a node shows --timeout (default 10 s) and --admin', async () => {
    const r = await fife('tree', '--help');
    expect(r.stdout).toMatch(/--timeout <seconds>\s+give up on the node after this long \(default: 10\)/);
    expect(r.stdout).toContain('--admin <url>');
  });
});

describe('usage errors exit 2 with one line naming what is wrong', () => {
  it.each([
    [['tree', '--jsno'], "unknown option '--jsno' (Did you mean --json?); see 'fife tree --help'"],
    [['start', '--confg', 'x.json'], "unknown option '--confg' (Did you mean --config?)"],
    [['kill', 'greeter', '--resaon', 'x'], "unknown option '--resaon' (Did you mean --reason?)"],
    [['switch-sim', '--bogus'], "Unknown option '--bogus'; see 'fife switch-sim --help'"],
    [['switch-sim', '--port', 'eighty'], '--port must be a non-negative integer, got "eighty"'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['apps', 'frob'], "unknown command 'frob'; see 'fife apps --help'"],
    [['apps', 'stop'], "missing required argument 'name'; see 'fife apps stop --help'"],
    [['tree', 'extra'], "too many arguments for 'tree'"],
    [['account', 'add', '--name', 'Acme'], "required option '--realm <realm>' not specified"],
    [['tree', '--timeout', 'soon'], "--timeout must be a number of seconds > 0, got 'soon'"],
  ])('fife %j', async (args, msg) => {
    const r = await fife(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(msg);
  });
});

describe('requests to a node time out', () => {
  const sockets: Socket[] = [];
  // A node that accepts the connection and never answers.
  const silent = createServer((s) => void sockets.push(s));
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('--timeout bounds the wait; the message says who did not answer and how to wait longer', async () => {
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const r = await fife('tree', '--admin', url, '--timeout', '0.5');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `fife: the node at ${url} did not answer within 0.5 s (--timeout SECONDS to wait longer)`,
    );
    expect(sockets.length).toBeGreaterThan(0);
  });
});
