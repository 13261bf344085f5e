export { createDatabase, type Database, type DatabaseOptions, type Knex } from './database.ts';
export { migrateToLatest } from './migrate.ts';
export { batchedLookup } from './batched-lookup.ts';
