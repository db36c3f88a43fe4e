import base from './jest.config.js';

/**
 * The browser tier (`npm run test:browser`, run by .ci/run): the admin console in headless Chromium
 * (/usr/bin/chromium, driven by playwright-core) against the real app and a real authorization server
 * (oidc-provider). Not part of `npm test` (its testMatch does not match `*.browser-spec.ts`).
 */
export default {
  ...base,
  roots: ['<rootDir>/test/browser'],
  testMatch: ['**/*.browser-spec.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
