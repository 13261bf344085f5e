import type { AuditLog } from './audit-log.ts';

/** What the audit log needs of a signing key: never more than its public description. */
export interface KeyInSet { kid: string; alg: string; status: string }

/*
 * `tessera keys rotate|retire` works on the KEYS_DIR files, often with no
 * database at hand (and the CLI's admin commands never open it). So the change
 * is recorded by the server that loads the changed set: at start, each server
 * compares the keys it loaded (kid, alg, status) with the set the last
 * `keys.rotated` event names and records the difference once (under a lock, so
 * instances that restart together record it once). The first start of a
 * database records the initial set. The event's time is when a server first
 * used the new set, not when the files changed.
 */
export async function recordKeySetChange(deps: { audit: Pick<AuditLog, 'recordChange' | 'page'>; keys: readonly KeyInSet[] }): Promise<boolean> {
  const describe = (k: KeyInSet) => `${k.kid} ${k.alg} ${k.status}`;
  const keys = deps.keys.map(describe).sort();
  const [latest] = (await deps.audit.page({ types: ['keys.rotated'], limit: 1 })).events;
  const previous = Array.isArray(latest?.details.keys) ? (latest.details.keys as string[]) : [];
  const kidsBefore = new Set(previous.map((entry) => entry.split(' ')[0]));
  const kidsNow = new Set(deps.keys.map((k) => k.kid));
  return deps.audit.recordChange({
    type: 'keys.rotated',
    actor: 'configuration',
    context: null,
    details: {
      keys,
      initial: latest === undefined,
      added: [...kidsNow].filter((kid) => !kidsBefore.has(kid)),
      removed: [...kidsBefore].filter((kid) => !kidsNow.has(kid)),
    },
  }, 'keys');
}
