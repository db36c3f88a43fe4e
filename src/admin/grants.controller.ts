import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DomainError } from '../common/domain-error.js';
import { principalOf } from '../common/principal.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { PermissionsService } from '../permissions/permissions.service.js';
import { ChangeFeed } from '../tools/change-feed.service.js';
import { PromptRegistry } from '../tools/prompt-registry.service.js';
import { ResourceRegistry } from '../tools/resource-registry.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { auditedAnswer, CreateGrantBody, GrantIdParam, ListGrantsQuery } from './admin.schemas.js';
import { adminActor, AdminAudit, AUDIT_ID_HEADER } from '../audit/admin-action.js';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';

/** What a grant looks like in answers (OpenAPI). */
const GRANT_PROPERTIES = {
  id: { type: 'string', format: 'uuid' },
  agentId: { type: 'string' },
  toolName: { type: 'string' },
  toolVersion: { type: 'string', nullable: true },
  grantedBy: { type: 'string' },
  grantedAt: { type: 'string', format: 'date-time' },
  expiresAt: { type: 'string', format: 'date-time', nullable: true },
};

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/grants')
@AdminScopes()
export class GrantsController {
  constructor(
    private readonly permissions: PermissionsService,
    private readonly tools: ToolRegistry,
    private readonly resources: ResourceRegistry,
    private readonly prompts: PromptRegistry,
    private readonly audit: AdminAudit,
    private readonly changes: ChangeFeed,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Grant an agent the right to call a tool (optionally one version, optionally until a time)',
  })
  @ApiBody({ schema: z.toJSONSchema(CreateGrantBody, { io: 'input' }) as object })
  @ApiResponse(auditedAnswer(201, 'The grant, with the id of its audit row', GRANT_PROPERTIES))
  async create(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Body(new ZodValidationPipe(CreateGrantBody)) body: CreateGrantBody,
  ) {
    if (!this.exists(body.toolName)) {
      throw new DomainError(
        'INVALID_REQUEST',
        `Unknown tool, resource:<name> or prompt:<name>: ${body.toolName}`,
      );
    }
    const { result: grant, auditId } = await this.audit.act(
      adminActor(req),
      'grant.create',
      (manager) => this.permissions.grant({ ...body, grantedBy: principalOf(req).agentId }, manager),
      (created) => ({ grantId: created.id, agent: created.agentId, tool: created.toolName }),
    );
    if (auditId) reply.header(AUDIT_ID_HEADER, auditId);
    // Committed: the agent's listen streams (any replica) hear that its list changed, and re-list.
    await this.changes.grantChanged(grant.agentId, grant.toolName);
    return { ...grant, auditId };
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
  @ApiResponse(auditedAnswer(204, 'Revoked; the Audit-Id header names the audit row'))
  async revoke(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('id', new ZodValidationPipe(GrantIdParam)) id: string,
  ): Promise<void> {
    // Whose list the revocation changes (read first: after the commit, a failed read would fail a done action).
    const grant = await this.permissions.find(id);
    const { auditId } = await this.audit.act(
      adminActor(req),
      'grant.revoke',
      async (manager) => {
        if (!(await this.permissions.revoke(id, principalOf(req).agentId, manager))) {
          throw new DomainError('NOT_FOUND', `No active grant ${id}`);
        }
      },
      () => ({ grantId: id }),
    );
    if (auditId) reply.header(AUDIT_ID_HEADER, auditId);
    if (grant) await this.changes.grantChanged(grant.agentId, grant.toolName);
  }
}
