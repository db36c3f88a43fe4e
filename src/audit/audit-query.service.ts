import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';

export const MAX_PAGE = 500;
const DEFAULT_PAGE = 100;
/** Rows per database round trip while exporting. */
const EXPORT_PAGE = 1000;

const KINDS = ['tool_call', 'denied', 'admin', 'state_change'] as const;
const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 time with a zone, e.g. 2026-11-26T14:00:00Z',
});

const filterFields = {
  agent: z.string().min(1).max(512).optional(),
  tool: z.string().min(1).max(512).optional(),
  outcome: z.string().min(1).max(512).optional(),
  kind: z.enum(KINDS).optional(),
  /** The rounds of one input-required call. */
  flowId: z.guid('must be a flow id (a UUID)').optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
};
const ordered = (q: { from?: string; to?: string }) =>
  !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to);
const orderedMessage = { message: '`from` must be earlier than `to`', path: ['from'] };

/** Query-string parameters of `GET /admin/audit`; unknown parameters are refused. */
export const auditQuerySchema = z
  .strictObject({
    ...filterFields,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
    /** Opaque to clients; decoded (and refused with 400 when forged) here, before the handler runs. */
    cursor: z
      .string()
      .max(200)
      .transform((cursor, ctx) => {
        const position = decodeCursor(cursor);
        if (!position) ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this API' });
        return position ?? z.NEVER;
      })
      .optional(),
  })
  .refine(ordered, orderedMessage);

/** Query-string parameters of `GET /admin/audit/export` (the filters only). */
export const auditFilterSchema = z.strictObject(filterFields).refine(ordered, orderedMessage);

export type AuditQuery = z.infer<typeof auditQuerySchema>;
export type AuditFilter = z.infer<typeof auditFilterSchema>;

/** One audit row as the admin API returns it. `occurredAt` keeps PostgreSQL's microseconds. */
export interface AuditEventView {
  id: string;
  occurredAt: string;
  kind: string;
  agentId: string | null;
  clientId: string | null;
  requestId: string | null;
  sessionId: string | null;
  toolName: string | null;
  toolVersion: string | null;
  outcome: string;
  errorCode: string | null;
  durationMs: number | null;
  paramBytes: number | null;
  resultBytes: number | null;
  paramsSha256: string | null;
  remoteAddr: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
  /** The protocol revision of the call (e.g. `2026-07-28`); null on other rows and rows older than issue #16. */
  protocolVersion: string | null;
  /** Links the rounds of one input-required call. */
  flowId: string | null;
}

export interface AuditPage {
  items: AuditEventView[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** Position after the last row of a page: (occurred_at, id), newest first. */
interface Position {
  t: string;
  id: string;
}

/**
 * Read side of the audit trail: filtered, newest-first keyset pagination over (occurred_at, id), which each
 * filter's composite index serves directly, so page N costs the same as page 1. The cursor is opaque
 * (base64url of the last row's position).
 */
@Injectable()
export class AuditQueryService {
  constructor(private readonly dataSource: DataSource) {}

  async page(query: AuditQuery): Promise<AuditPage> {
    const rows = await this.fetch(query, query.cursor, query.limit + 1);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor:
        rows.length > query.limit && last ? encodeCursor({ t: last.occurredAt, id: last.id }) : null,
    };
  }

  /** Every matching row, newest first, one page at a time: memory stays flat whatever the size. */
  async *export(filter: AuditFilter): AsyncGenerator<AuditEventView[]> {
    let after: Position | undefined;
    for (;;) {
      const rows = await this.fetch(filter, after, EXPORT_PAGE);
      if (rows.length > 0) yield rows;
      if (rows.length < EXPORT_PAGE) return;
      const last = rows.at(-1)!;
      after = { t: last.occurredAt, id: last.id };
    }
  }

  private async fetch(
    filter: AuditFilter,
    after: Position | undefined,
    limit: number,
  ): Promise<AuditEventView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.agent !== undefined) add((p) => `agent_id = ${p}`, filter.agent);
    if (filter.tool !== undefined) add((p) => `tool_name = ${p}`, filter.tool);
    if (filter.outcome !== undefined) add((p) => `outcome = ${p}`, filter.outcome);
    if (filter.kind !== undefined) add((p) => `kind = ${p}`, filter.kind);
    if (filter.flowId !== undefined) add((p) => `flow_id = ${p}::uuid`, filter.flowId);
    if (filter.from !== undefined) add((p) => `occurred_at >= ${p}::timestamptz`, filter.from);
    if (filter.to !== undefined) add((p) => `occurred_at < ${p}::timestamptz`, filter.to);
    if (after) {
      params.push(after.t, after.id);
      where.push(`(occurred_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::bigint)`);
    }
    params.push(limit);
    const rows: AuditEventView[] = await this.dataSource.query(
      `SELECT id::text AS "id",
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "occurredAt",
              kind, agent_id AS "agentId", client_id AS "clientId", request_id AS "requestId",
              session_id AS "sessionId", tool_name AS "toolName", tool_version AS "toolVersion", outcome,
              error_code AS "errorCode", duration_ms AS "durationMs", param_bytes AS "paramBytes",
              result_bytes AS "resultBytes", params_sha256 AS "paramsSha256", remote_addr AS "remoteAddr",
              user_agent AS "userAgent", detail, protocol_version AS "protocolVersion",
              flow_id::text AS "flowId"
         FROM audit_event
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY occurred_at DESC, id DESC
        LIMIT $${params.length}`,
      params,
    );
    return rows;
  }
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

const positionSchema = z.strictObject({
  t: z.iso.datetime({ offset: true, precision: 6 }),
  id: z
    .string()
    .regex(/^\d{1,19}$/)
    .refine((id) => BigInt(id) <= 9_223_372_036_854_775_807n),
});

function decodeCursor(cursor: string): Position | undefined {
  try {
    const parsed = positionSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
