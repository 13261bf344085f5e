import type { Config } from '../config/index.ts';
import { createDatabase, migrateToLatest } from '../db/index.ts';

/** `tessera migrate`: apply pending migrations and exit. */
export async function migrate(config: Config, output: { json: boolean }): Promise<void> {
  const db = await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await migrateToLatest(db.knex);
    console.log(output.json ? JSON.stringify({ applied }) : (applied.length ? `applied: ${applied.join(', ')}` : 'already up to date'));
  } finally {
    await db.close();
  }
}
