// Dynamic client registration (RFC 7591/7592): the endpoint, its policy, and the initial access tokens admins issue.
export { createRegistrationRouter, isRegistrationPath, REGISTRATION_PATH, type RegistrationRouterDeps } from './endpoint.ts';
export { clientOfRegistrationRequest, redirectUriProblem, DYNAMIC_CLIENT_AUTH_METHODS, type DynamicClientPolicy, type RegistrationRefusal } from './policy.ts';
export {
  createInitialAccessTokens, DEFAULT_INITIAL_ACCESS_TOKEN_TTL, DEFAULT_INITIAL_ACCESS_TOKEN_USES, MAX_INITIAL_ACCESS_TOKEN_TTL,
  MAX_INITIAL_ACCESS_TOKEN_USES, MIN_INITIAL_ACCESS_TOKEN_TTL, type InitialAccessToken, type InitialAccessTokens,
} from './initial-access-tokens.ts';
