import { Readable } from 'node:stream';
import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';
import { ZodValidationPipe } from '../common/zod-validation.pipe.js';
import {
  AuditQueryService,
  auditFilterSchema,
  auditQuerySchema,
  type AuditEventView,
  type AuditFilter,
  type AuditPage,
  type AuditQuery,
} from './audit-query.service.js';
import { adminActor, AdminAudit } from './admin-action.js';

/**
 * `/admin/audit`: read the audit trail (scope `mcp:admin` or `mcp:admin:read`). Reading it is itself an admin action and leaves a
 * row (`kind=admin`, outcome `audit.query` / `audit.export`) before any data is returned.
 */
@ApiTags('admin')
@ApiBearerAuth()
@AdminScopes()
@Controller('admin/audit')
export class AuditController {
  constructor(
    private readonly query: AuditQueryService,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'Audit events, newest first (filters: agent, tool, outcome, kind, flowId, from, to; limit ≤ 500; cursor)',
  })
  async list(
    @Req() req: FastifyRequest,
    @Query(new ZodValidationPipe(auditQuerySchema)) query: AuditQuery,
  ): Promise<AuditPage> {
    await this.recordAccess(req, 'audit.query', query);
    return this.query.page(query);
  }

  @Get('export')
  @ApiOperation({ summary: 'Every matching audit event as JSON Lines (application/x-ndjson), streamed' })
  async export(
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query(new ZodValidationPipe(auditFilterSchema)) filter: AuditFilter,
  ): Promise<void> {
    await this.recordAccess(req, 'audit.export', filter);
    // One page in memory at a time: the next page is read only when the client has taken the previous one.
    const body = Readable.from(jsonLines(this.query.export(filter)), { highWaterMark: 1 });
    await reply
      .header('content-type', 'application/x-ndjson')
      .header('content-disposition', 'attachment; filename="audit.jsonl"')
      .header('cache-control', 'no-store')
      .send(body);
  }

  private recordAccess(req: FastifyRequest, action: string, filter: AuditFilter): Promise<void> {
    return this.audit.recordAccess(adminActor(req), action, { filter: withoutPaging(filter) });
  }
}

async function* jsonLines(pages: AsyncIterable<AuditEventView[]>): AsyncGenerator<string> {
  for await (const rows of pages) yield rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

function withoutPaging(query: AuditFilter & { limit?: number; cursor?: string }): AuditFilter {
  const { limit: _limit, cursor: _cursor, ...filter } = query;
  return filter;
}
