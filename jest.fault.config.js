import base from './jest.config.js';

/**
 * The fault-injection tier (`npm run test:fault`, run by .ci/run): each spec starts its own PostgreSQL cluster
 * and Redis (never the machine's) and breaks them under load. Not part of `npm test` (its testMatch does not
 * match `*.fault-spec.ts`). One file at a time: the scenarios measure latencies on a small machine.
 */
export default {
  ...base,
  roots: ['<rootDir>/test/fault'],
  testMatch: ['**/*.fault-spec.ts'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
