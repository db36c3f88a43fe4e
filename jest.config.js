/** Jest 30 + ts-jest in ESM mode (see README "Testing"). Run through `npm test`, which sets --experimental-vm-modules. */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  // The conformance tools folder has its own node_modules: never crawl it.
  modulePathIgnorePatterns: ['<rootDir>/test/conformance/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/conformance/'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  maxWorkers: 1,
  // A failed boot can leave an embedded database open; never let that hang CI.
  forceExit: true,
};
