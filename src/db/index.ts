export { createDatabase, type Database, type DatabaseOptions, type Knex } from './database.ts';
export { migrateToLatest } from './migrate.ts';
