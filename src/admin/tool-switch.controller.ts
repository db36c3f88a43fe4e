import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { adminActor, AdminAudit, AUDIT_ID_HEADER } from '../audit/admin-action.js';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';
import { DomainError } from '../common/domain-error.js';
import { principalOf } from '../common/principal.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { ToolSwitchService } from '../resilience/tool-switch.service.js';
import { ChangeFeed } from '../tools/change-feed.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { auditedAnswer } from './admin.schemas.js';

export const SwitchBody = z.strictObject({
  /** One version only; omit to switch every version of the tool. */
  version: z.string().min(1).max(64).optional(),
  reason: z.string().max(500).optional(),
});
export type SwitchBody = z.infer<typeof SwitchBody>;

/** What a switch answer looks like (OpenAPI). */
const SWITCH_PROPERTIES = {
  tool: { type: 'string' },
  version: { type: 'string', nullable: true },
  disabled: { type: 'boolean' },
};

/**
 * The kill switch: an operator switches a tool (or one version) off and on at runtime. The state is a row in
 * `tool_switch`, read by every call on every replica, so it holds from the next call on: the tool disappears
 * from `tools/list` and calls get `TOOL_DISABLED`. Every switch is audited.
 */
@ApiTags('admin')
@ApiBearerAuth()
@AdminScopes()
@Controller('admin/tools')
export class ToolSwitchController {
  constructor(
    private readonly switches: ToolSwitchService,
    private readonly registry: ToolRegistry,
    private readonly audit: AdminAudit,
    private readonly changes: ChangeFeed,
  ) {}

  @Get('disabled')
  @ApiOperation({ summary: 'The tools (and versions) switched off now' })
  list() {
    return this.switches.list();
  }

  @Post(':name/disable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Switch a tool (or one version) off, effective on the next call on every replica',
  })
  @ApiBody({ schema: z.toJSONSchema(SwitchBody, { io: 'input' }) as object, required: false })
  @ApiResponse(auditedAnswer(200, 'Switched off, with the id of the audit row', SWITCH_PROPERTIES))
  async disable(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('name') name: string,
    @Body(new ZodValidationPipe(SwitchBody)) body: SwitchBody,
  ) {
    const version = this.known(name, body.version);
    const { auditId } = await this.audit.act(
      adminActor(req),
      'tool.disable',
      (manager) => this.switches.disable(name, version, principalOf(req).agentId, body.reason, manager),
      () => ({ tool: name, version, reason: body.reason }),
    );
    if (auditId) reply.header(AUDIT_ID_HEADER, auditId);
    // Committed: every listening agent that may see the tool re-lists (any replica).
    await this.changes.send({ kind: 'tools_list_changed' });
    return { tool: name, version, disabled: true, auditId };
  }

  @Post(':name/enable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Switch a tool (or one version) back on; a switch on every version still applies',
  })
  @ApiBody({ schema: z.toJSONSchema(SwitchBody, { io: 'input' }) as object, required: false })
  @ApiResponse(
    auditedAnswer(200, 'Switched back on, with the id of the audit row', {
      ...SWITCH_PROPERTIES,
      removed: { type: 'boolean', description: 'false when this tool/version was not switched off' },
    }),
  )
  async enable(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('name') name: string,
    @Body(new ZodValidationPipe(SwitchBody)) body: SwitchBody,
  ) {
    const version = this.known(name, body.version);
    const { result: removed, auditId } = await this.audit.act(
      adminActor(req),
      'tool.enable',
      (manager) => this.switches.enable(name, version, manager),
      (wasRemoved) => ({ tool: name, version, removed: wasRemoved }),
    );
    if (auditId) reply.header(AUDIT_ID_HEADER, auditId);
    if (removed) await this.changes.send({ kind: 'tools_list_changed' });
    return { tool: name, version, disabled: false, removed, auditId };
  }

  private known(name: string, version: string | undefined): string | null {
    if (!this.registry.get(name, version)) {
      throw new DomainError('NOT_FOUND', `Unknown tool: ${name}${version ? `@${version}` : ''}`);
    }
    return version ?? null;
  }
}
