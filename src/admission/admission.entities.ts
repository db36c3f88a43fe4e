import { RevokedTokenEntity } from './revoked-token.entity.js';

/** The admission module's tables (composed with every other module's in src/persistence.ts). */
export const admissionEntities = [RevokedTokenEntity];
