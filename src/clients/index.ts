export { authenticatesWithSecret, clientMetadataOf, createClientRepository, newClientOfRecord, tokensNotBeforeOf, TLS_CLIENT_AUTH_SUBJECT_FIELDS, type ClientRecord, type ClientRepository, type NewClient, type TlsClientAuthSubject } from './repository.ts';
export { ANNOUNCEMENT_LIFETIME_MS, singleProcessChanges, sqlClientChanges, type ClientChangeLog } from './client-changes.ts';
export { createResourceServerRepository, MAX_RESOURCE_TTL, ResourceServerExistsError, type ResourceServer, type ResourceServerRepository, type NewResourceServer } from './resource-servers.ts';
export { clientSecretMatches, digestClientSecret, generateClientSecret } from './secrets.ts';
export { ADMIN_SCOPE, REGISTRABLE_GRANT_TYPES, allowListOf, allowedScopes, allowedOidcScopes, isFirstParty, isReservedScope, requiresSecondFactor, registrationProblems, type FieldProblem, type Offer } from './client-policy.ts';
export { OIDC_SCOPES } from './oidc-scopes.ts';
export { CLIENT_METADATA_DOCUMENT_LIMITS, ClientMetadataDocumentRefused, clientIdHost, clientMetadataFromDocument, createClientMetadataDocuments, documentCacheSeconds, refusedAddress as refusedDocumentAddress, isClientIdUrl, isRegisteredByNobody, type ClientMetadataDocuments } from './client-metadata-documents.ts';
export { clientKindProblems, type ApplicationType, type ClientKindInput } from './client-kinds.ts';
