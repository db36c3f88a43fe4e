import { Body, Controller, Get, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { RequireScopes } from '../auth/require-scopes.decorator.js';
import { RevocationService } from '../auth/revocation.service.js';
import { ADMIN_SCOPE } from '../auth/scopes.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { auditAdmin } from '../audit/admin-action.js';
import { RevokeTokenBody } from './admin.schemas.js';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/token-revocations')
@RequireScopes(ADMIN_SCOPE)
export class TokenRevocationsController {
  constructor(
    private readonly revocations: RevocationService,
    private readonly audit: AuditRecorder,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Revoke an access token by its jti; refused from the very next request on' })
  @ApiBody({ schema: z.toJSONSchema(RevokeTokenBody, { io: 'input' }) as object })
  async revoke(
    @Req() req: FastifyRequest,
    @Body(new ZodValidationPipe(RevokeTokenBody)) body: z.infer<typeof RevokeTokenBody>,
  ) {
    const entry = await this.revocations.revoke(body);
    // The jti identifies a token but is no credential: safe to keep in the trail.
    await auditAdmin(this.audit, req, 'token.revoke', { jti: body.jti, reason: body.reason });
    return entry;
  }

  @Get()
  @ApiOperation({ summary: 'List revoked tokens (newest first)' })
  list() {
    return this.revocations.list();
  }
}
