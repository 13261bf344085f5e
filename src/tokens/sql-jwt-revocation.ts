import type { Knex } from 'knex';
import { batchedLookup } from '../db/index.ts';
import { coalesceByKey } from './coalesce.ts';
import { msUntil } from './time.ts';
import type { JwtRevocation } from './types.ts';

/*
 * JWT access tokens in SQL (migrations/0001_initial.ts): they are never
 * stored, only indexed per grant (issued_jwts: (grant_id, jti) → expires_at),
 * so that revoking the grant puts them on the denylist (jti_denylist: jti →
 * expires_at, until their exp). Expired rows are invisible to every read and
 * removed by the token state's purgeExpired().
 */

type JtiRow = { jti: string; expires_at: Date | string };

const expiresAtMs = (value: Date | string) => new Date(value).getTime();

/**
 * `mirrored` (embedded PGlite only, where one process owns the database and
 * makes every write) also keeps the denylist's live entries in memory, loaded
 * once, so that checking a JWT reads no SQL: a PGlite statement costs CPU time
 * on the event loop, a map lookup next to none. With Postgres other instances
 * write too, so every check reads the table.
 */
export function createSqlJwtRevocation(knex: Knex, options: { mirrored: boolean }): JwtRevocation & {
  /** Drops expired denylist entries from memory (the rows go with purgeExpired). */
  forgetExpired(): void;
} {
  const isDenied = batchedLookup({
    idOf: (jti: string) => jti,
    loadMany: async (jtis: string[]) => {
      const { rows } = await knex.raw(
        `select jti from jti_denylist where jti in (${jtis.map(() => '?').join(', ')}) and expires_at > ?`,
        [...jtis, new Date()],
      ) as { rows: Array<{ jti: string }> };
      return new Map(rows.map(({ jti }) => [jti, true]));
    },
  });

  const mirror = new Map<string, number>(); // jti → expiry (ms)
  let loaded: Promise<void> | undefined;
  const load = () => {
    loaded ??= knex.raw('select jti, expires_at from jti_denylist where expires_at > ?', [new Date()]).then(
      ({ rows }: { rows: JtiRow[] }) => { remember(rows); },
      (error: unknown) => { loaded = undefined; throw error; }, // a store error: try again next time
    );
    return loaded;
  };
  function remember(rows: JtiRow[]): void {
    if (!options.mirrored) return;
    for (const { jti, expires_at: expiresAt } of rows) {
      mirror.set(jti, Math.max(mirror.get(jti) ?? 0, expiresAtMs(expiresAt)));
    }
  }

  return {
    denylist: {
      async add(jti, expiresAt) {
        if (msUntil(expiresAt) <= 0) return;
        const [row] = await knex('jti_denylist').insert({ jti, expires_at: new Date(expiresAt * 1000) })
          .onConflict('jti').merge().returning(['jti', 'expires_at']) as JtiRow[];
        remember([row ?? { jti, expires_at: new Date(expiresAt * 1000) }]);
      },
      async has(jti) {
        if (!options.mirrored) return (await isDenied(jti)) === true;
        await load();
        const expiry = mirror.get(jti);
        if (expiry === undefined) return false;
        if (expiry > Date.now()) return true;
        mirror.delete(jti);
        return false;
      },
    },

    issuedJwts: {
      async record(grantId, jti, expiresAt) {
        if (msUntil(expiresAt) <= 0) return;
        await knex('issued_jwts').insert({ grant_id: grantId, jti, expires_at: new Date(expiresAt * 1000) })
          .onConflict(['grant_id', 'jti']).ignore();
      },
      async list(grantId) {
        const rows = await knex('issued_jwts').where({ grant_id: grantId }).andWhere('expires_at', '>', new Date());
        return rows.map((r: JtiRow) => ({ jti: r.jti, expiresAt: Math.floor(expiresAtMs(r.expires_at) / 1000) }));
      },
    },

    // One statement copies the grant's live JWT ids onto the denylist. The
    // index is left to expire: a later revocation of the same grant is then a
    // no-op, and a JWT recorded meanwhile is never dropped without being
    // denylisted.
    revokeJwtsOfGrant: coalesceByKey(async (grantId) => {
      const { rows } = await knex.raw(`
        insert into jti_denylist (jti, expires_at)
        select jti, max(expires_at) from issued_jwts
         where grant_id = ? and expires_at > ?
         group by jti order by jti
        on conflict (jti) do update set expires_at = greatest(jti_denylist.expires_at, excluded.expires_at)
        returning jti, expires_at`,
      [grantId, new Date()]) as { rows: JtiRow[] };
      remember(rows);
    }),

    forgetExpired() {
      const at = Date.now();
      for (const [jti, expiry] of mirror) if (expiry <= at) mirror.delete(jti);
    },
  };
}
