import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { RequireScopes } from '../auth/require-scopes.decorator.js';
import { ADMIN_SCOPE } from '../auth/scopes.js';
import { DomainError } from '../common/domain-error.js';
import { principalOf } from '../common/principal.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import { ToolSwitchService } from '../resilience/tool-switch.service.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { auditAdmin } from '../audit/admin-action.js';

export const SwitchBody = z.strictObject({
  /** One version only; omit to switch every version of the tool. */
  version: z.string().min(1).max(64).optional(),
  reason: z.string().max(500).optional(),
});
export type SwitchBody = z.infer<typeof SwitchBody>;

/**
 * The kill switch: an operator switches a tool (or one version) off and on at runtime. The state is a row in
 * `tool_switch`, read by every call on every replica, so it holds from the next call on: the tool disappears
 * from `tools/list` and calls get `TOOL_DISABLED`. Every switch is audited.
 */
@ApiTags('admin')
@ApiBearerAuth()
@RequireScopes(ADMIN_SCOPE)
@Controller('admin/tools')
export class ToolSwitchController {
  constructor(
    private readonly switches: ToolSwitchService,
    private readonly registry: ToolRegistry,
    private readonly audit: AuditRecorder,
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
  async disable(
    @Req() req: FastifyRequest,
    @Param('name') name: string,
    @Body(new ZodValidationPipe(SwitchBody)) body: SwitchBody,
  ) {
    const version = this.known(name, body.version);
    await this.switches.disable(name, version, principalOf(req).agentId, body.reason);
    await auditAdmin(this.audit, req, 'tool.disable', { tool: name, version, reason: body.reason });
    return { tool: name, version, disabled: true };
  }

  @Post(':name/enable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Switch a tool (or one version) back on; a switch on every version still applies',
  })
  @ApiBody({ schema: z.toJSONSchema(SwitchBody, { io: 'input' }) as object, required: false })
  async enable(
    @Req() req: FastifyRequest,
    @Param('name') name: string,
    @Body(new ZodValidationPipe(SwitchBody)) body: SwitchBody,
  ) {
    const version = this.known(name, body.version);
    const removed = await this.switches.enable(name, version);
    await auditAdmin(this.audit, req, 'tool.enable', { tool: name, version, removed });
    return { tool: name, version, disabled: false, removed };
  }

  private known(name: string, version: string | undefined): string | null {
    if (!this.registry.get(name, version)) {
      throw new DomainError('NOT_FOUND', `Unknown tool: ${name}${version ? `@${version}` : ''}`);
    }
    return version ?? null;
  }
}
