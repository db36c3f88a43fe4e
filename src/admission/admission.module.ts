import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { GateReader } from '../common/admission.js';
import { ToolsModule } from '../tools/tools.module.js';
import { AdmissionGuard } from './admission.guard.js';
import { ProtectedResourceController } from './protected-resource.controller.js';
import { RevocationService } from './revocation.service.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';
import { ScopeGuard } from './scope.guard.js';
import { ToolGate } from './tool-gate.js';

/**
 * What an authenticated request may do: the revocation list and the `tools/call` gate (AdmissionGuard, 401), the
 * scopes (ScopeGuard, 403) and the RFC 9728 metadata that lists them. The guards are registered globally, in
 * order, by the composition root (`app.module.ts`). Global: the tool pipeline reads a call's gate through
 * `GateReader` (declared in common/) when admission did not, without tools/ depending on this module.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([RevokedTokenEntity]), AuthModule, ToolsModule],
  controllers: [ProtectedResourceController],
  providers: [
    RevocationService,
    ToolGate,
    { provide: GateReader, useExisting: ToolGate },
    AdmissionGuard,
    ScopeGuard,
  ],
  exports: [RevocationService, ToolGate, GateReader, AdmissionGuard, ScopeGuard],
})
export class AdmissionModule {}
