import { Global, Module } from '@nestjs/common';
import { AdminAudit } from './admin-action.js';
import { AuditQueryService } from './audit-query.service.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

/**
 * The durable audit trail and its admin API (`/admin/audit`). Global: any module (auth, permissions, state,
 * admin, the tool pipeline) injects the `AuditRecorder` port without importing this module.
 */
@Global()
@Module({
  controllers: [AuditController],
  providers: [
    AuditService,
    AuditQueryService,
    AdminAudit,
    { provide: AuditRecorder, useExisting: AuditService },
  ],
  exports: [AuditRecorder, AuditService, AuditQueryService, AdminAudit],
})
export class AuditModule {}
