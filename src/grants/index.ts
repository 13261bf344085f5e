export { passwordGrant, PASSWORD_GRANT_TYPE, type PasswordGrantDependencies } from './password.ts';
