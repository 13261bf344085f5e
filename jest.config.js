// Tests run as native ESM TypeScript: types are stripped by Node's own
// stripper (the same one `node src/main.ts` uses), so tests and server see
// identical code. Type checking is `npm run typecheck`.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/support/strip-types-transform.cjs' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/test/support/env.cjs'],
};
