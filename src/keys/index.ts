export { loadOrCreateKeys, publicJwks, generateSigningKey, rotateSigningKeys, writePrivateFile, type KeyMaterial } from './keystore.ts';
