import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Points where a test can stop a write as a crash would (never used by the server). */
export interface CrashPoints {
  /** the temp file is open (created 0600, still empty) */
  afterOpen?(tempPath: string): void;
  /** the content is written and on disk, the file not yet in place */
  beforeRename?(tempPath: string): void;
}

/**
 * Writes `content` into a new file beside `path` that is mode 0600 from its
 * creation (O_CREAT|O_EXCL with the mode, then fchmod in case the umask took
 * bits away from the owner), and fsyncs it. Returns the temp path; the caller
 * puts it in place.
 */
function writeTemp(path: string, content: string, crash: CrashPoints): string {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600);
    crash.afterOpen?.(temp);
    const bytes = Buffer.from(content, 'utf8');
    for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  return temp;
}

/** The rename (or link) is durable only once the directory entry is: fsync the directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // some platforms cannot open or fsync a directory; the rename is still atomic there
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Replaces `path` with `content`, atomically: readers (and a process started
 * after a crash at any point) see the old file whole or the new file whole,
 * never a truncated one, and the content is never readable by anyone but the
 * owner, not even for an instant. Used for every private file under KEYS_DIR.
 */
export function writePrivateFile(path: string, content: string, crash: CrashPoints = {}): void {
  const temp = writeTemp(path, content, crash);
  try {
    crash.beforeRename?.(temp);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(dirname(path));
}

/**
 * Creates `path` with `content` unless it exists; returns whether this call
 * created it. Two instances starting at once on an empty KEYS_DIR thus end up
 * with the same keys: the second one's link fails and it reads the first's.
 */
export function createPrivateFileIfAbsent(path: string, content: string): boolean {
  const temp = writeTemp(path, content, {});
  try {
    linkSync(temp, path);
    syncDirectory(dirname(path));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}
