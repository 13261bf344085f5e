// Keys under a prefix on one Redis node: listed, dumped, deleted. Always SCAN
// (a shared server is never blocked) and never FLUSH*: tests and the bench
// share the machine's Redis, each under a prefix of its own. No jest here:
// bench/ imports this module too.
import type { Redis } from 'ioredis';

/** The part of a Redis client these helpers use (a node of a cluster is one too). */
type Node = Pick<Redis, 'scan' | 'unlink'>;

/** A key prefix as a SCAN pattern's literal part: *, ?, [, ] and \ match only themselves. */
const escapeGlob = (prefix: string) => prefix.replace(/[*?[\]\\]/g, '\\$&');

/** The keys under prefix (taken literally) whose rest matches `pattern` (a SCAN glob), batch by batch. */
export async function* scanUnder(node: Pick<Redis, 'scan'>, prefix: string, pattern = '*'): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}${pattern}`, 'COUNT', 1000);
    cursor = next;
    yield batch;
  } while (cursor !== '0');
}

/** Keys matching prefix* on one node. */
export async function keysUnder(node: Pick<Redis, 'scan'>, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of scanUnder(node, prefix)) found.push(...batch);
  return found;
}

/** Every key under prefix on the given nodes and its value, as one string. */
export async function dumpUnder(nodes: Redis[], prefix: string): Promise<string> {
  const parts: string[] = [];
  for (const node of nodes) {
    for (const key of await keysUnder(node, prefix)) {
      const type = await node.type(key);
      const value
        = type === 'string' ? await node.get(key)
        : type === 'hash' ? await node.hgetall(key)
        : type === 'zset' ? await node.zrange(key, '0', '-1', 'WITHSCORES')
        : type === 'set' ? await node.smembers(key)
        : type === 'list' ? await node.lrange(key, 0, -1)
        : `(${type})`;
      parts.push(key, JSON.stringify(value));
    }
  }
  return parts.join('\n');
}

/** Deletes every key under prefix on one node (UNLINK); resolves to how many. An empty prefix is refused. */
export async function deleteUnder(node: Node, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete Redis keys without a prefix');
  let deleted = 0;
  for await (const batch of scanUnder(node, prefix)) {
    if (batch.length) deleted += await node.unlink(...batch);
  }
  return deleted;
}
