export { loadOrCreateKeys, publicJwks, generateSigningKey, writePrivateFile, type KeyMaterial } from './keystore.ts';
