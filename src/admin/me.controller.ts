import { Controller, Get, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';
import { ADMIN_SCOPE } from '../auth/scopes.js';
import { principalOf } from '../common/principal.js';

/** `GET /admin/me`: who the token is and whether it may change things (the console hides write controls if not). */
@ApiTags('admin')
@ApiBearerAuth()
@AdminScopes()
@Controller('admin/me')
export class AdminMeController {
  @Get()
  @ApiOperation({
    summary: "The caller's identity and scopes; canWrite is false for a read-only (mcp:admin:read) token",
  })
  me(@Req() req: FastifyRequest): { agentId: string; scopes: string[]; canWrite: boolean } {
    const { agentId, scopes } = principalOf(req);
    return { agentId, scopes: [...scopes].sort(), canWrite: scopes.has(ADMIN_SCOPE) };
  }
}
