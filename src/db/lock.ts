import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, fsyncSync, futimesSync, linkSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';

/*
 * PGlite is one process's database: a second process opening the same files
 * would corrupt them. DATA_DIR/tessera.lock turns that into a clear error.
 *
 * Node has no flock/fcntl lock (which the kernel would drop with the process),
 * and a plain pid file goes wrong both ways: after a container restart the
 * stale file names pid 1, which is the new process itself and looks alive
 * (refused forever); and a pid may since belong to an unrelated process. An
 * mtime-only lock (proper-lockfile) has neither problem but makes every
 * restart after a crash wait out the staleness period, and takes the lock
 * from a live server whose event loop stalled past it. So the lock file
 * records who holds it, precisely enough to judge it:
 *
 *   pid, and the process's start time (/proc/<pid>/stat, field 22): a pid now
 *     used by another process has another start time;
 *   the boot id: a lock from before a reboot is stale;
 *   the pid namespace: a pid means something only inside its namespace. A
 *     holder in another namespace (another container on the same volume, or
 *     this container before its restart) cannot be looked up, so the holder
 *     also touches the file every HEARTBEAT_MS: such a lock is taken over once
 *     it has not been touched for STALE_AFTER_MS, and refused as soon as it is
 *     seen being touched.
 *
 * Without /proc (macOS), the pid alone is judged, as before, except that our
 * own pid is never taken for a live holder: this process has not locked the
 * directory (a second lock in one process is refused by LOCKED_HERE).
 */

const HEARTBEAT_MS = 2_000;
const STALE_AFTER_MS = 10_000;

export interface LockOptions {
  heartbeatMs?: number;
  staleAfterMs?: number;
  /** how often a lock of another pid namespace is looked at while its staleness is judged */
  pollMs?: number;
}

interface Holder {
  pid: number;
  startTime?: string;
  bootId?: string;
  pidNamespace?: string;
  /** unique to one taking of the lock: release and takeover compare it */
  nonce?: string;
}

/** Lock files this process holds (a second PGlite on the same files in one process would corrupt them too). */
const LOCKED_HERE = new Set<string>();

function readOrUndefined(read: () => string): string | undefined {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * From /proc/<pid>/stat (fields after the ")" that ends the command name):
 * field 3, the state (Z: exited, not yet reaped), and field 22, the start
 * time in clock ticks after boot.
 */
function processStat(pid: number): { state: string; startTime: string } | undefined {
  const stat = readOrUndefined(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], startTime: fields[19] };
}

export const processStartTime = (pid: number) => processStat(pid)?.startTime;

const bootId = () => readOrUndefined(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
const pidNamespace = () => readOrUndefined(() => readlinkSync('/proc/self/ns/pid'));

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): Holder | undefined {
  if (/^\d+$/.test(text.trim())) return { pid: Number(text) }; // written by an earlier Tessera: the pid alone
  try {
    const holder = JSON.parse(text) as Holder;
    return Number.isSafeInteger(holder?.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    return undefined;
  }
}

type Verdict = 'held' | 'stale' | 'heartbeat';

/** Whether `holder` still runs, when this process can tell; 'heartbeat' when only the file's mtime can. */
function judge(holder: Holder | undefined): Verdict {
  if (!holder) return 'stale'; // empty or unreadable: nobody can be holding it
  const ourBoot = bootId();
  if (holder.bootId && ourBoot && holder.bootId !== ourBoot) return 'stale';
  const ourNamespace = pidNamespace();
  if (holder.pidNamespace && ourNamespace && holder.pidNamespace !== ourNamespace) return 'heartbeat';
  // the same pid namespace (or no way to tell): the pid is meaningful here
  if (holder.pid === process.pid) return 'stale'; // not us (LOCKED_HERE says so): an earlier process that had our pid
  if (!processIsAlive(holder.pid)) return 'stale';
  const stat = processStat(holder.pid);
  if (stat?.state === 'Z' || stat?.state === 'X') return 'stale'; // killed, only its exit status is left
  if (holder.startTime && stat && holder.startTime !== stat.startTime) return 'stale'; // the pid was reused
  return 'held';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * For a holder in another pid namespace: resolves 'stale' once the lock has
 * not been touched for staleAfterMs, 'held' as soon as it is touched (or
 * replaced) while we watch.
 */
async function watchHeartbeat(lockPath: string, text: string, options: Required<LockOptions>): Promise<'held' | 'stale'> {
  let first: number;
  try {
    first = statSync(lockPath).mtimeMs;
  } catch {
    return 'stale'; // gone meanwhile: try again
  }
  for (;;) {
    if (Date.now() - first > options.staleAfterMs) return 'stale';
    await sleep(options.pollMs);
    try {
      if (statSync(lockPath).mtimeMs !== first || readFileSync(lockPath, 'utf8') !== text) return 'held';
    } catch {
      return 'stale';
    }
  }
}

/**
 * Removes the stale lock whose content was `text`. Two processes starting at
 * once may both judge it stale: each moves it aside first and checks that
 * what it moved is the stale lock; one that moved the other's fresh lock
 * instead puts it back (and then finds it held).
 */
function removeStaleLock(lockPath: string, text: string): void {
  const aside = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== text) linkSync(aside, lockPath);
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Creates the lock file with its whole content at once (link of a written temp file); undefined when it exists. */
function tryCreate(lockPath: string, text: string): number | undefined {
  const temp = `${lockPath}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    linkSync(temp, lockPath);
    return fd; // kept open: the heartbeat touches the inode through it
  } catch (error) {
    closeSync(fd);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function inUse(dataDir: string, lockPath: string, holder: Holder, elsewhere: boolean): Error {
  return new Error(
    `the embedded database in ${dataDir} is in use by process ${holder.pid}`
    + `${elsewhere ? ' of another PID namespace (another container), which keeps its lock fresh' : ''}; `
    + 'stop that server, or use another DATA_DIR, or set DATABASE_URL '
    + `(if no Tessera uses this directory, remove ${lockPath})`,
  );
}

/** Locks dataDir for this process; returns the release function. */
export async function lockDataDir(dataDir: string, lockOptions: LockOptions = {}): Promise<() => void> {
  const options = { heartbeatMs: HEARTBEAT_MS, staleAfterMs: STALE_AFTER_MS, pollMs: 250, ...lockOptions };
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'tessera.lock');
  if (LOCKED_HERE.has(lockPath)) {
    throw new Error(`the embedded database in ${dataDir} is already open in this process; use another DATA_DIR`);
  }
  const record: Holder = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: bootId(),
    pidNamespace: pidNamespace(),
    nonce: randomBytes(12).toString('base64url'),
  };
  const text = JSON.stringify(record);

  for (let attempt = 0; attempt < 5; attempt++) {
    const fd = tryCreate(lockPath, text);
    if (fd !== undefined) return held(lockPath, text, fd, options.heartbeatMs);
    let current: string;
    try {
      current = readFileSync(lockPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw error;
    }
    const holder = parseHolder(current);
    const verdict = judge(holder);
    const elsewhere = verdict === 'heartbeat';
    if ((elsewhere ? await watchHeartbeat(lockPath, current, options) : verdict) === 'held') {
      throw inUse(dataDir, lockPath, holder!, elsewhere);
    }
    removeStaleLock(lockPath, current);
  }
  throw new Error(`could not lock ${lockPath}: other processes keep taking it`);
}

function held(lockPath: string, text: string, fd: number, heartbeatMs: number): () => void {
  LOCKED_HERE.add(lockPath);
  const touch = () => {
    const now = new Date();
    try { futimesSync(fd, now, now); } catch { /* closed at release */ }
  };
  const heartbeat = setInterval(touch, heartbeatMs);
  heartbeat.unref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    closeSync(fd);
    LOCKED_HERE.delete(lockPath);
    // only our own lock: one taken over from us (judged stale) is not ours to remove
    if (readOrUndefined(() => readFileSync(lockPath, 'utf8')) === text) rmSync(lockPath, { force: true });
  };
}
