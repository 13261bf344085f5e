import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.ts';

const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  getMigrations: async () => migrations,
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration.module,
};

/** Applies pending migrations; returns the names applied. */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = await knex.migrate.latest({ migrationSource });
  return applied as string[];
}

/**
 * Applies the migrations listed before `name`, and not `name` itself: a test of
 * a migration starts from the schema it was written against.
 */
export async function migrateUpTo(knex: Knex, name: string): Promise<void> {
  for (const migration of migrations) {
    if (migration.name === name) return;
    await knex.migrate.up({ migrationSource, name: migration.name });
  }
  throw new Error(`no migration named ${name}`);
}

/** Applies one pending migration, in its own transaction. */
export async function applyMigration(knex: Knex, name: string): Promise<void> {
  await knex.migrate.up({ migrationSource, name });
}
