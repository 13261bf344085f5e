import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { lowerThreadPoolPriority, THREAD_POOL_NICE } from '../../src/server/thread-priority.ts';

/** Linux: name and nice value of each thread of this process. */
function threads(): Array<{ name: string; nice: number }> {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) };
  });
}

const onLinux = existsSync('/proc/self/task');
if (!onLinux) console.warn('thread-priority tests skipped: no /proc/self/task on this system');

describe('password hashing yields the CPU to the event loop', () => {
  (onLinux ? test : test.skip)('libuv pool threads (where argon2 runs) get a lower priority, the main thread keeps its own', async () => {
    const mainNiceBefore = threads()[0].nice;
    const reniced = await lowerThreadPoolPriority();
    const all = threads();
    const pool = all.filter((t) => t.name === 'libuv-worker');
    expect(pool.length).toBeGreaterThan(0);
    expect(reniced).toBe(pool.length);
    expect(pool.every((t) => t.nice === THREAD_POOL_NICE)).toBe(true);
    expect(all[0].nice).toBe(mainNiceBefore); // the first task is the main thread
  });
});
