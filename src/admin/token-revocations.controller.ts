import { Body, Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { adminActor, AdminAudit, AUDIT_ID_HEADER } from '../audit/admin-action.js';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';
import { RevocationService } from '../admission/revocation.service.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { auditedAnswer, RevokeTokenBody } from './admin.schemas.js';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/token-revocations')
@AdminScopes()
export class TokenRevocationsController {
  constructor(
    private readonly revocations: RevocationService,
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Revoke an access token by its jti; refused from the very next request on' })
  @ApiBody({ schema: z.toJSONSchema(RevokeTokenBody, { io: 'input' }) as object })
  @ApiResponse(
    auditedAnswer(
      201,
      'The revocation entry (the first one, if already revoked), with the id of its audit row',
      {
        jti: { type: 'string' },
        revokedAt: { type: 'string', format: 'date-time' },
        expiresAt: { type: 'string', format: 'date-time', nullable: true },
        reason: { type: 'string', nullable: true },
      },
    ),
  )
  async revoke(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Body(new ZodValidationPipe(RevokeTokenBody)) body: z.infer<typeof RevokeTokenBody>,
  ) {
    const { result: entry, auditId } = await this.audit.act(
      adminActor(req),
      'token.revoke',
      (manager) => this.revocations.revoke(body, manager),
      // The jti identifies a token but is no credential: safe to keep in the trail.
      () => ({ jti: body.jti, reason: body.reason }),
    );
    if (auditId) reply.header(AUDIT_ID_HEADER, auditId);
    return { ...entry, auditId };
  }

  @Get()
  @ApiOperation({ summary: 'List revoked tokens (newest first)' })
  list() {
    return this.revocations.list();
  }
}
