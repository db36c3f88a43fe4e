import { coreMigrations } from '../migrations/index.js';
import { admissionEntities } from './admission/admission.entities.js';
import { auditEntities } from './audit/audit.entities.js';
import type { PersistenceParts } from './database/data-source-options.js';
import { mcpEntities } from './mcp/mcp.entities.js';
import { permissionsEntities } from './permissions/permissions.entities.js';
import { resilienceEntities } from './resilience/resilience.entities.js';
import { stateEntities } from './state/state.entities.js';
import { TOOL_PACKS } from './tool-modules/tool-packs.module.js';

const packs = Object.values(TOOL_PACKS);

/**
 * Composition root of the storage: every table of the app, for the app (DatabaseModule.forRoot) and the migration
 * CLI alike. Each core module lists its entities; each pack brings its own in the pack list. A pack's tables are
 * migrated whether `TOOL_PACKS` enables it or not (docs/extending.md "A pack with its own table").
 */
export const persistence: PersistenceParts = {
  entities: [
    ...permissionsEntities,
    ...admissionEntities,
    ...stateEntities,
    ...auditEntities,
    ...resilienceEntities,
    ...mcpEntities,
    ...packs.flatMap((pack) => pack.entities ?? []),
  ],
  migrations: [...coreMigrations, ...packs.flatMap((pack) => pack.migrations ?? [])],
};
