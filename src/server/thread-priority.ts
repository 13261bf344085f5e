import { pbkdf2 } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** Linux nice value of libuv's pool threads: the event loop stays at 0. */
export const THREAD_POOL_NICE = 10;

/**
 * Password hashing (argon2) runs on libuv's thread pool and keeps a CPU busy
 * for tens of milliseconds per login. On a core shared with the event loop, a
 * login flood would then take half the CPU from every token request. Giving
 * the pool's threads a lower priority (nice 10: about a tenth of the event
 * loop's share when both want the CPU) lets logins use the CPU the event loop
 * leaves idle, and only that. Linux only (threads are found in /proc and
 * reniced one by one, as setpriority allows for a thread id); elsewhere
 * nothing changes. Returns the number of threads reniced.
 */
export async function lowerThreadPoolPriority(nice = THREAD_POOL_NICE): Promise<number> {
  // the pool's threads are started on its first job: make sure they exist
  await new Promise((resolve) => { pbkdf2('', '', 1, 1, 'sha256', resolve); });
  let tasks: string[];
  try {
    tasks = await readdir('/proc/self/task');
  } catch {
    return 0;
  }
  let reniced = 0;
  for (const tid of tasks) {
    try {
      const name = (await readFile(`/proc/self/task/${tid}/comm`, 'utf8')).trim();
      if (name !== 'libuv-worker') continue;
      setPriority(Number(tid), nice);
      reniced++;
    } catch {
      // the thread ended, or the system refuses: priorities are an optimisation
    }
  }
  return reniced;
}
