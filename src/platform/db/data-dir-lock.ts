import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// One process per embedded data directory: two PGlite instances on one directory both start and
// both acknowledge writes, and one's writes are lost. Hand-written because the maintained lock
// libraries (proper-lockfile) judge staleness by mtime and do not record the holder's pid.

/** Another live process holds the directory; main.ts prints the message as one line. */
export class DataDirLocked extends Error {
  override readonly name = 'DataDirLocked';
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** Locks held by this process, so a restarted container that got the dead holder's pid still starts. */
const heldHere = new Set<string>();
let exitHook = false;

/**
 * Takes `dir`'s lock file, created whole and exclusively (written aside, then hard-linked in). A
 * lock whose pid no longer runs (kill -9, a crash) is removed and taken. Released on close, and
 * at exit if the process ends without closing.
 */
export function lockDataDir(dir: string): DataDirLock {
  const path = join(dir, 'banyan.lock');
  const aside = `${path}.${process.pid}`;
  writeFileSync(aside, `${process.pid}\n`);
  try {
    take(dir, path, aside);
  } finally {
    unlinkSync(aside);
  }
  heldHere.add(path);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const held of heldHere) removeLock(held);
    });
  }
  return {
    path,
    release() {
      if (heldHere.delete(path)) removeLock(path);
    },
  };
}

function take(dir: string, path: string, aside: string): void {
  let holder = Number.NaN;
  // Two tries: a stale lock is removed once; a lock that comes back is another starter's.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      linkSync(aside, path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    holder = readHolder(path);
    const ours = holder === process.pid && heldHere.has(path);
    if (ours || (holder !== process.pid && isRunning(holder))) break;
    removeLock(path);
  }
  throw new DataDirLocked(`DATA_DIR ${dir} is in use by process ${holder} (lock file ${path}): one server per data directory`);
}

function readHolder(path: string): number {
  try {
    return Number.parseInt(readFileSync(path, 'utf8'), 10);
  } catch {
    return Number.NaN;
  }
}

function removeLock(path: string): void {
  rmSync(path, { force: true });
}

/** Whether `pid` names a live process; EPERM means it runs under another user. */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
