import type { Knex } from 'knex';

/*
 * Absent means nothing. Before this migration a client registered without a
 * scope list could obtain every scope — the admin API's included. From now on
 * an absent list allows nothing, so each such client gets, written out, what
 * it could obtain before: the OpenID Connect scopes and the scopes of every
 * resource server registered at this moment — except `admin`. Each rewrite
 * is recorded in the audit log. (Constants are frozen here as they were when
 * this migration was written, not imported: a migration must not change
 * meaning when the code moves on.)
 */

const OIDC_SCOPES_AT_THE_TIME = ['openid', 'profile', 'email', 'roles', 'offline_access'];
const ADMIN_SCOPE = 'admin';

const parse = <T>(value: T | string): T => (typeof value === 'string' ? JSON.parse(value) : value);

export async function up(knex: Knex): Promise<void> {
  const resourceScopes = (await knex('resource_servers').select('scopes'))
    .flatMap((row: { scopes: string[] | string }) => parse(row.scopes));
  const explicitList = [...new Set([...OIDC_SCOPES_AT_THE_TIME, ...resourceScopes])].filter((scope) => scope !== ADMIN_SCOPE);

  const clients = await knex('clients').select('client_id', 'metadata');
  for (const row of clients as Array<{ client_id: string; metadata: Record<string, unknown> | string }>) {
    const metadata = parse(row.metadata);
    if (Array.isArray(metadata.allowed_scopes)) continue;
    const updated = { ...metadata, allowed_scopes: explicitList, scope: OIDC_SCOPES_AT_THE_TIME.join(' ') };
    await knex('clients').where({ client_id: row.client_id }).update({ metadata: JSON.stringify(updated), updated_at: knex.fn.now() });
    await knex('audit_events').insert({
      type: 'client.scopes_made_explicit',
      actor: 'migration:0002_explicit_client_scopes',
      subject: row.client_id,
      client_id: row.client_id,
      details: JSON.stringify({ scopes: explicitList, reason: 'registered without a scope list; admin excluded' }),
    });
  }
}

export async function down(): Promise<void> {
  // Deliberately not reversible: putting the lists back to "absent" would again grant every scope.
}
