export { passwordGrant, PASSWORD_GRANT_TYPE, type PasswordGrantDependencies } from './password.ts';
export { tokenExchangeGrant, TOKEN_EXCHANGE_GRANT_TYPE, ACCESS_TOKEN_TYPE, SUBJECT_TOKEN_REFUSED, tokenExchangeAudiencesOf, mayImpersonate, type TokenExchangeDependencies } from './token-exchange.ts';
