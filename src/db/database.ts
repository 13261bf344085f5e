import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { lockDataDir } from './lock.ts';

export type { Knex };

export interface Database {
  readonly knex: Knex;
  readonly kind: 'postgres' | 'pglite';
  /** PGlite on disk: its directory, and whether this start created it (for the start log) */
  readonly embedded?: { readonly path: string; readonly created: boolean };
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… — unset means the embedded PGlite database */
  databaseUrl?: string;
  /** where PGlite keeps its files */
  dataDir?: string;
  /** PGlite in memory only (tests) */
  inMemory?: boolean;
  /** Postgres schema to use (created if missing); lets tests share one server */
  schema?: string;
}

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const knex = knexFactory({
      client: 'pg',
      connection: options.databaseUrl,
      searchPath: options.schema ? [options.schema] : undefined,
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: 5000,
    });
    if (options.schema) await knex.raw('create schema if not exists ??', [options.schema]);
    return { knex, kind: 'postgres', close: () => knex.destroy() };
  }

  let release = () => {};
  let connection: object = {};
  let embedded: Database['embedded'];
  if (!options.inMemory) {
    const dataDir = resolve(options.dataDir ?? './data');
    release = await lockDataDir(dataDir);
    const path = join(dataDir, 'pgdata');
    embedded = { path, created: !existsSync(path) };
    connection = { filename: path };
  }
  try {
    const knex = knexFactory({ client: ClientPgLite as unknown as typeof knexFactory.Client, dialect: 'postgres', connection });
    await knex.raw('select 1');
    return {
      knex,
      kind: 'pglite',
      embedded,
      close: async () => {
        try { await knex.destroy(); } finally { release(); }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}
