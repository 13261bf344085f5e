import { object, pagination, pathId, type JsonSchema } from './common.ts';

export interface SessionsQuery { user: string; limit: number; offset: number }
export interface EndSessionsBody { user: string }

export const sessionsQuerySchema: JsonSchema = object({ user: { ...pathId, description: 'account id or username' }, ...pagination }, ['user']);

export const endSessionsSchema: JsonSchema = {
  title: 'EndSessions',
  ...object({ user: { ...pathId, description: 'account id or username' } }, ['user']),
};

const nullableString: JsonSchema = { type: ['string', 'null'] };

export const sessionSchema: JsonSchema = {
  title: 'Session',
  type: 'object',
  properties: {
    id: { type: 'string', description: "the session's public id (its uid), never the value of its cookie" },
    account_id: { type: 'string' },
    device: { ...nullableString, description: 'a short description of the User-Agent, e.g. "Chrome on Linux"' },
    user_agent: { ...nullableString, description: 'the User-Agent the session started with, shortened' },
    ip: { ...nullableString, description: 'the client address the session started from' },
    created_at: { type: 'string', format: 'date-time' },
    last_active_at: { type: ['string', 'null'], format: 'date-time' },
    clients: {
      type: 'array',
      items: { type: 'object', properties: { client_id: { type: 'string' }, name: nullableString } },
      description: 'the clients signed in through this session',
    },
  },
};
