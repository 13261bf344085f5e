// The migrations, in order. Listed here (not discovered on disk) so that the
// same list runs from the CLI, the server and the tests.
import * as initial from './0001_initial.ts';
import * as explicitClientScopes from './0002_explicit_client_scopes.ts';
import * as canonicalUsernames from './0003_canonical_usernames.ts';
import * as clientGenerations from './0004_client_generations.ts';
import * as auditContext from './0005_audit_context.ts';
import * as webhooks from './0006_webhooks.ts';
import * as accountLifecycle from './0007_account_lifecycle.ts';
import * as sessions from './0008_sessions.ts';
import * as passwordResets from './0009_password_resets.ts';
import * as secondFactors from './0010_second_factors.ts';
import * as rateLimitCounters from './0011_rate_limit_counters.ts';
import * as resourceDynamicClients from './0012_resource_dynamic_clients.ts';
import * as dynamicRegistration from './0013_dynamic_registration.ts';

export const migrations = [
  { name: '0001_initial', module: initial },
  { name: '0002_explicit_client_scopes', module: explicitClientScopes },
  { name: '0003_canonical_usernames', module: canonicalUsernames },
  { name: '0004_client_generations', module: clientGenerations },
  { name: '0005_audit_context', module: auditContext },
  { name: '0006_webhooks', module: webhooks },
  { name: '0007_account_lifecycle', module: accountLifecycle },
  { name: '0008_sessions', module: sessions },
  { name: '0009_password_resets', module: passwordResets },
  { name: '0010_second_factors', module: secondFactors },
  { name: '0011_rate_limit_counters', module: rateLimitCounters },
  { name: '0012_resource_dynamic_clients', module: resourceDynamicClients },
  { name: '0013_dynamic_registration', module: dynamicRegistration },
];
