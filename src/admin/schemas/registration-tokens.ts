import {
  DEFAULT_INITIAL_ACCESS_TOKEN_TTL, DEFAULT_INITIAL_ACCESS_TOKEN_USES, MAX_INITIAL_ACCESS_TOKEN_TTL, MAX_INITIAL_ACCESS_TOKEN_USES, MIN_INITIAL_ACCESS_TOKEN_TTL,
} from '../../registration/index.ts';
import { object, text, type JsonSchema } from './common.ts';

export interface CreateRegistrationTokenBody { uses?: number; ttl_seconds?: number; description?: string }

export const createRegistrationTokenSchema: JsonSchema = {
  title: 'CreateRegistrationToken',
  ...object({
    uses: { type: 'integer', minimum: 1, maximum: MAX_INITIAL_ACCESS_TOKEN_USES, default: DEFAULT_INITIAL_ACCESS_TOKEN_USES, description: `how many clients may register with it (default ${DEFAULT_INITIAL_ACCESS_TOKEN_USES})` },
    ttl_seconds: {
      type: 'integer', minimum: MIN_INITIAL_ACCESS_TOKEN_TTL, maximum: MAX_INITIAL_ACCESS_TOKEN_TTL, default: DEFAULT_INITIAL_ACCESS_TOKEN_TTL,
      description: `seconds it works (default ${DEFAULT_INITIAL_ACCESS_TOKEN_TTL}, at most ${MAX_INITIAL_ACCESS_TOKEN_TTL})`,
    },
    description: text(200, { description: 'for whom or what it is (shown in the list)' }),
  }),
};

export const registrationTokenSchema: JsonSchema = {
  title: 'RegistrationToken',
  type: 'object',
  description: 'an initial access token for dynamic client registration (RFC 7591); never its value after creation',
  properties: {
    id: { type: 'string' },
    uses: { type: 'integer' },
    uses_left: { type: 'integer' },
    expires_at: { type: 'string', format: 'date-time' },
    expired: { type: 'boolean' },
    description: { type: ['string', 'null'] },
    created_by: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
  },
};

export const createdRegistrationTokenSchema: JsonSchema = {
  title: 'CreatedRegistrationToken',
  type: 'object',
  properties: {
    ...(registrationTokenSchema.properties as Record<string, JsonSchema>),
    initial_access_token: { type: 'string', description: 'the token, as the registering client sends it (Authorization: Bearer); shown here once, never again' },
  },
};
