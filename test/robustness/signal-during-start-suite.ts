/**
 * SIGTERM or SIGINT at any moment of the start of a node with the registrar: the process
 * stops what had started in reverse and exits 0, leaving no admin.json and no lock, and
 * the next start on the same folder finds nothing in its way (LevelDB's lock, the node
 * lock, the admin file). Run on each broker: `signalDuringStartSuite(busUrl)`.
 */
import { it, expect, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import { spawnFife, startFife, FIFE_BIN, type LogLine } from '../support/fife-process.ts';
import { tmpDir } from '../support/tmp-dirs.ts';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const NODE = 'sig@localhost';
function envFor(dataDir: string, busUrl: string): NodeJS.ProcessEnv {
  // The registrar's shared queue is named per folder, so runs on one broker never share it.
  const config = join(dataDir, 'fife.json');
  writeFileSync(
    config,
    JSON.stringify({
      settings: { registrar: { queue: `registrar_sig_${dataDir.slice(-6).replace(/\W/g, '_')}` } },
    }),
  );
  return {
    ...process.env,
    FIFE_CONFIG: config,
    FIFE_DATA_DIR: dataDir,
    FIFE_NODE: NODE,
    FIFE_APPS: 'registrar',
    FIFE_BUS_URL: busUrl,
    FIFE_STORE_URL: '',
    FIFE_LOG_LEVEL: 'info',
  };
}

// Points of the start, in order, each named by the log line after which the signal is sent.
const POINTS: Array<{ after: (l: LogLine) => boolean; what: string; signal: NodeJS.Signals }> = [
  { what: 'store opened', after: (l) => l.msg === 'document store opened', signal: 'SIGTERM' },
  { what: 'bus connected', after: (l) => l.msg === 'bus: connected', signal: 'SIGINT' },
  { what: 'admin listening', after: (l) => l.msg === 'admin endpoint listening', signal: 'SIGTERM' },
  {
    what: 'nodes listener consuming',
    after: (l) => l.msg === 'listener: consuming' && l.proc === 'nodes',
    signal: 'SIGTERM',
  },
  {
    what: 'registrar databases',
    after: (l) =>
      l.msg === 'database created' || l.msg === 'registrar: registrations primed from the database',
    signal: 'SIGTERM',
  },
  {
    what: 'registrar credentials primed',
    after: (l) => l.msg === 'registrar: credentials primed from the database',
    signal: 'SIGTERM',
  },
];

export function signalDuringStartSuite(busUrl: string): void {
  it(
    'stops what had started in reverse and exits 0, leaving no admin.json, lock or store lock behind',
    { timeout: 300_000 },
    async () => {
      const dataDir = tmpDir('fife-sigstart-');
      const env = envFor(dataDir, busUrl);
      const nodeDir = join(dataDir, NODE);
      let abortedMidStart = 0;
      for (const point of POINTS) {
        const p = spawnFife(env);
        started.push(p.child);
        await p.waitFor(point.after);
        p.child.kill(point.signal);
        expect(await p.exited, `exit code after ${point.signal} at ${point.what}`).toBe(0);
        const msgs = p.lines.map((l) => l.msg);
        expect(msgs).toContain('signal received: stopping');
        if (!msgs.includes('node started')) {
          abortedMidStart++;
          expect(
            msgs.at(-1),
            `last line after a signal at ${point.what}: ${msgs.slice(-12).join(' | ')}`,
          ).toBe('start aborted: stopped');
        } else
          expect(
            msgs.at(-1),
            `last line after a signal at ${point.what}: ${msgs.slice(-12).join(' | ')}`,
          ).toBe('node stopped');
        // In reverse: the store closes after the bus, and an app that started stops before them.
        expect(msgs.indexOf('embedded store closed')).toBeGreaterThan(msgs.indexOf('bus: transport closed'));
        if (msgs.includes('app started'))
          expect(msgs.indexOf('app stopped')).toBeGreaterThan(msgs.indexOf('signal received: stopping'));
        if (msgs.includes('app stopped'))
          expect(msgs.indexOf('app stopped')).toBeLessThan(msgs.indexOf('bus: transport closed'));
        expect(
          p.lines.filter((l) => (l.level as number) >= 50),
          `errors after a signal at ${point.what}`,
        ).toEqual([]);
        expect(existsSync(join(nodeDir, 'admin.json'))).toBe(false);
        expect(existsSync(join(nodeDir, 'node.lock'))).toBe(false);
      }
      expect(abortedMidStart).toBeGreaterThan(0);

      // Nothing left in the way: a full start on the same folder runs the registrar.
      const last = await startFife(env);
      started.push(last.child);
      expect(last.lines.some((l) => l.msg === 'node lock left by a process that is gone: taken over')).toBe(
        false,
      );
      expect((await run(process.execPath, [FIFE_BIN, 'apps'], { env })).stdout).toMatch(/registrar\trunning/);
      last.child.kill('SIGTERM');
      expect(await last.exited).toBe(0);
    },
  );
}
