import { AuditEventEntity } from './audit-event.entity.js';

/** The audit module's tables (composed with every other module's in src/persistence.ts). */
export const auditEntities = [AuditEventEntity];
