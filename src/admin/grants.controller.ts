import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { DomainError } from '../common/domain-error.js';
import { principalOf } from '../common/principal.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { PermissionsService } from '../permissions/permissions.service.js';
import { PromptRegistry } from '../tools/prompt-registry.service.js';
import { ResourceRegistry } from '../tools/resource-registry.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { CreateGrantBody, GrantIdParam, ListGrantsQuery } from './admin.schemas.js';
import { auditAdmin } from '../audit/admin-action.js';
import { RequireScopes } from '../auth/require-scopes.decorator.js';
import { ADMIN_SCOPE } from '../auth/scopes.js';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/grants')
@RequireScopes(ADMIN_SCOPE)
export class GrantsController {
  constructor(
    private readonly permissions: PermissionsService,
    private readonly tools: ToolRegistry,
    private readonly resources: ResourceRegistry,
    private readonly prompts: PromptRegistry,
    private readonly audit: AuditRecorder,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Grant an agent the right to call a tool (optionally one version, optionally until a time)',
  })
  @ApiBody({ schema: z.toJSONSchema(CreateGrantBody, { io: 'input' }) as object })
  async create(
    @Req() req: FastifyRequest,
    @Body(new ZodValidationPipe(CreateGrantBody)) body: CreateGrantBody,
  ) {
    if (!this.exists(body.toolName)) {
      throw new DomainError(
        'INVALID_REQUEST',
        `Unknown tool, resource:<name> or prompt:<name>: ${body.toolName}`,
      );
    }
    const admin = principalOf(req);
    const grant = await this.permissions.grant({ ...body, grantedBy: admin.agentId });
    await auditAdmin(this.audit, req, 'grant.create', {
      grantId: grant.id,
      agent: grant.agentId,
      tool: grant.toolName,
    });
    return grant;
  }

  /** `toolName` is a tool name, or `resource:<name>` / `prompt:<name>` (see docs/extending.md). */
  private exists(key: string): boolean {
    const [kind, name] = key.includes(':') ? key.split(/:(.*)/s) : ['tool', key];
    if (kind === 'resource') return this.resources.get(name) !== undefined;
    if (kind === 'prompt') return this.prompts.get(name) !== undefined;
    return kind === 'tool' && this.tools.get(key) !== undefined;
  }

  @Get()
  @ApiOperation({ summary: 'List grants (filters: agentId, toolName, active=true)' })
  list(@Query(new ZodValidationPipe(ListGrantsQuery)) query: z.infer<typeof ListGrantsQuery>) {
    return this.permissions.list(query);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a grant; effective on the next call' })
  async revoke(@Req() req: FastifyRequest, @Param('id', new ZodValidationPipe(GrantIdParam)) id: string) {
    if (!(await this.permissions.revoke(id, principalOf(req).agentId))) {
      throw new DomainError('NOT_FOUND', `No active grant ${id}`);
    }
    await auditAdmin(this.audit, req, 'grant.revoke', { grantId: id });
  }
}
