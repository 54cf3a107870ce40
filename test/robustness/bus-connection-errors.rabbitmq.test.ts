/**
 * Issue 9, item 8 ("bus connection errors"), against the real RabbitMQ:
 *
 * - a wrong password and an unknown vhost are permanent: `fife start` fails at once (no
 *   retry, long before the 30 s start timeout) with one stderr line naming the user and
 *   vhost and pointing at FIFE_BUS_URL, and the password appears nowhere;
 * - a refused port (nothing listening) is transient: one warn line per attempt, counting
 *   up, and no stack trace at info level.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTransport, BusClosedError } from '../../src/bus/index.ts';
import { memoryLogger } from '../../src/kernel/log.ts';
import { rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { FIFE_BIN } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { until } from '../apps/registrar/support.ts';

const gate = await rabbitmqGate();
const START_TIMEOUT_MS = 30_000; // the transport's default, which `fife start` uses

interface Run {
  code: number | null;
  stderr: string;
  lines: Array<Record<string, unknown>>;
  stdout: string;
  elapsedMs: number;
}

function fifeStart(busUrl: string): Promise<Run> {
  const env = {
    ...process.env,
    FIFE_BUS_URL: busUrl,
    FIFE_DATA_DIR: tmpDir('fife-busfail-'),
    FIFE_NODE: 'busfail@localhost',
    FIFE_APPS: '',
    FIFE_LOG_LEVEL: 'info',
  };
  const t0 = Date.now();
  const child = spawn(process.execPath, [FIFE_BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, stderr, stdout, lines, elapsedMs: Date.now() - t0 });
    });
  });
}

describe.skipIf(!gate.available)('bus connection errors on RabbitMQ', () => {
  it('a wrong password fails the start at once with one line naming user and vhost, and no password anywhere', async () => {
    const password = `not-the-password-${randomBytes(3).toString('hex')}`;
    const r = await fifeStart(`amqp://guest:${password}@127.0.0.1:5672`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^fife: bus AMQP failed to start: the broker refused user guest on vhost \/ — check FIFE_BUS_URL \(amqp:\/\/127\.0\.0\.1:5672: login refused: wrong user name or password/,
    );
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(r.lines.filter((l) => l.msg === 'bus: cannot connect to any broker; will retry')).toEqual([]);
    expect(
      r.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('the broker refused')),
    ).toHaveLength(1);
    expect(r.elapsedMs).toBeLessThan(START_TIMEOUT_MS / 2);
  });

  it('an unknown vhost fails the start at once with one line naming it', async () => {
    const vhost = `fife-no-such-vhost-${randomBytes(3).toString('hex')}`;
    const r = await fifeStart(`amqp://guest:guest@127.0.0.1:5672/${vhost}`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(
      `fife: bus AMQP failed to start: the broker refused user guest on vhost ${vhost} — check FIFE_BUS_URL (amqp://127.0.0.1:5672/${vhost}: the vhost does not exist or the user has no access to it)`,
    );
    expect(r.lines.filter((l) => l.msg === 'bus: cannot connect to any broker; will retry')).toEqual([]);
    expect(r.elapsedMs).toBeLessThan(START_TIMEOUT_MS / 2);
  });
});

describe('bus connection errors: nothing listening', () => {
  it('a refused port is retried with one warn line per attempt, no stack at info level, no password', async () => {
    const password = `pw-${randomBytes(3).toString('hex')}`;
    const { logger, lines } = memoryLogger('busfail@localhost', 'info');
    const t = createTransport({
      url: `amqp://guest:${password}@127.0.0.1:1`,
      logger,
      backoff: { initialMs: 20, maxMs: 100, factor: 2, jitter: 0 },
    });
    const started = t.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    const retries = () => lines.filter((l) => l.msg === 'bus: cannot connect to any broker; will retry');
    await until(() => retries().length >= 3, 'three connect attempts');
    await t.close();
    expect(await started).toBeInstanceOf(BusClosedError);
    const seen = retries().slice(0, 3);
    expect(seen.map((l) => l.attempt)).toEqual([1, 2, 3]);
    for (const l of seen) {
      expect(l).toMatchObject({ level: 40, broker: 'amqp://127.0.0.1:1' });
      expect(String(l.reason)).toContain('ECONNREFUSED');
    }
    const all = JSON.stringify(lines);
    expect(all).not.toMatch(/"stack"|\n\s+at /);
    expect(all).not.toContain(password);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
