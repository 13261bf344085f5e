export {
  loadOrCreateKeys, publicJwks, generateSigningKey, writePrivateFile,
  stageSigningKeys, activateSigningKeys, retireSigningKeys, listSigningKeys,
  type KeyMaterial, type RotationResult, type CreatedKeyFile,
} from './keystore.ts';
export { longestSignedTokenTtl } from './retention.ts';
export { SigningKeyFileError, type KeyDescription, type KeyStatus } from './signing-key-set.ts';
