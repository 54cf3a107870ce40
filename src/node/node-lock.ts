/**
 * The node lock: at most one running node per node folder (`<dataDir>/<node name>`),
 * through `<nodeDir>/node.lock` holding `{pid, node, proc}` of the node that holds it.
 *
 * Contract
 * - `acquireNodeLock(dir, node, log)` takes the lock before anything else of the node
 *   opens (the store's LevelDB, the admin endpoint): the file is written whole to a
 *   temporary name, then hard-linked into place, which fails if the lock exists, so a
 *   reader never sees a half-written lock.
 * - An existing lock whose process is alive fails with NodeLockedError, message
 *   `node NAME already runs in DIR as pid N`. Alive means: `kill(pid, 0)` succeeds (or is
 *   refused with EPERM) and, where Linux's /proc tells, it is the same process as the one
 *   that wrote the lock (boot id and start time), so a reused pid (a container's pid 1
 *   after a restart) does not block. A lock naming this very process is held only if this
 *   process took it (two nodes in one process on one folder are refused too).
 * - A lock of a dead process (a node killed with SIGKILL, a crash, a power cut) is taken
 *   over with a warning that names the dead pid. The take-over renames the stale lock
 *   aside and checks it is still the one judged stale; a fresh lock moved by mistake is
 *   put back.
 * - `release()` removes the lock only while it names this process; idempotent.
 * - `removeOwnFile(file)` removes a JSON file (`node.lock`, `admin.json`) only if its
 *   `pid` is this process: a node never removes another node's files. Synchronous, so the
 *   last-resort exit paths can call it.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../kernel/index.ts';

export const LOCK_FILE = 'node.lock';

export class NodeLockedError extends Error {
  constructor(
    readonly node: string,
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`node ${node} already runs in ${dir} as pid ${pid}`);
    this.name = 'NodeLockedError';
  }
}

export interface NodeLock {
  readonly file: string;
  release(): void;
}

interface Holder {
  pid: number;
  node?: string;
  proc?: string;
}

/** Lock files this process holds (a lock naming our own pid is ours only if listed). */
const held = new Set<string>();

/** Boot id and start time of a process where /proc has them: tells a reused pid apart. */
function procIdentity(pid: number): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from the field after the parenthesised command name.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start === undefined ? undefined : `${boot}:${start}`;
  } catch {
    return undefined;
  }
}

function isAlive(h: Holder, file: string): boolean {
  if (h.pid === process.pid) return held.has(file);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procIdentity(h.pid);
  return h.proc === undefined || now === undefined || now === h.proc;
}

function readHolder(file: string): { raw: string; holder: Holder | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const h = JSON.parse(raw) as Holder;
    return { raw, holder: Number.isInteger(h.pid) && h.pid > 0 ? h : undefined };
  } catch {
    return { raw, holder: undefined };
  }
}

export function acquireNodeLock(dir: string, node: string, log: Logger): NodeLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const aside = `${file}.${process.pid}.stale`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, node, proc: procIdentity(process.pid) }));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, file);
        held.add(file);
        let released = false;
        return {
          file,
          release() {
            if (released) return;
            released = true;
            held.delete(file);
            removeOwnFile(file);
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = readHolder(file);
      if (seen === undefined) continue;
      if (seen.holder !== undefined && isAlive(seen.holder, file))
        throw new NodeLockedError(seen.holder.node ?? node, dir, seen.holder.pid);
      try {
        renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (readFileSync(aside, 'utf8') !== seen.raw) {
        // Another starter replaced the stale lock between our read and our rename: put its lock back.
        try {
          linkSync(aside, file);
        } catch {
          // a third starter took the place meanwhile; the next round judges that one
        }
        unlinkSync(aside);
        continue;
      }
      unlinkSync(aside);
      log.warn(
        {
          file,
          stale_pid: seen.holder?.pid,
          stale_lock: seen.holder === undefined ? seen.raw.slice(0, 200) : undefined,
        },
        'node lock left by a process that is gone: taken over',
      );
    }
    throw new Error(`cannot take the node lock ${file}: other starters keep replacing it`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Removes `file` if it is JSON naming this process as `pid`; leaves anything else alone. */
export function removeOwnFile(file: string): boolean {
  const seen = readHolder(file);
  if (seen?.holder?.pid !== process.pid) return false;
  rmSync(file, { force: true });
  return true;
}
