/**
 * A signal during the start, on the embedded broker (signal-during-start-suite.ts), and
 * while the bus is still trying to reach a broker that does not answer.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnFife } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { signalDuringStartSuite } from './signal-during-start-suite.ts';

describe('a signal during the start (embedded broker)', () => signalDuringStartSuite('embedded'));

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('a signal while the bus cannot reach its broker', () => {
  it(
    'aborts the wait for the broker at once: exit 0, the store closed, no lock left',
    { timeout: 120_000 },
    async () => {
      const dataDir = tmpDir('fife-sigbus-');
      // Port 1 on loopback: nothing listens, every connect is refused and retried with backoff.
      const p = spawnFife({
        ...process.env,
        FIFE_DATA_DIR: dataDir,
        FIFE_NODE: 'nobroker@localhost',
        FIFE_APPS: '',
        FIFE_BUS_URL: 'amqp://guest:guest@127.0.0.1:1',
        FIFE_STORE_URL: '',
        FIFE_LOG_LEVEL: 'info',
      });
      started.push(p.child);
      await p.waitFor((l) => l.msg === 'bus: cannot connect to any broker; will retry');
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      const msgs = p.lines.map((l) => l.msg);
      expect(p.lines.find((l) => l.msg === 'start aborted: stopping what had started')).toMatchObject({
        step: 'bus',
      });
      expect(msgs.at(-1)).toBe('start aborted: stopped');
      expect(msgs.indexOf('bus: transport closed')).toBeGreaterThan(
        msgs.indexOf('signal received: stopping'),
      );
      expect(msgs.indexOf('embedded store closed')).toBeGreaterThan(msgs.indexOf('bus: transport closed'));
      expect(msgs).not.toContain('admin endpoint listening');
      expect(existsSync(join(dataDir, 'nobroker@localhost', 'node.lock'))).toBe(false);
    },
  );
});
