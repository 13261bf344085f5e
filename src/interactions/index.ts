// The sign-in, consent and logout pages: Tessera's router for its own steps,
// and the pages oidc-provider renders in Tessera's look.
export { createInteractionRouter, type InteractionRouterDeps } from './routes.ts';
export { createPasskeySignInRouter, type PasskeySignInDeps } from './passkey-routes.ts';
export { renderLogoutSource, renderPostLogoutSuccess, renderProviderError, noteUnregisteredPostLogoutRedirect } from './provider-pages.ts';
export { devicePages, type DevicePagesDeps } from './device-pages.ts';
// shared with the other pages of Tessera's own (/account)
export { interactionBoundary, PageError, pageRequestId, sendPage } from './page-errors.ts';
export { describeResourceScopes, describeScopes } from './scopes.ts';
export { formField, jsonObjectField, lockoutWaitSeconds } from './forms.ts';
export { csrfTokenFor, isValidCsrfToken } from './csrf.ts';
export { MFA_REQUIRED_REASON, pendingOrStepUp } from './second-step.ts';
