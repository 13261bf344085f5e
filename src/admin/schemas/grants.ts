import { object, pagination, pathId, type JsonSchema } from './common.ts';

export const grantsQuerySchema: JsonSchema = object({ user: pathId, client: pathId, ...pagination }, [], {
  description: 'exactly one of user (id or username) and client',
});

export interface RevokeGrantsBody { user?: string; client?: string }

export const revokeGrantsSchema: JsonSchema = {
  title: 'RevokeGrants',
  ...object({ user: { ...pathId, description: 'account id or username' }, client: { ...pathId, description: 'client_id' } }, [], {
    minProperties: 1, maxProperties: 1,
    description: 'exactly one of user and client',
  }),
};

export const grantSchema: JsonSchema = {
  title: 'Grant',
  type: 'object',
  properties: {
    id: { type: 'string' }, client_id: { type: ['string', 'null'] }, client_name: { type: ['string', 'null'] }, account_id: { type: ['string', 'null'] },
    scopes: { type: 'array', items: { type: 'string' } },
    resources: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
    issued_at: { type: ['string', 'null'], format: 'date-time' }, created_at: { type: ['string', 'null'], format: 'date-time' },
    last_used_at: { type: ['string', 'null'], format: 'date-time', description: 'when a token was last issued under it (to the minute); null: not since it was made' },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
  },
};
