import type { Knex } from 'knex';
import { canonicalUsername, usernameSkeleton } from '../src/accounts/username.ts';

/*
 * Usernames were unique by Postgres lower(username), while the lockout keys used
 * JavaScript NFKC + toLowerCase: spellings of one username that lower() merged
 * and JavaScript did not (such as a dotted capital İ) found the same account
 * but counted failures apart. From here on both use canonicalUsername, stored
 * in username_canonical (unique) and computed here in JavaScript: Postgres has
 * no function that gives the same result (lower() follows the locale).
 * username_skeleton keys the look-alike check of new usernames.
 *
 * Runs in the migration's transaction: when two existing accounts have the
 * same canonical form, it fails naming their ids and changes nothing.
 */

const PAGE = 1000;

async function backfill(knex: Knex): Promise<void> {
  let after = '';
  for (;;) {
    const rows: Array<{ id: string; username: string }> = await knex('accounts')
      .select('id', 'username').where('id', '>', after).orderBy('id').limit(PAGE);
    if (!rows.length) return;
    const values = rows.flatMap((row) => [row.id, canonicalUsername(row.username), usernameSkeleton(row.username)]);
    await knex.raw(
      `update accounts set username_canonical = v.canonical, username_skeleton = v.skeleton
       from (values ${rows.map(() => '(?, ?, ?)').join(', ')}) as v(id, canonical, skeleton)
       where accounts.id = v.id`,
      values,
    );
    after = rows[rows.length - 1].id;
  }
}

async function refuseCollisions(knex: Knex): Promise<void> {
  const { rows } = await knex.raw(
    `select string_agg(id, ', ' order by id) as ids from accounts
     group by username_canonical having count(*) > 1 order by 1 limit 20`,
  ) as { rows: Array<{ ids: string }> };
  if (!rows.length) return;
  throw new Error(
    'migration 0003_canonical_usernames: these accounts have usernames that differ only in case or Unicode form, '
    + `and could not be told apart at sign-in: ${rows.map((r) => `[${r.ids}]`).join(' ')}. `
    + 'Give all but one account of each group another username (UPDATE accounts SET username = ... WHERE id = ...), '
    + 'then run the migration again; nothing was changed.',
  );
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('username_canonical');
    t.text('username_skeleton');
  });
  await backfill(knex);
  await refuseCollisions(knex);
  await knex.schema.alterTable('accounts', (t) => {
    t.dropNullable('username_canonical');
    t.dropNullable('username_skeleton');
  });
  await knex.raw('create unique index accounts_username_canonical on accounts (username_canonical)');
  await knex.raw('create index accounts_username_skeleton on accounts (username_skeleton)');
  await knex.raw('drop index accounts_username_lower');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('create unique index accounts_username_lower on accounts (lower(username))');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('username_skeleton');
    t.dropColumn('username_canonical');
  });
}
