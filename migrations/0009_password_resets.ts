import type { Knex } from 'knex';

// Reserved for issue 11 work in progress; filled in by the change that needs it.
export async function up(_knex: Knex): Promise<void> {}

export async function down(_knex: Knex): Promise<void> {}
