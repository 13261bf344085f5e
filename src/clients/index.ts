export { createClientRepository, type ClientRecord, type ClientRepository, type NewClient } from './repository.ts';
export { createResourceServerRepository, ResourceServerExistsError, type ResourceServer, type ResourceServerRepository, type NewResourceServer } from './resource-servers.ts';
export { clientSecretMatches, digestClientSecret, generateClientSecret } from './secrets.ts';
