import { PermissionGrantEntity } from './permission-grant.entity.js';

/** The permissions module's tables (composed with every other module's in src/persistence.ts). */
export const permissionsEntities = [PermissionGrantEntity];
